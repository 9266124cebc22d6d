"""What several ``amqp10`` subcommands share: message text, JSON, flags, throughput.

Owns: turning ``--property``/``--app-property`` flags into message fields, a message into a
readable line or a JSON object, and the progress/throughput reporting of long sends and
receives. Must never: open connections (each subcommand does its own).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import decimal
import enum
import json
import sys
import time
import uuid
from typing import Any, TextIO

from ..codec.message import AmqpSequence, AmqpValue, Data, Message
from ..codec.spec import Properties
from ..codec.types import Described, Timestamp

__all__ = [
    "parse_assignment",
    "parse_scalar",
    "properties_from_flags",
    "to_jsonable",
    "message_to_json",
    "message_to_text",
    "Meter",
]

#: fields of the properties section a ``--property`` flag may set (spec 3.2.4)
PROPERTY_FIELDS = tuple(f.name for f in dataclasses.fields(Properties))
_INT_PROPERTIES = {"group_sequence", "absolute_expiry_time", "creation_time"}


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``key=value`` (the value may contain ``=``).

    Raises:
        ValueError: there is no ``=`` or no key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected key=value, got {text!r}")
    return key, value


def parse_scalar(text: str) -> Any:
    """A flag value as the JSON scalar it spells (``42``, ``4.2``, ``true``, ``null``,
    ``"42"``), or else as the text itself (``red``, ``01234``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, (dict, list)):
        return text  # 3.2.5: application properties hold simple values only
    return value


def properties_from_flags(assignments: list[str]) -> Properties | None:
    """Build the properties section from ``--property name=value`` flags.

    Names are the spec's, with ``-`` or ``_`` (``message-id``, ``reply_to``, ...).

    Raises:
        ValueError: an unknown field name or a bad number.
    """
    if not assignments:
        return None
    fields: dict[str, Any] = {}
    for text in assignments:
        key, value = parse_assignment(text)
        name = key.replace("-", "_")
        if name not in PROPERTY_FIELDS:
            raise ValueError(
                f"unknown message property {key!r}; one of: "
                + ", ".join(n.replace("_", "-") for n in PROPERTY_FIELDS)
            )
        if name in _INT_PROPERTIES:
            try:
                fields[name] = int(value)
            except ValueError:
                raise ValueError(f"property {key} needs an integer, got {value!r}") from None
        elif name == "user_id":
            fields[name] = value.encode()
        else:
            fields[name] = value
    return Properties(**fields)


def to_jsonable(value: Any) -> Any:
    """A decoded AMQP value as something ``json.dumps`` takes: binary as
    ``{"binary": base64}``, described values as ``{"descriptor": ..., "value": ...}``,
    timestamps as ISO 8601, UUIDs and decimals as text, symbols as strings."""
    if value is None or isinstance(value, (bool, str)):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Timestamp):
        return value.to_datetime().isoformat()
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, AmqpValue):
        return to_jsonable(value.value)
    if isinstance(value, dict):
        return {str(to_jsonable(k)) if not isinstance(k, str) else str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Described):
        return {"descriptor": to_jsonable(value.descriptor), "value": to_jsonable(value.value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if hasattr(value, "to_decimal"):
        return str(value.to_decimal())
    return repr(value)


def _body_json(body: Any) -> Any:
    if isinstance(body, list) and body and all(isinstance(b, Data) for b in body):
        return {"data": [to_jsonable(bytes(b)) for b in body]}
    if isinstance(body, list) and body and all(isinstance(b, AmqpSequence) for b in body):
        return {"sequence": [to_jsonable(list(b)) for b in body]}
    return to_jsonable(body)


def message_to_json(message: Message) -> dict[str, Any]:
    """The message's present sections as a JSON-ready dict (keys as the attribute names)."""
    out: dict[str, Any] = {}
    for name in ("header", "delivery_annotations", "message_annotations", "properties", "application_properties"):
        value = getattr(message, name)
        if value is not None:
            out[name] = to_jsonable(value)
    if message.body is not None:
        out["body"] = _body_json(message.body)
    if message.footer is not None:
        out["footer"] = to_jsonable(message.footer)
    return out


def message_to_text(message: Message) -> str:
    """A readable rendering: the body first (text as is, others as JSON), then the set
    properties and application properties, one ``name: value`` per line, indented."""
    body = message.body
    if isinstance(body, str):
        head = body
    elif isinstance(body, (bytes, bytearray)):
        shown = bytes(body[:200])
        try:
            text = repr(shown.decode("utf-8"))
        except UnicodeDecodeError:
            text = repr(shown)
        more = "..." if len(body) > len(shown) else ""
        head = f"(binary, {len(body)} bytes) {text}{more}"
    else:
        head = json.dumps(_body_json(body), ensure_ascii=False)
    lines = [head]
    for section in ("header", "properties"):
        value = getattr(message, section)
        if value is not None:
            for key, item in to_jsonable(value).items():
                lines.append(f"  {key.replace('_', '-')}: {item}")
    for section in ("message_annotations", "application_properties"):
        mapping = getattr(message, section)
        if mapping:
            for key, item in mapping.items():
                lines.append(f"  {key}: {json.dumps(to_jsonable(item), ensure_ascii=False)}")
    return "\n".join(lines)


class Meter:
    """Counts messages; prints progress about once a second on a terminal, and a final
    throughput line (``sent 10000 messages in 1.52 s (6579 msg/s)``)."""

    def __init__(self, verb: str, total: int | None, out: TextIO | None = None, *, quiet: bool = False) -> None:
        self.verb = verb
        self.total = total
        self.count = 0
        self.out = out if out is not None else sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()
        self._last = self.started
        self._live = bool(getattr(self.out, "isatty", lambda: False)())

    def tick(self, n: int = 1) -> None:
        """Count ``n`` more messages (and maybe print progress)."""
        self.count += n
        if self.quiet or not self._live:
            return
        now = time.monotonic()
        if now - self._last >= 1.0:
            self._last = now
            of = f"/{self.total}" if self.total else ""
            rate = self.count / max(now - self.started, 1e-9)
            print(f"\r{self.verb} {self.count}{of} ({rate:.0f} msg/s)", end="", file=self.out, flush=True)

    def summary(self) -> str:
        """The final throughput line."""
        elapsed = time.monotonic() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        noun = "message" if self.count == 1 else "messages"
        return f"{self.verb} {self.count} {noun} in {elapsed:.2f} s ({rate:.0f} msg/s)"

    def finish(self) -> None:
        """Print the final line (unless quiet)."""
        if self.quiet:
            return
        if self._live:
            print("\r", end="", file=self.out)
        print(self.summary(), file=self.out, flush=True)
