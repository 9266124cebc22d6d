"""JMS message selectors (the ``apache.org:selector-filter:string`` filter), compiled once.

Owns: turning a selector string into a ``Selector``, a predicate over a message's fields: a
tokenizer, a recursive-descent parser and a compiler to nested closures. The language is the
JMS 2.0 (section 3.8.1) subset every AMQP broker accepts:

- comparison ``= <> < > <= >=``; ``AND``, ``OR``, ``NOT`` and parentheses;
- ``x IS [NOT] NULL``, ``x [NOT] IN ('a', 'b')``, ``x [NOT] LIKE 'a%_' [ESCAPE '!']``,
  ``a [NOT] BETWEEN b AND c``; arithmetic ``+ - * /`` and unary ``+ -``;
- string literals ``'it''s'``, exact (``42``, ``0x2A``) and approximate (``4.2``, ``42E-1``)
  numbers, ``TRUE`` and ``FALSE``; keywords are case-insensitive, identifiers are not.

Three-valued logic as JMS defines it: an identifier naming nothing is NULL; comparison or
arithmetic with NULL is *unknown*; ``AND``/``OR``/``NOT`` follow the SQL truth tables; a
comparison of values of unlike types (a string with a number, ...) is false, and strings and
booleans are compared only with ``=`` and ``<>``; a selector selects a message only when it
evaluates to TRUE. Integer division truncates toward zero; dividing by zero is NULL.

Hostile input is bounded: at most ``MAX_LENGTH`` characters and ``MAX_DEPTH`` levels of
nesting (parentheses, ``NOT``, unary signs and operator chains all count), so neither the
parser nor evaluation can exhaust the stack; anything else wrong is a ``SelectorError`` that
says what and where. Must never: decode a message (the caller resolves identifiers), do I/O or
keep state between evaluations.
"""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["MAX_LENGTH", "MAX_DEPTH", "SelectorError", "Selector", "compile_selector"]

#: the longest selector accepted, in characters
MAX_LENGTH = 4096
#: the deepest expression tree accepted (a bound on recursion while parsing and evaluating)
MAX_DEPTH = 50

#: what an identifier resolves to: ``None`` (NULL), ``bool``, ``int``, ``float`` or ``str``
Value = Any
Resolve = Callable[[str], Value]
_Node = Callable[[Resolve], Value]

_KEYWORDS = frozenset({"NOT", "AND", "OR", "BETWEEN", "LIKE", "IN", "IS", "NULL", "TRUE", "FALSE", "ESCAPE"})
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<hex>0[xX][0-9a-fA-F]+)
  | (?P<approx>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<exact>\d+)
  | (?P<ident>[^\W\d][\w$]*|\$[\w$]*)
  | (?P<op><>|<=|>=|[=<>+\-*/(),])
    """,
    re.VERBOSE,
)


class SelectorError(ValueError):
    """A selector that is not valid: says what is wrong and at which character."""


class _Token:
    __slots__ = ("kind", "value", "pos")

    def __init__(self, kind: str, value: Any, pos: int) -> None:
        self.kind = kind  # "string", "number", "ident", "kw", "op", "end"
        self.value = value
        self.pos = pos

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the selector"
        if self.kind == "string":
            return f"the string {self.value!r}"
        return repr(str(self.value))


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    end = len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] == "'":
                raise SelectorError(f"unterminated string starting at character {pos + 1}")
            raise SelectorError(f"unexpected character {text[pos]!r} at character {pos + 1}")
        kind = match.lastgroup
        raw = match.group()
        if kind == "string":
            tokens.append(_Token("string", raw[1:-1].replace("''", "'"), pos))
        elif kind == "hex":
            tokens.append(_Token("number", int(raw, 16), pos))
        elif kind == "exact":
            try:
                tokens.append(_Token("number", int(raw), pos))
            except ValueError:
                raise SelectorError(f"number too long at character {pos + 1}") from None
        elif kind == "approx":
            tokens.append(_Token("number", float(raw), pos))
        elif kind == "ident":
            upper = raw.upper()
            if upper in _KEYWORDS:
                tokens.append(_Token("kw", upper, pos))
            else:
                tokens.append(_Token("ident", raw, pos))
        elif kind == "op":
            tokens.append(_Token("op", raw, pos))
        pos = match.end()
    tokens.append(_Token("end", None, end))
    return tokens


# -- evaluation helpers (three-valued: None is NULL / unknown) -----------------------------------
def _is_number(value: Any) -> bool:
    return (type(value) is int or type(value) is float) or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    )


def _like_types(a: Any, b: Any) -> bool:
    if _is_number(a):
        return _is_number(b)
    if isinstance(a, bool):
        return isinstance(b, bool)
    if isinstance(a, str):
        return isinstance(b, str)
    return False


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if not _like_types(a, b):
        return False  # JMS 3.8.1.2: comparing unlike types is false
    if op == "=":
        return bool(a == b)
    if op == "<>":
        return bool(a != b)
    if not _is_number(a):
        return False  # strings and booleans: only = and <>
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _truth(value: Any) -> bool | None:
    """A value in a boolean context: TRUE, FALSE, or unknown (NULL and non-booleans)."""
    return value if isinstance(value, bool) else None


def _arith(op: str, a: Any, b: Any) -> Any:
    if not (_is_number(a) and _is_number(b)):
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b)  # Java long division: truncate toward zero
        return quotient if (a < 0) == (b < 0) else -quotient
    return a / b


def _and(nodes: list[_Node]) -> _Node:
    def evaluate(resolve: Resolve) -> Any:
        unknown = False
        for node in nodes:
            value = _truth(node(resolve))
            if value is False:
                return False
            if value is None:
                unknown = True
        return None if unknown else True

    return evaluate


def _or(nodes: list[_Node]) -> _Node:
    def evaluate(resolve: Resolve) -> Any:
        unknown = False
        for node in nodes:
            value = _truth(node(resolve))
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False

    return evaluate


def _not(node: _Node) -> _Node:
    def evaluate(resolve: Resolve) -> Any:
        value = _truth(node(resolve))
        return None if value is None else not value

    return evaluate


def _like_regex(pattern: str, escape: str | None, pos: int) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            following = next(chars, None)
            if following is None:
                raise SelectorError(f"LIKE pattern at character {pos + 1} ends with its escape character")
            out.append(re.escape(following))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers -----------------------------------------------------------------------
    @property
    def token(self) -> _Token:
        return self.tokens[min(self.index, len(self.tokens) - 1)]

    def _advance(self) -> _Token:
        token = self.token
        self.index += 1  # past the end only by a step that a failure then undoes
        return token

    def _is_kw(self, word: str) -> bool:
        token = self.token
        return token.kind == "kw" and token.value == word

    def _is_op(self, op: str) -> bool:
        token = self.token
        return token.kind == "op" and token.value == op

    def _fail(self, expected: str) -> SelectorError:
        token = self.token
        return SelectorError(f"expected {expected} at character {token.pos + 1}, found {token.describe()}")

    def _expect_kw(self, word: str) -> None:
        if not self._is_kw(word):
            raise self._fail(word)
        self._advance()

    def _expect_op(self, op: str) -> None:
        if not self._is_op(op):
            raise self._fail(f"'{op}'")
        self._advance()

    @staticmethod
    def _deeper(depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise SelectorError(f"selector nested deeper than {MAX_DEPTH} levels")
        return depth + 1

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> _Node:
        node = self._or(0)
        if self.token.kind != "end":
            raise self._fail("an operator or the end of the selector")
        return node

    def _or(self, depth: int) -> _Node:
        nodes = [self._and(depth)]
        while self._is_kw("OR"):
            self._advance()
            nodes.append(self._and(depth))
        return nodes[0] if len(nodes) == 1 else _or(nodes)

    def _and(self, depth: int) -> _Node:
        nodes = [self._not(depth)]
        while self._is_kw("AND"):
            self._advance()
            nodes.append(self._not(depth))
        return nodes[0] if len(nodes) == 1 else _and(nodes)

    def _not(self, depth: int) -> _Node:
        if self._is_kw("NOT"):
            self._advance()
            return _not(self._not(self._deeper(depth)))
        return self._predicate(depth)

    def _predicate(self, depth: int) -> _Node:
        start = self.index
        left = self._sum(depth)
        single = self.tokens[start].kind == "ident" and self.index == start + 1
        token = self.token
        if token.kind == "op" and token.value in ("=", "<>", "<", ">", "<=", ">="):
            self._advance()
            op = token.value
            right = self._sum(depth)
            return lambda resolve: _compare(op, left(resolve), right(resolve))
        negate = False
        if self._is_kw("NOT"):
            self._advance()
            negate = True
            if not (self._is_kw("BETWEEN") or self._is_kw("IN") or self._is_kw("LIKE")):
                raise self._fail("BETWEEN, IN or LIKE after NOT")
        if self._is_kw("BETWEEN"):
            self._advance()
            low = self._sum(depth)
            self._expect_kw("AND")
            high = self._sum(depth)

            def between(resolve: Resolve) -> Any:
                value = left(resolve)
                inside = _and([lambda r: _compare(">=", value, low(r)), lambda r: _compare("<=", value, high(r))])
                return inside(resolve)

            return _not(between) if negate else between
        if self._is_kw("IN"):
            self._need_identifier(single, "IN")
            self._advance()
            values = self._literal_list()

            def within(resolve: Resolve) -> Any:
                value = left(resolve)
                if value is None:
                    return None
                return any(_compare("=", value, item) is True for item in values)

            return _not(within) if negate else within
        if self._is_kw("LIKE"):
            self._need_identifier(single, "LIKE")
            self._advance()
            pattern_token = self._advance()
            if pattern_token.kind != "string":
                self.index -= 1
                raise self._fail("a string pattern after LIKE")
            escape: str | None = None
            if self._is_kw("ESCAPE"):
                self._advance()
                escape_token = self._advance()
                if escape_token.kind != "string" or len(escape_token.value) != 1:
                    raise SelectorError(
                        f"ESCAPE at character {escape_token.pos + 1} needs a string of exactly one character"
                    )
                escape = escape_token.value
            regex = _like_regex(pattern_token.value, escape, pattern_token.pos)

            def like(resolve: Resolve) -> Any:
                value = left(resolve)
                if value is None:
                    return None
                return isinstance(value, str) and regex.fullmatch(value) is not None

            return _not(like) if negate else like
        if self._is_kw("IS"):
            self._need_identifier(single, "IS NULL")
            self._advance()
            is_not = False
            if self._is_kw("NOT"):
                self._advance()
                is_not = True
            self._expect_kw("NULL")
            if is_not:
                return lambda resolve: left(resolve) is not None
            return lambda resolve: left(resolve) is None
        return left

    def _need_identifier(self, single: bool, what: str) -> None:
        # JMS: the left side of IN, LIKE and IS NULL is a single identifier.
        if not single:
            raise SelectorError(f"{what} at character {self.token.pos + 1} must follow a single identifier")

    def _literal_list(self) -> list[Any]:
        self._expect_op("(")
        values: list[Any] = []
        while True:
            negative = False
            if self._is_op("-") or self._is_op("+"):
                negative = self._advance().value == "-"
            token = self._advance()
            if token.kind in ("string", "number") and not (negative and token.kind == "string"):
                values.append(-token.value if negative else token.value)
            elif token.kind == "kw" and token.value in ("TRUE", "FALSE") and not negative:
                values.append(token.value == "TRUE")
            else:
                self.index -= 1
                raise self._fail("a literal in the IN list")
            if self._is_op(","):
                self._advance()
                continue
            self._expect_op(")")
            return values

    def _sum(self, depth: int) -> _Node:
        node = self._product(depth)
        while self._is_op("+") or self._is_op("-"):
            op = self._advance().value
            depth = self._deeper(depth)  # a chain is a left-deep tree: each link counts
            node = self._binary(op, node, self._product(depth))
        return node

    def _product(self, depth: int) -> _Node:
        node = self._unary(depth)
        while self._is_op("*") or self._is_op("/"):
            op = self._advance().value
            depth = self._deeper(depth)
            node = self._binary(op, node, self._unary(depth))
        return node

    @staticmethod
    def _binary(op: str, left: _Node, right: _Node) -> _Node:
        return lambda resolve: _arith(op, left(resolve), right(resolve))

    def _unary(self, depth: int) -> _Node:
        if self._is_op("-") or self._is_op("+"):
            depth = self._deeper(depth)
        if self._is_op("-"):
            self._advance()
            operand = self._unary(depth)
            return lambda resolve: _arith("-", 0, operand(resolve))
        if self._is_op("+"):
            self._advance()
            operand = self._unary(depth)
            return lambda resolve: _arith("+", 0, operand(resolve))
        return self._primary(depth)

    def _primary(self, depth: int) -> _Node:
        token = self._advance()
        if token.kind in ("string", "number"):
            value = token.value
            return lambda resolve: value
        if token.kind == "kw" and token.value in ("TRUE", "FALSE"):
            flag = token.value == "TRUE"
            return lambda resolve: flag
        if token.kind == "kw" and token.value == "NULL":
            raise SelectorError(f"NULL at character {token.pos + 1} is only allowed in IS [NOT] NULL")
        if token.kind == "ident":
            name = token.value
            return lambda resolve: resolve(name)
        if token.kind == "op" and token.value == "(":
            node = self._or(self._deeper(depth))
            self._expect_op(")")
            return node
        self.index -= 1
        raise self._fail("a value, an identifier or '('")


class Selector:
    """A compiled selector: call ``matches`` with a function resolving identifiers.

    Attributes:
        expression: the selector text it was compiled from.
    """

    __slots__ = ("expression", "_root")

    def __init__(self, expression: str, root: _Node) -> None:
        self.expression = expression
        self._root = root

    def __repr__(self) -> str:
        return f"Selector({self.expression!r})"

    def evaluate(self, resolve: Resolve) -> bool | None:
        """The selector's truth value: ``True``, ``False`` or ``None`` (unknown)."""
        return _truth(self._root(resolve))

    def matches(self, resolve: Resolve) -> bool:
        """Whether a message whose identifiers ``resolve`` gives is selected (TRUE only)."""
        return _truth(self._root(resolve)) is True


def compile_selector(expression: str) -> Selector:
    """Parse and compile a JMS selector.

    Args:
        expression: the selector text, at most ``MAX_LENGTH`` characters. An empty (or
            all-blank) selector selects every message, as JMS says.

    Raises:
        SelectorError: the selector is too long, nested too deeply, or not valid; the
            message says what and at which character.
    """
    if not isinstance(expression, str):
        raise SelectorError(f"a selector is a string, not {type(expression).__name__}")
    if len(expression) > MAX_LENGTH:
        raise SelectorError(f"selector longer than {MAX_LENGTH} characters ({len(expression)})")
    if not expression.strip():
        return Selector(expression, lambda resolve: True)
    return Selector(expression, _Parser(expression).parse())
