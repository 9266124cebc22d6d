"""Source filters the embedded peer applies (spec 3.5.3 ``filter``, 3.5.8 filter-set).

Owns: reading a receiver's filter set into a ``SourceFilters`` (which entries are in force, and
a predicate over a stored message), and the few message fields filters look at
(``MessageFields``: header, properties and application-properties, decoded once per message
and only when a filter asks). The filter types are those of the Apache registry
(https://svn.apache.org/repos/asf/qpid/trunk/qpid/specs/apache-filters.xml), each known by its
symbol or its numeric code:

- ``apache.org:selector-filter:string`` (0x0000468C:0x00000004): a JMS selector over header
  fields, properties and application-properties (``selector.py``). The JMS header names are
  mapped as the Qpid JMS client maps them: ``JMSMessageID`` message-id, ``JMSCorrelationID``
  correlation-id, ``JMSType`` subject, ``JMSPriority`` priority (4 when absent),
  ``JMSTimestamp`` creation-time, ``JMSExpiration`` absolute-expiry-time,
  ``JMSDeliveryMode`` ``'PERSISTENT'``/``'NON_PERSISTENT'`` from durable, ``JMSDestination``
  to, ``JMSReplyTo`` reply-to, ``JMSRedelivered`` delivery-count > 0, ``JMSXDeliveryCount``
  delivery-count + 1, ``JMSXUserID`` user-id, ``JMSXGroupID`` group-id, ``JMSXGroupSeq``
  group-sequence. Any other identifier names an application property.
- ``apache.org:legacy-amqp-direct-binding:string`` (0x0000468C:0x00000000): the subject
  equals the given string.
- ``apache.org:legacy-amqp-topic-binding:string`` (0x0000468C:0x00000001): the subject
  matches an AMQP 0-10 topic pattern: ``.``-separated words, ``*`` one word, ``#`` zero or
  more words.
- ``apache.org:no-local-filter:list`` (0x0000468C:0x00000003): not the messages sent on the
  receiver's own connection.

Any other entry is not applied, and so left out of the ATTACH answer (3.5.3: the receiving
end's filter field lists the filters actually in force). Must never: do I/O, touch an engine,
or decode a message body.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Callable, Mapping

from ..codec import DecodeError, Limits, decode_prefix, split_sections
from ..codec.spec import Header, Properties
from ..codec.types import Described
from .nodes import StoredMessage
from .selector import Selector, SelectorError, compile_selector

__all__ = [
    "SELECTOR_FILTER",
    "DIRECT_BINDING_FILTER",
    "TOPIC_BINDING_FILTER",
    "NO_LOCAL_FILTER",
    "FilterError",
    "MessageFields",
    "SourceFilters",
    "topic_pattern_matches",
]

log = logging.getLogger("amqp10.peer")

_DOMAIN = 0x0000468C << 32
#: the JMS selector filter: (symbol, numeric code)
SELECTOR_FILTER = ("apache.org:selector-filter:string", _DOMAIN | 0x00000004)
#: exact match on subject
DIRECT_BINDING_FILTER = ("apache.org:legacy-amqp-direct-binding:string", _DOMAIN | 0x00000000)
#: AMQP 0-10 topic pattern on subject
TOPIC_BINDING_FILTER = ("apache.org:legacy-amqp-topic-binding:string", _DOMAIN | 0x00000001)
#: not the messages of the receiver's own connection
NO_LOCAL_FILTER = ("apache.org:no-local-filter:list", _DOMAIN | 0x00000003)

_KNOWN = {name: kind for kind in (SELECTOR_FILTER, DIRECT_BINDING_FILTER, TOPIC_BINDING_FILTER, NO_LOCAL_FILTER) for name in kind}

# 3.2 section codes, and their symbolic forms.
_HEADER, _PROPERTIES, _APPLICATION_PROPERTIES = 0x70, 0x73, 0x74
_SECTION_NAMES = {
    "amqp:header:list": 0x70,
    "amqp:delivery-annotations:map": 0x71,
    "amqp:message-annotations:map": 0x72,
    "amqp:properties:list": 0x73,
    "amqp:application-properties:map": 0x74,
}
_SECTION_LIMITS = Limits(max_depth=16, max_count=1 << 14, max_string_size=1 << 20)
#: the longest topic pattern or subject matched word by word (bounds the matcher's work)
_MAX_WORDS = 256


class FilterError(ValueError):
    """A filter this peer knows whose value is not valid (the attach is refused with
    ``amqp:invalid-field``)."""


def _plain(value: Any) -> Any:
    """An AMQP value as the selector compares it: bool, int, float, str, or left as it is."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _id_text(value: Any) -> str | None:
    """A message-id or correlation-id as the JMS string a selector compares."""
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(int(value)) if isinstance(value, int) else str(value)


def _section_code(descriptor: Any) -> int:
    if isinstance(descriptor, str):
        return _SECTION_NAMES.get(descriptor, 0x7F)
    return int(descriptor)


class MessageFields:
    """The header, properties and application-properties of one stored message, decoded once.

    A message whose sections cannot be decoded has none of them (every identifier is NULL),
    so no selector matches it; it is never an error for the receiver.
    """

    __slots__ = ("header", "properties", "application_properties")

    def __init__(self, payload: bytes | memoryview) -> None:
        self.header: Header | None = None
        self.properties: Properties | None = None
        self.application_properties: Mapping[Any, Any] = {}
        view = memoryview(payload)
        try:
            for descriptor, start, end in split_sections(view):
                code = _section_code(descriptor)
                if code > _APPLICATION_PROPERTIES:
                    break  # 3.2: the body and footer come after; never decoded here
                if code not in (_HEADER, _PROPERTIES, _APPLICATION_PROPERTIES):
                    continue
                value, _ = decode_prefix(view[start:end], _SECTION_LIMITS)
                if code == _HEADER and isinstance(value, Header):
                    self.header = value
                elif code == _PROPERTIES and isinstance(value, Properties):
                    self.properties = value
                elif code == _APPLICATION_PROPERTIES:
                    inner = getattr(value, "value", value)
                    if isinstance(inner, dict):
                        self.application_properties = inner
        except DecodeError as exc:
            log.info("a filter cannot read a message's sections: %s", exc)
            self.header = None
            self.properties = None
            self.application_properties = {}

    @classmethod
    def of(cls, message: StoredMessage) -> MessageFields:
        """The fields of ``message``, decoded on first use and kept on it."""
        fields = message.fields
        if not isinstance(fields, MessageFields):
            fields = cls(message.payload)
            message.fields = fields
        return fields

    @property
    def subject(self) -> str | None:
        """properties.subject, or ``None``."""
        props = self.properties
        return None if props is None or props.subject is None else str(props.subject)

    def resolve(self, name: str) -> Any:
        """The value a selector identifier names (``None``: NULL)."""
        getter = _JMS_NAMES.get(name)
        if getter is not None:
            return getter(self)
        return _plain(self.application_properties.get(name))


def _prop(attr: str, convert: Callable[[Any], Any] = _plain) -> Callable[[MessageFields], Any]:
    def get(fields: MessageFields) -> Any:
        props = fields.properties
        value = None if props is None else getattr(props, attr)
        return None if value is None else convert(value)

    return get


def _header(fields: MessageFields, attr: str) -> Any:
    header = fields.header
    return None if header is None else getattr(header, attr)


def _user_id(value: Any) -> Any:
    return bytes(value).decode("utf-8", "replace")


_JMS_NAMES: dict[str, Callable[[MessageFields], Any]] = {
    "JMSMessageID": _prop("message_id", _id_text),
    "JMSCorrelationID": _prop("correlation_id", _id_text),
    "JMSType": _prop("subject", str),
    "JMSDestination": _prop("to", str),
    "JMSReplyTo": _prop("reply_to", str),
    "JMSTimestamp": _prop("creation_time", int),
    "JMSExpiration": _prop("absolute_expiry_time", int),
    "JMSXUserID": _prop("user_id", _user_id),
    "JMSXGroupID": _prop("group_id", str),
    "JMSXGroupSeq": _prop("group_sequence", int),
    "JMSPriority": lambda f: 4 if _header(f, "priority") is None else int(_header(f, "priority")),
    "JMSDeliveryMode": lambda f: "PERSISTENT" if _header(f, "durable") else "NON_PERSISTENT",
    "JMSRedelivered": lambda f: bool(_header(f, "delivery_count")),
    "JMSXDeliveryCount": lambda f: int(_header(f, "delivery_count") or 0) + 1,
}


def topic_pattern_matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` matches an AMQP 0-10 topic binding ``pattern``: words split on
    ``.``, ``*`` stands for exactly one word and ``#`` for zero or more."""
    words = subject.split(".")
    parts = pattern.split(".")
    if len(words) > _MAX_WORDS or len(parts) > _MAX_WORDS:
        return False
    # reachable[j]: the pattern so far can match the first j words.
    reachable = [True] + [False] * len(words)
    for part in parts:
        if part == "#":
            nxt = reachable[:]
            for j in range(1, len(words) + 1):
                nxt[j] = nxt[j] or nxt[j - 1]
        else:
            nxt = [False] * (len(words) + 1)
            for j in range(1, len(words) + 1):
                nxt[j] = reachable[j - 1] and (part == "*" or part == words[j - 1])
        reachable = nxt
    return reachable[len(words)]


class SourceFilters:
    """The filters in force on one receiver's source.

    Attributes:
        applied: the filter-set entries this peer applies, as the client sent them (what the
            ATTACH answer's source lists); ``None`` when there are none.
        selector: the compiled JMS selector, if any.
        no_local: the no-local filter is in force.
    """

    __slots__ = ("applied", "selector", "no_local", "_subjects", "_patterns", "_connection")

    def __init__(self, filter_set: Mapping[Any, Any] | None, connection: object) -> None:
        """Read ``filter_set`` (the source's ``filter`` field) for a receiver on ``connection``.

        Raises:
            FilterError: a known filter whose value is not valid (a malformed selector, a
                binding that is not a string); the message names the entry and the problem.
        """
        applied: dict[Any, Any] = {}
        self.selector: Selector | None = None
        self.no_local = False
        self._subjects: list[str] = []
        self._patterns: list[str] = []
        self._connection = connection
        for key, value in (filter_set or {}).items():
            if not isinstance(value, Described):
                continue
            descriptor = value.descriptor
            kind = _KNOWN.get(str(descriptor) if isinstance(descriptor, str) else int(descriptor))
            if kind is None:
                continue  # not a filter we apply: left out of the answer
            if kind is NO_LOCAL_FILTER:
                self.no_local = True
            elif not isinstance(value.value, str):
                raise FilterError(f"filter {str(key)!r} ({kind[0]}) needs a string value, not {type(value.value).__name__}")
            elif kind is SELECTOR_FILTER:
                if self.selector is not None:
                    raise FilterError(f"filter {str(key)!r}: only one selector filter may be given")
                try:
                    self.selector = compile_selector(str(value.value))
                except SelectorError as exc:
                    raise FilterError(f"filter {str(key)!r}: invalid selector: {exc}") from None
            elif kind is DIRECT_BINDING_FILTER:
                self._subjects.append(str(value.value))
            else:
                self._patterns.append(str(value.value))
            applied[key] = value
        self.applied: dict[Any, Any] | None = applied or None

    def __bool__(self) -> bool:
        return self.applied is not None

    def accepts(self, message: StoredMessage) -> bool:
        """Whether every filter in force lets ``message`` through."""
        if self.no_local and message.origin is self._connection:
            return False
        if self._subjects or self._patterns or self.selector is not None:
            fields = MessageFields.of(message)
            if self._subjects or self._patterns:
                subject = fields.subject
                if subject is None:
                    return False
                if any(subject != wanted for wanted in self._subjects):
                    return False
                if not all(topic_pattern_matches(pattern, subject) for pattern in self._patterns):
                    return False
            if self.selector is not None and not self.selector.matches(fields.resolve):
                return False
        return True
