"""JMS selectors (``amqp10.peer.selector``): the language, three-valued logic, bounds, and a
hypothesis comparison against a small reference evaluator written from the JMS rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqp10.codec.message import Message
from amqp10.codec.spec import Header, Properties
from amqp10.peer.filters import MessageFields, topic_pattern_matches
from amqp10.peer.nodes import StoredMessage
from amqp10.peer.selector import MAX_DEPTH, MAX_LENGTH, SelectorError, compile_selector

PROPS: dict[str, Any] = {"n": 5, "x": 2.5, "s": "red", "t": "it's", "f": True, "g": False, "z": 0}


def _eval(text: str, props: dict[str, Any] | None = None) -> bool | None:
    values = PROPS if props is None else props
    return compile_selector(text).evaluate(values.get)


# -- the language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("n = 5", True),
        ("n <> 5", False),
        ("n > 4 AND n >= 5 AND n < 6 AND n <= 5", True),
        ("x = 2.5 AND n = 5.0", True),  # exact and approximate numbers compare
        ("s = 'red'", True),
        ("t = 'it''s'", True),  # '' is a quote inside a string literal
        ("f", True),
        ("f = TRUE AND g = false", True),  # keywords are case-insensitive
        ("N = 5", None),  # identifiers are not: N names nothing
        ("n + 1 = 6 AND n - 1 = 4 AND n * 2 = 10 AND n / 2 = 2", True),
        ("1 + 2 * 3 = 7", True),  # * binds tighter than +
        ("(1 + 2) * 3 = 9", True),
        ("-n = -5 AND +n = 5 AND - -n = 5", True),
        ("-7 / 2 = -3 AND 7 / -2 = -3", True),  # integer division truncates toward zero
        ("7.0 / 2 = 3.5", True),
        ("0x1F = 31 AND 1.5E1 = 15 AND .5 = 0.5", True),
        ("n = 1 OR n = 5 AND s = 'blue'", False),  # AND binds tighter than OR
        ("(n = 1 OR n = 5) AND s = 'red'", True),
        ("NOT n = 1 AND s = 'red'", True),  # NOT binds tighter than AND
        ("n BETWEEN 5 AND 6 AND n BETWEEN 4 AND 5", True),  # inclusive both ends
        ("n NOT BETWEEN 6 AND 9", True),
        ("s IN ('blue', 'red')", True),
        ("s NOT IN ('blue', 'green')", True),
        ("n IN (4, 5)", True),
        ("s LIKE 'r%'", True),
        ("s LIKE '_e_'", True),
        ("s LIKE 're'", False),  # the whole value must match
        ("s NOT LIKE 'b%'", True),
        ("t LIKE 'it''s'", True),
        ("missing IS NULL AND n IS NOT NULL", True),
        ("", True),  # an empty selector selects everything
    ],
)
def test_selector_evaluates(text: str, expected: bool | None) -> None:
    assert _eval(text) is expected


def test_selector_LIKE_escape_makes_wildcards_literal() -> None:
    props = {"p": "50%_off", "q": "50 off"}
    assert _eval("p LIKE '50!%!_off' ESCAPE '!'", props) is True
    assert _eval("q LIKE '50!%!_off' ESCAPE '!'", props) is False
    assert _eval("q LIKE '50%off'", props) is True
    assert _eval("p LIKE '%\\_%' ESCAPE '\\'", props) is True
    assert _eval("m LIKE '%'", {"m": "a\nb"}) is True  # % crosses line breaks


# -- three-valued logic (JMS 3.8.1.2) -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("missing = 1", None),
        ("NOT missing = 1", None),
        ("missing = 1 AND n = 5", None),
        ("missing = 1 AND n = 4", False),
        ("missing = 1 OR n = 5", True),
        ("missing = 1 OR n = 4", None),
        ("missing + 1 = 1", None),
        ("n / z IS NULL", "error"),  # IS NULL takes an identifier
        ("n / z = 1", None),  # division by zero is NULL
        ("missing IN ('a')", None),
        ("missing NOT IN ('a')", None),
        ("missing LIKE 'a'", None),
        ("missing NOT LIKE 'a'", None),
        ("missing BETWEEN 1 AND 2", None),
        ("n BETWEEN missing AND 9", None),
        ("n BETWEEN 6 AND missing", False),  # false AND unknown is false
        ("s = 5", False),  # unlike types compare false, not unknown
        ("NOT s = 5", True),
        ("s < 'z'", False),  # strings compare only with = and <>
        ("f > g", False),  # so do booleans
        ("s + 1 = 1", None),  # arithmetic on a string is NULL
        ("n", None),  # a number is not a condition
        ("n LIKE '5'", False),  # LIKE on a non-string
    ],
)
def test_selector_three_valued_logic(text: str, expected: Any) -> None:
    if expected == "error":
        with pytest.raises(SelectorError):
            compile_selector(text)
        return
    assert _eval(text) is expected


def test_selector_matches_only_when_TRUE() -> None:
    selector = compile_selector("missing = 1")
    assert selector.evaluate({}.get) is None
    assert selector.matches({}.get) is False
    assert compile_selector("NOT missing = 1").matches({}.get) is False


# -- errors and bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour = 'red", "unterminated string starting at character 10"),
        ("n = = 1", "expected a value, an identifier or '(' at character 5"),
        ("n =", "found the end of the selector"),
        ("a # b", "unexpected character '#' at character 3"),
        ("(n = 1", "expected ')'"),
        ("n = 1)", "expected an operator or the end of the selector at character 6"),
        ("n IN 1", "expected '('"),
        ("n IN ()", "a literal in the IN list"),
        ("n IN (m)", "a literal in the IN list"),
        ("n + 1 IN (1)", "IN at character 7 must follow a single identifier"),
        ("'a' LIKE 'a'", "LIKE at character 5 must follow a single identifier"),
        ("s LIKE n", "a string pattern after LIKE"),
        ("s LIKE 'a' ESCAPE 'ab'", "exactly one character"),
        ("s LIKE 'a!' ESCAPE '!'", "ends with its escape character"),
        ("n NOT = 1", "BETWEEN, IN or LIKE after NOT"),
        ("n BETWEEN 1", "expected AND"),
        ("n IS 1", "expected NULL"),
        ("NULL = n", "only allowed in IS [NOT] NULL"),
        ("NOT", "expected a value"),
        ("AND n = 1", "expected a value"),
        ("9" * 5000, f"longer than {MAX_LENGTH} characters"),
    ],
)
def test_selector_errors_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=None) as caught:
        compile_selector(text)
    assert message in str(caught.value)


def test_selector_error_is_a_ValueError() -> None:
    assert issubclass(SelectorError, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        lambda k: "(" * k + "n = 1" + ")" * k,
        lambda k: "NOT " * k + "n = 1",
        lambda k: "-" * k + "n = 1",
        lambda k: "1" + " + 1" * k + " = 1",
        lambda k: "1" + " * 1" * k + " = 1",
    ],
)
def test_selector_nesting_is_bounded(make: Any) -> None:
    compile_selector(make(MAX_DEPTH - 1))
    with pytest.raises(SelectorError, match=f"nested deeper than {MAX_DEPTH} levels"):
        compile_selector(make(MAX_DEPTH + 1))
    with pytest.raises(SelectorError):
        compile_selector(make(2000)[:MAX_LENGTH])  # hostile: a clear error, no RecursionError


def test_selector_long_AND_and_OR_chains_are_flat_and_evaluate() -> None:
    chain = " AND ".join(["n=5"] * 500)  # far deeper than MAX_DEPTH if it nested
    assert len(chain) < MAX_LENGTH
    assert _eval(chain) is True
    assert _eval(" OR ".join(["n=4"] * 500 + ["n=5"])) is True


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abn0159.'()=<>+-*/%_ ,NOTANDORISLIKEBETWEENULLESCAPE\n", max_size=80))
def test_selector_any_text_compiles_or_raises_SelectorError(text: str) -> None:
    try:
        selector = compile_selector(text)
    except SelectorError:
        return
    assert selector.evaluate({"a": 1, "b": "x", "n": None}.get) in (True, False, None)


# -- hypothesis: against a reference evaluator ----------------------------------------------------
#
# Expressions are generated as small trees, rendered fully parenthesised (precedence is tested
# above), and evaluated twice: by the compiled selector and by ``_ref`` below, written directly
# from the JMS rules with explicit truth tables.

_VALUES: dict[str, Any] = {"i": 3, "j": -2, "r": 1.5, "s": "ab", "u": "ba", "f": True, "g": False}
_NAMES = [*_VALUES, "nothing"]


@dataclass(frozen=True)
class E:
    kind: str
    args: tuple[Any, ...]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    return "num" if _num(v) else "bool" if isinstance(v, bool) else "str"


_AND = {(True, True): True, (True, None): None, (None, True): None, (None, None): None}
_OR = {(False, False): False, (False, None): None, (None, False): None, (None, None): None}


def _like_ref(value: str, pattern: str) -> bool:
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "%":
        return any(_like_ref(value[k:], rest) for k in range(len(value) + 1))
    if not value:
        return False
    return (head == "_" or head == value[0]) and _like_ref(value[1:], rest)


def _cmp_ref(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if _kind(a) != _kind(b):
        return False
    if _kind(a) != "num" and op not in ("=", "<>"):
        return False
    return {"=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _ref(e: E) -> Any:
    k, a = e.kind, e.args
    if k == "lit":
        return a[0]
    if k == "id":
        return _VALUES.get(a[0])
    if k == "neg":
        v = _ref(a[0])
        return -v if _num(v) else None
    if k == "arith":
        x, y = _ref(a[1]), _ref(a[2])
        if not (_num(x) and _num(y)):
            return None
        if a[0] == "/":
            if y == 0:
                return None
            if isinstance(x, int) and isinstance(y, int):
                q = abs(x) // abs(y)
                return q if (x < 0) == (y < 0) else -q
            return x / y
        return {"+": x + y, "-": x - y, "*": x * y}[a[0]]
    if k == "cmp":
        return _cmp_ref(a[0], _ref(a[1]), _ref(a[2]))
    if k in ("and", "or"):
        x, y = _ref(a[0]), _ref(a[1])
        x = x if isinstance(x, bool) else None
        y = y if isinstance(y, bool) else None
        if k == "and":
            return False if False in (x, y) else _AND[(x, y)]
        return True if True in (x, y) else _OR[(x, y)]
    if k == "not":
        x = _ref(a[0])
        return (not x) if isinstance(x, bool) else None
    if k == "isnull":
        return (_VALUES.get(a[0]) is None) != a[1]
    if k == "between":
        v, lo, hi = _ref(a[0]), _ref(a[1]), _ref(a[2])
        x, y = _cmp_ref(">=", v, lo), _cmp_ref("<=", v, hi)
        r = False if False in (x, y) else _AND[(x, y)]
        return r if not a[3] or r is None else not r
    if k == "in":
        v = _VALUES.get(a[0])
        if v is None:
            return None
        r = any(_cmp_ref("=", v, item) is True for item in a[1])
        return not r if a[2] else r
    if k == "like":
        v = _VALUES.get(a[0])
        if v is None:
            return None
        r = isinstance(v, str) and _like_ref(v, a[1])
        return not r if a[2] else r
    raise AssertionError(k)


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def _render(e: E) -> str:
    k, a = e.kind, e.args
    if k == "lit":
        return _literal(a[0])
    if k == "id":
        return a[0]
    if k == "neg":
        return f"(-{_render(a[0])})"
    if k in ("arith", "cmp"):
        return f"({_render(a[1])} {a[0]} {_render(a[2])})"
    if k in ("and", "or"):
        return f"({_render(a[0])} {k.upper()} {_render(a[1])})"
    if k == "not":
        return f"(NOT {_render(a[0])})"
    if k == "isnull":
        return f"({a[0]} IS {'NOT ' if a[1] else ''}NULL)"
    if k == "between":
        return f"({_render(a[0])} {'NOT ' if a[3] else ''}BETWEEN {_render(a[1])} AND {_render(a[2])})"
    if k == "in":
        return f"({a[0]} {'NOT ' if a[2] else ''}IN ({', '.join(_literal(v) for v in a[1])}))"
    if k == "like":
        return f"({a[0]} {'NOT ' if a[2] else ''}LIKE {_literal(a[1])})"
    raise AssertionError(k)


_literals = st.one_of(
    st.integers(-4, 4), st.sampled_from([0.5, -1.5, 2.0]), st.sampled_from(["ab", "ba", "", "a'b"]), st.booleans()
)
_operands = st.recursive(
    st.one_of(_literals.map(lambda v: E("lit", (v,))), st.sampled_from(_NAMES).map(lambda n: E("id", (n,)))),
    lambda inner: st.one_of(
        inner.map(lambda x: E("neg", (x,))),
        st.tuples(st.sampled_from("+-*/"), inner, inner).map(lambda t: E("arith", t)),
    ),
    max_leaves=4,
)
_simple = st.one_of(
    st.tuples(st.sampled_from(["=", "<>", "<", ">", "<=", ">="]), _operands, _operands).map(lambda t: E("cmp", t)),
    st.tuples(st.sampled_from(_NAMES), st.booleans()).map(lambda t: E("isnull", t)),
    st.tuples(_operands, _operands, _operands, st.booleans()).map(lambda t: E("between", t)),
    st.tuples(st.sampled_from(_NAMES), st.lists(_literals, min_size=1, max_size=3).map(tuple), st.booleans()).map(
        lambda t: E("in", t)
    ),
    st.tuples(st.sampled_from(_NAMES), st.text(alphabet="ab%_", max_size=4), st.booleans()).map(lambda t: E("like", t)),
    st.sampled_from(["f", "g", "nothing"]).map(lambda n: E("id", (n,))),
    st.booleans().map(lambda v: E("lit", (v,))),
)
_conditions = st.recursive(
    _simple,
    lambda inner: st.one_of(
        inner.map(lambda x: E("not", (x,))),
        st.tuples(inner, inner).map(lambda t: E("and", t)),
        st.tuples(inner, inner).map(lambda t: E("or", t)),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(_conditions)
def test_selector_agrees_with_a_reference_evaluation(expression: E) -> None:
    text = _render(expression)
    expected = _ref(expression)
    expected = expected if isinstance(expected, bool) else None
    assert compile_selector(text).evaluate(_VALUES.get) is expected, text


# -- the message fields a selector sees -----------------------------------------------------------


def _fields(message: Message) -> MessageFields:
    return MessageFields.of(StoredMessage(message.encode()))


def test_MessageFields_maps_JMS_header_names_to_header_and_properties() -> None:
    fields = _fields(
        Message(
            "body",
            header=Header(durable=True, priority=7, delivery_count=2),
            properties=Properties(
                message_id="m-1",
                correlation_id=42,
                subject="order",
                to="q",
                reply_to="r",
                creation_time=1700000000000,
                user_id=b"alice",
                group_id="g",
                group_sequence=3,
            ),
            application_properties={"colour": "red", "JMSType": "shadowed"},
        )
    )
    expected = {
        "JMSMessageID": "m-1",
        "JMSCorrelationID": "42",
        "JMSType": "order",
        "JMSDestination": "q",
        "JMSReplyTo": "r",
        "JMSTimestamp": 1700000000000,
        "JMSPriority": 7,
        "JMSDeliveryMode": "PERSISTENT",
        "JMSRedelivered": True,
        "JMSXDeliveryCount": 3,
        "JMSXUserID": "alice",
        "JMSXGroupID": "g",
        "JMSXGroupSeq": 3,
        "colour": "red",
        "nothing": None,
        "JMSExpiration": None,
    }
    assert {name: fields.resolve(name) for name in expected} == expected


def test_MessageFields_defaults_for_a_message_without_header_or_properties() -> None:
    fields = _fields(Message("bare"))
    assert fields.resolve("JMSPriority") == 4
    assert fields.resolve("JMSDeliveryMode") == "NON_PERSISTENT"
    assert fields.resolve("JMSRedelivered") is False
    assert fields.resolve("JMSXDeliveryCount") == 1
    assert fields.resolve("JMSMessageID") is None


def test_MessageFields_of_an_undecodable_message_has_every_identifier_NULL() -> None:
    fields = MessageFields.of(StoredMessage(b"\x00\x53\x74\xd1\xff\xff\xff\xff"))
    assert fields.resolve("colour") is None
    assert not compile_selector("colour IS NOT NULL").matches(fields.resolve)


@pytest.mark.parametrize(
    "pattern, subject, expected",
    [
        ("a.b.c", "a.b.c", True),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.c", False),
        ("a.*", "a.b.c", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("#.c", "a.b.c", True),
        ("#", "anything.at.all", True),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("a.#.c", "a.x.y.d", False),
        ("*.#.*", "a", False),
        ("*.#.*", "a.b", True),
    ],
)
def test_topic_pattern_matches_words_with_star_and_hash(pattern: str, subject: str, expected: bool) -> None:
    assert topic_pattern_matches(pattern, subject) is expected
