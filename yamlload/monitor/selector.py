"""The selector language of config.monitor's metrics (issue 17): a small, documented
subset of PromQL that turns one scrape of a Prometheus endpoint into one number.

    cpu_percent: rate(process_cpu_seconds_total) * 100
    connections: sum(pg_stat_activity_count{state="active"})
    memory_mb:   process_resident_memory_bytes / 1e6

A metric name with optional matchers `{label="v", label!="v", label=~"re", label!~"re"}`
(a missing label is "", regular expressions are anchored at both ends, as Prometheus');
`sum(...)` (also what a bare selector matching several series gives), `max(...)`,
`min(...)`, `rate(...)` (per second between this scrape and the previous one, per series;
a counter that went down was reset and counts from 0); `+ - * /` with numbers (`1e6`)
and parentheses, with the usual precedence.

`parse` is a hand-written recursive-descent parser; a mistake is a `SelectorError` with
the 1-based column in the text, so that `validate` can point at it. `Expr.evaluate` never
raises: no matching series, a rate without an earlier scrape, a division by zero or a
result that is not finite give None. NaN samples are left out, as if absent.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .exposition import Sample, Series

KNOWN_FUNCTIONS = ("sum", "max", "min", "rate")
# A larger value (or NaN, ±Inf) is no value: no real metric is this large, and a
# period's sum of a few would overflow to inf, which no JSON report can hold.
MAX_ABS_VALUE = 1e30
# Longer selectors and deeper nesting are refused (a plan is read from a file we trust
# less than ourselves; recursion must not overflow).
MAX_SELECTOR_CHARS = 1000
MAX_DEPTH = 32

# What a scrape gives a selector: samples grouped by metric name (Exposition.by_name).
Samples = Mapping[str, Sequence[Sample]]
Vector = dict[Series, float]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[a-zA-Z0-9_.:]+")
_OPERATORS = ("!=", "=~", "!~", "(", ")", "{", "}", ",", "=", "+", "-", "*", "/", "[")
_MATCH_OPERATORS = ("=", "!=", "=~", "!~")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
_AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "sum": math.fsum,
    "max": max,
    "min": min,
}


class SelectorError(ValueError):
    """A mistake in a selector: `message` at `column` (1-based, in the selector's text),
    with an optional `hint`. `plain` is the message without the column, for a caller
    that shows the place itself (file:line:col)."""

    def __init__(self, message: str, column: int, hint: str = "", at_end: bool = False) -> None:
        self.message = message
        self.column = column
        self.hint = hint
        self.at_end = at_end
        super().__init__(message)

    @property
    def plain(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        where = f" at column {self.column}" + (" (the end)" if self.at_end else "")
        return f"{self.message}{where}" + (f"; {self.hint}" if self.hint else "")


# --- the expression tree ----------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    now: Samples
    before: Samples | None
    seconds: float | None


@dataclass(frozen=True)
class _Matcher:
    label: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.pattern is not None:
            return (self.pattern.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")


@dataclass(frozen=True)
class _Selector:
    name: str
    matchers: tuple[_Matcher, ...] = ()

    def select(self, samples: Samples | None) -> Vector:
        """The value of each matching series (NaN left out; a repeated series: the last)."""
        return {
            s.series: s.value
            for s in (samples or {}).get(self.name, ())
            if not math.isnan(s.value) and all(m.matches(s.labels) for m in self.matchers)
        }

    def vector(self, context: _Context) -> Vector:
        return self.select(context.now)

    def scalar(self, context: _Context) -> float | None:
        return _sum(self.vector(context))


@dataclass(frozen=True)
class _Rate:
    selector: _Selector

    def vector(self, context: _Context) -> Vector:
        """Per second, for each series in both scrapes; a counter that went down was
        reset, so what it counts now is all since the reset."""
        if context.before is None or not context.seconds or context.seconds <= 0:
            return {}
        before = self.selector.select(context.before)
        rates: Vector = {}
        for series, now in self.selector.select(context.now).items():
            if series in before:
                increase = now - before[series] if now >= before[series] else now
                rates[series] = increase / context.seconds
        return rates

    def scalar(self, context: _Context) -> float | None:
        return _sum(self.vector(context))


@dataclass(frozen=True)
class _Aggregate:
    function: str
    argument: _Selector | _Rate

    def scalar(self, context: _Context) -> float | None:
        values = list(self.argument.vector(context).values())
        return _AGGREGATES[self.function](values) if values else None


@dataclass(frozen=True)
class _Number:
    value: float

    def scalar(self, context: _Context) -> float | None:
        return self.value


@dataclass(frozen=True)
class _Negate:
    operand: _Node

    def scalar(self, context: _Context) -> float | None:
        value = self.operand.scalar(context)
        return None if value is None else -value


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node

    def scalar(self, context: _Context) -> float | None:
        left, right = self.left.scalar(context), self.right.scalar(context)
        if left is None or right is None:
            return None
        if self.op == "+":
            return left + right
        if self.op == "-":
            return left - right
        if self.op == "*":
            return left * right
        return None if right == 0 else left / right


_Node = _Number | _Selector | _Rate | _Aggregate | _Negate | _Binary


def _sum(vector: Vector) -> float | None:
    return math.fsum(vector.values()) if vector else None


@dataclass(frozen=True)
class Expr:
    """A parsed selector: its text, what it reads, and how to get its value."""

    text: str
    root: _Node

    def evaluate(
        self, now: Samples, before: Samples | None = None, seconds_between: float | None = None
    ) -> float | None:
        """The value on the scrape `now` (and, for rate(), the one `seconds_between`
        earlier, `before`); None when there is none. Never raises."""
        value = self.root.scalar(_Context(now, before, seconds_between))
        return value if value is not None and abs(value) <= MAX_ABS_VALUE else None

    @property
    def metric_names(self) -> frozenset[str]:
        """The metric names the expression reads (what a scrape needs to keep)."""
        return frozenset(node.name for node in _walk(self.root) if isinstance(node, _Selector))

    @property
    def uses_rate(self) -> bool:
        """Whether the value needs an earlier scrape too."""
        return any(isinstance(node, _Rate) for node in _walk(self.root))

    def __str__(self) -> str:
        return self.text


def _walk(node: _Node) -> Iterator[_Node]:
    yield node
    if isinstance(node, _Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, _Negate):
        yield from _walk(node.operand)
    elif isinstance(node, _Aggregate):
        yield from _walk(node.argument)
    elif isinstance(node, _Rate):
        yield node.selector


# --- reading the text -------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "string", "op" or "end"
    text: str  # as written (a string's value, unescaped)
    column: int

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops


class _Lexer:
    """Tokens one at a time, so a mistake is found where it is, in reading order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._peeked: _Token | None = None

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = self._read()
        return self._peeked

    def next(self) -> _Token:
        token = self.peek()
        self._peeked = None
        return token

    def _read(self) -> _Token:
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1
        start = self.pos
        if start == len(text):
            return _Token("end", "", start + 1)
        for reader in (self._number, self._name, self._string, self._operator):
            token = reader(start)
            if token is not None:
                return token
        raise SelectorError(f"unexpected character {text[start]!r}", start + 1)

    def _number(self, start: int) -> _Token | None:
        match = _NUMBER.match(self.text, start)
        if match is None:
            return None
        word = _WORD.match(self.text, start)
        if word is not None and word.end() > match.end():
            raise SelectorError(f"bad number {word.group()!r}", start + 1)
        self.pos = match.end()
        return _Token("number", match.group(), start + 1)

    def _name(self, start: int) -> _Token | None:
        match = _NAME.match(self.text, start)
        if match is None:
            return None
        self.pos = match.end()
        return _Token("name", match.group(), start + 1)

    def _operator(self, start: int) -> _Token | None:
        for op in _OPERATORS:
            if self.text.startswith(op, start):
                self.pos = start + len(op)
                return _Token("op", op, start + 1)
        return None

    def _string(self, start: int) -> _Token | None:
        quote = self.text[start]
        if quote not in "\"'":
            return None
        chars: list[str] = []
        at = start + 1
        while at < len(self.text) and self.text[at] != quote:
            if self.text[at] == "\\":
                escaped = self.text[at + 1 : at + 2]
                if escaped not in _ESCAPES:
                    raise SelectorError(f"bad escape '\\{escaped}'", at + 1)
                chars.append(_ESCAPES[escaped])
                at += 2
            else:
                chars.append(self.text[at])
                at += 1
        if at >= len(self.text):
            raise SelectorError("unterminated string", start + 1)
        self.pos = at + 1
        return _Token("string", "".join(chars), start + 1)


def parse(text: str) -> Expr:
    """The expression a selector's text says; SelectorError (with a column) when it
    says none."""
    if len(text) > MAX_SELECTOR_CHARS:
        raise SelectorError(f"selector longer than {MAX_SELECTOR_CHARS} characters", 1)
    return Expr(text, _Parser(text).whole())


class _Parser:
    """expression := term (('+' | '-') term)*
    term       := unary (('*' | '/') unary)*
    unary      := ('-' | '+') unary | primary
    primary    := number | '(' expression ')' | function '(' argument ')' | selector
    selector   := name ('{' matcher (',' matcher)* ','? '}')?"""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lexer = _Lexer(text)
        self.depth = 0

    def whole(self) -> _Node:
        first = self.lexer.peek()
        if first.kind == "end":
            raise SelectorError("empty selector", first.column)
        node = self.expression()
        self._no_more()
        return node

    def _no_more(self) -> None:
        token = self.lexer.peek()
        if token.kind != "end":
            raise SelectorError(f"unexpected {token.text!r}", token.column)

    @contextmanager
    def _nested(self, token: _Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SelectorError(f"nested more than {MAX_DEPTH} deep", token.column)
        try:
            yield
        finally:
            self.depth -= 1

    def expression(self) -> _Node:
        node = self.term()
        while self.lexer.peek().is_op("+", "-"):
            op = self.lexer.next().text
            node = _Binary(op, node, self.term())
        return node

    def term(self) -> _Node:
        node = self.unary()
        while self.lexer.peek().is_op("*", "/"):
            op = self.lexer.next().text
            node = _Binary(op, node, self.unary())
        return node

    def unary(self) -> _Node:
        token = self.lexer.peek()
        if not token.is_op("+", "-"):
            return self.primary()
        self.lexer.next()
        with self._nested(token):
            operand = self.unary()
        return _Negate(operand) if token.text == "-" else operand

    def primary(self) -> _Node:
        token = self.lexer.next()
        if token.kind == "number":
            return _Number(float(token.text))
        if token.is_op("("):
            with self._nested(token):
                node = self.expression()
            self._expect_close("expected ')'")
            return node
        if token.kind == "name":
            return self._named(token)
        raise _expected(token, "expected a number, a metric or '('")

    def _named(self, name: _Token) -> _Node:
        after = self.lexer.peek()
        if after.is_op("("):
            return self._call(name)
        if (
            name.text in KNOWN_FUNCTIONS
            and after.kind == "name"
            and after.text in ("by", "without")
        ):
            raise SelectorError(
                "grouping (by, without) is not supported",
                after.column,
                f"{name.text}(...) adds up every series that matches"
                if name.text == "sum"
                else f"{name.text}(...) is over every series that matches",
            )
        return self._selector(name)

    def _call(self, name: _Token) -> _Node:
        if name.text not in KNOWN_FUNCTIONS:
            raise SelectorError(
                f"unknown function {name.text!r}",
                name.column,
                "known: " + ", ".join(KNOWN_FUNCTIONS),
            )
        opening = self.lexer.next()
        with self._nested(opening):
            if name.text == "rate":
                node: _Node = self._rate()
            else:
                node = _Aggregate(name.text, self._vector(name.text))
        self._expect_close(f"expected ')' to close {name.text}(")
        return node

    def _rate(self) -> _Rate:
        token = self.lexer.next()
        if token.kind != "name" or self.lexer.peek().is_op("("):
            raise SelectorError("rate() needs a metric selector", token.column)
        selector = self._selector(token)
        bracket = self.lexer.peek()
        if bracket.is_op("["):
            written = self.text[token.column - 1 : bracket.column - 1]
            raise SelectorError(
                "rate() takes no range",
                bracket.column,
                f"it is per second between this sample and the previous one: write rate({written})",
            )
        return _Rate(selector)

    def _vector(self, function: str) -> _Selector | _Rate:
        token = self.lexer.next()
        if token.kind == "name" and self.lexer.peek().is_op("("):
            if token.text == "rate":
                rate = self._call(token)
                assert isinstance(rate, _Rate)
                return rate
            if token.text not in KNOWN_FUNCTIONS:
                self._call(token)  # raises: unknown function
        elif token.kind == "name":
            return self._selector(token)
        raise SelectorError(f"{function}() needs a metric selector or rate(...)", token.column)

    def _selector(self, name: _Token) -> _Selector:
        if not self.lexer.peek().is_op("{"):
            return _Selector(name.text)
        self.lexer.next()
        return _Selector(name.text, tuple(self._matchers()))

    def _matchers(self) -> Iterator[_Matcher]:
        while True:
            label = self.lexer.next()
            if label.is_op("}"):
                return
            yield self._matcher(label)
            after = self.lexer.next()
            if after.is_op("}"):
                return
            if not after.is_op(","):
                raise _expected(after, "bad matcher: expected ',' or '}'")

    def _matcher(self, label: _Token) -> _Matcher:
        if label.kind != "name":
            raise _expected(label, "bad matcher: expected a label name")
        if not _LABEL_NAME.fullmatch(label.text):
            raise SelectorError(f"bad matcher: {label.text!r} is not a label name", label.column)
        op = self.lexer.next()
        if not op.is_op(*_MATCH_OPERATORS):
            raise _expected(op, "bad matcher: expected =, !=, =~ or !~")
        value = self.lexer.next()
        if value.kind != "string":
            raise _expected(value, "bad matcher: expected a quoted label value")
        if op.text in ("=", "!="):
            return _Matcher(label.text, op.text, value.text)
        try:
            pattern = re.compile(value.text, re.DOTALL)  # Prometheus 3: `.` matches all
        except re.error as exc:
            raise SelectorError(
                f"bad matcher: invalid regular expression {value.text!r}: {exc.msg}",
                value.column,
            ) from None
        if _repeats_a_repeat(value.text):
            raise SelectorError(
                f"bad matcher: {value.text!r} repeats a repetition (such as (a+)+): against "
                "a long label value it can take for ever; write it without the nesting",
                value.column,
            )
        return _Matcher(label.text, op.text, value.text, pattern)

    def _expect_close(self, message: str) -> None:
        token = self.lexer.next()
        if not token.is_op(")"):
            raise _expected(token, message)


def _expected(token: _Token, message: str) -> SelectorError:
    return SelectorError(message, token.column, at_end=token.kind == "end")


def _repeats_a_repeat(regex: str) -> bool:
    """Whether a regular expression repeats something that is itself repeated, as
    `(a+)+` or `(a*b?)*`: Python's backtracking matcher can take exponential time on
    such a pattern, on the event loop, where no signal can stop it. (A label value
    comes from the system under test: it may be long, or made to be.)"""
    with warnings.catch_warnings():  # the standard library's own regex parser, which
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.11 renamed re._parser
        import sre_parse as parser

    # Possessive repeats and atomic groups are Python 3.11's (none before: never found).
    repeat_ops = (parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", -1))
    group_ops = (parser.SUBPATTERN, getattr(parser, "ATOMIC_GROUP", -1))

    def walk(items: Any, inside_repeat: bool) -> bool:
        for op, arg in items:
            if op in repeat_ops:
                _, most, body = arg
                if (inside_repeat and most != 1) or walk(body, inside_repeat or most != 1):
                    return True
            elif op in group_ops:
                body = arg[-1] if isinstance(arg, tuple) else arg
                if walk(body, inside_repeat):
                    return True
            elif op == parser.BRANCH and any(walk(b, inside_repeat) for b in arg[1]):
                return True
        return False

    return walk(parser.parse(regex), False)  # a SubPattern: its items, iterated
