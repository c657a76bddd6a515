"""`ifTrue` and ensure conditions: filtrex's language (plus `===`, `&&`...) parsed
once into a tuple tree, evaluated with JavaScript's loose comparisons."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .tokens import ExprError, Tokens, split_name
from .values import Lookup, get_path


@dataclass(frozen=True)
class Condition:
    """A parsed `ifTrue` or ensure expression (filtrex's language, plus `===`, `&&`...)."""

    source: str
    tree: tuple[Any, ...]

    def names(self) -> set[str]:
        found: set[str] = set()
        _collect_names(self.tree, found)
        return found

    def evaluate(self, lookup: Lookup) -> Any:
        return _eval(self.tree, lookup)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
    "sqrt": math.sqrt,
    "min": min,
    "max": max,
    "log": math.log,
}


def parse_condition(text: str) -> Condition:
    tokens = Tokens(text)
    if tokens.at_end():
        raise ExprError("empty expression", 0)
    tree = _parse_or(tokens)
    if not tokens.at_end():
        tok = tokens.peek()
        raise ExprError(f"unexpected {tok.text!r}", tok.offset)
    return Condition(text, tree)


def _parse_or(t: Tokens) -> tuple[Any, ...]:
    left = _parse_and(t)
    while t.peek_text() in ("or", "||"):
        t.take()
        left = ("or", left, _parse_and(t))
    return left


def _parse_and(t: Tokens) -> tuple[Any, ...]:
    left = _parse_not(t)
    while t.peek_text() in ("and", "&&"):
        t.take()
        left = ("and", left, _parse_not(t))
    return left


def _parse_not(t: Tokens) -> tuple[Any, ...]:
    if t.peek_text() in ("not", "!"):
        t.take()
        return ("not", _parse_not(t))
    return _parse_comparison(t)


_COMPARE = {
    "==": "==",
    "===": "==",
    "!=": "!=",
    "!==": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}


def _parse_comparison(t: Tokens) -> tuple[Any, ...]:
    left = _parse_sum(t)
    op = t.peek_text()
    if op in _COMPARE:
        t.take()
        return ("cmp", _COMPARE[op], left, _parse_sum(t))
    if op == "in":
        t.take()
        return ("in", left, _parse_sum(t))
    if op == "not" and t.items[t.index + 1].text == "in":
        t.take()
        t.take()
        return ("not", ("in", left, _parse_sum(t)))
    return left


def _parse_sum(t: Tokens) -> tuple[Any, ...]:
    left = _parse_product(t)
    while t.peek_text() in ("+", "-"):
        op = t.take().text
        left = ("math", op, left, _parse_product(t))
    return left


def _parse_product(t: Tokens) -> tuple[Any, ...]:
    left = _parse_unary(t)
    while t.peek_text() in ("*", "/", "%"):
        op = t.take().text
        left = ("math", op, left, _parse_unary(t))
    return left


def _parse_unary(t: Tokens) -> tuple[Any, ...]:
    if t.peek_text() == "-":
        t.take()
        return ("neg", _parse_unary(t))
    base = _parse_atom(t)
    if t.peek_text() == "^":
        t.take()
        return ("math", "^", base, _parse_unary(t))
    return base


def _parse_atom(t: Tokens) -> tuple[Any, ...]:
    tok = t.take()
    if tok.kind in ("number", "string"):
        return ("lit", tok.value)
    if tok.kind == "name":
        if tok.text in ("true", "false"):
            return ("lit", tok.text == "true")
        if tok.text in ("and", "or", "not", "in"):
            raise ExprError(f"unexpected {tok.text!r}", tok.offset)
        if t.peek_text() == "(":
            t.take()
            if tok.text not in _FUNCTIONS:
                raise ExprError(f"unknown function '{tok.text}'", tok.offset)
            args = _parse_list_until(t, ")")
            return ("call", tok.text, tuple(args))
        head, path = split_name(tok.text)
        return ("var", tok.text, head, path)
    if tok.text == "(":
        items = _parse_list_until(t, ")")
        if len(items) == 1:
            return items[0]
        return ("tuple", tuple(items))
    raise ExprError(f"unexpected {tok.text!r}", tok.offset)


def _parse_list_until(t: Tokens, closer: str) -> list[tuple[Any, ...]]:
    items: list[tuple[Any, ...]] = []
    if t.peek_text() == closer:
        t.take()
        return items
    while True:
        items.append(_parse_or(t))
        tok = t.take()
        if tok.text == closer:
            return items
        if tok.text != ",":
            raise ExprError(f"expected ',' or {closer!r}, got {tok.text!r}", tok.offset)


def _collect_names(tree: Any, found: set[str]) -> None:
    if isinstance(tree, tuple) and tree:
        if tree[0] == "var":
            found.add(tree[1])
            return
        for item in tree[1:]:
            _collect_names(item, found)


def _eval(tree: tuple[Any, ...], lookup: Lookup) -> Any:
    kind = tree[0]
    if kind == "lit":
        return tree[1]
    if kind == "var":
        value = lookup(tree[2])
        return get_path(value, tree[3]) if tree[3] else value
    if kind == "or":
        return _eval(tree[1], lookup) or _eval(tree[2], lookup)
    if kind == "and":
        return _eval(tree[1], lookup) and _eval(tree[2], lookup)
    if kind == "not":
        return not _truthy(_eval(tree[1], lookup))
    if kind == "cmp":
        return _compare(tree[1], _eval(tree[2], lookup), _eval(tree[3], lookup))
    if kind == "in":
        needle, haystack = _eval(tree[1], lookup), _eval(tree[2], lookup)
        items = haystack if isinstance(haystack, tuple | list) else (haystack,)
        return any(_loose_equal(needle, item) for item in items)
    if kind == "tuple":
        return tuple(_eval(item, lookup) for item in tree[1])
    if kind == "neg":
        return -_number(_eval(tree[1], lookup))
    if kind == "math":
        return _arith(tree[1], _number(_eval(tree[2], lookup)), _number(_eval(tree[3], lookup)))
    if kind == "call":
        args = [_number(_eval(a, lookup)) for a in tree[2]]
        try:
            return _FUNCTIONS[tree[1]](*args)
        except (ValueError, TypeError, OverflowError):
            return math.nan
    raise AssertionError(f"unknown node {kind}")


def _truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip()) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _loose_equal(a: Any, b: Any) -> bool:
    """JavaScript's `==` for the cases plans meet: CSV strings against numbers."""
    if isinstance(a, int | float) != isinstance(b, int | float):
        return _number(a) == _number(b)
    return bool(a == b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _loose_equal(a, b)
    if op == "!=":
        return not _loose_equal(a, b)
    x: Any = a
    y: Any = b
    if not (isinstance(a, str) and isinstance(b, str)):
        x, y = _number(a), _number(b)
    return bool({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


def _arith(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b else math.nan
        if op == "%":
            return math.fmod(a, b) if b else math.nan
        return float(a**b)
    except (OverflowError, ZeroDivisionError, ValueError, TypeError):
        return math.nan
