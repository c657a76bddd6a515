"""Everything a plan computes: `{{ }}` templates, `ifTrue`/`ensure` conditions and
capture paths. Each is parsed once, at compile time, into a small tree that is
evaluated per virtual user. Nothing is ever passed to `eval`.

Parse errors raise `ExprError` with an offset into the source text; the compiler turns
that into a positioned plan problem.
"""

from __future__ import annotations

import math
import random
import re
import string
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.exceptions


class ExprError(ValueError):
    """A template, condition or capture path that does not parse."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------------- values

# What a lookup gives for an undefined variable or a path that leads nowhere.
MISSING: Any = None
# How an undefined value is written inside a string: Artillery's renderVariables does
# `text.replace(hole, undefined)`, and JavaScript writes that as the word "undefined".
UNDEFINED_TEXT = "undefined"

Lookup = Callable[[str], Any]


def to_text(value: Any) -> str:
    """A value written as text, as JavaScript would write it, except that no value (None)
    is the empty string: this is how the engine writes a whole value (a header, a query
    field). Inside a string, `interpolated_text` writes an undefined value instead."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)


def interpolated_text(value: Any) -> str:
    """How a value is written into the middle of a string: like `to_text`, except that an
    undefined value is `undefined`, as in Artillery (`"/items/{{ x }}"` → `/items/undefined`).

    The engine's lookups cannot tell a variable set to null from one never set, so a
    null is written `undefined` too (Artillery writes `null` for a null)."""
    if value is MISSING:
        return UNDEFINED_TEXT
    return to_text(value)


def get_path(root: Any, parts: Sequence[str | int]) -> Any:
    """Walk `a.b[0]` into nested data; anything missing is MISSING, never an error."""
    node = root
    for part in parts:
        if isinstance(node, Mapping):
            node = node.get(str(part), MISSING)
        elif isinstance(node, list | tuple) and isinstance(part, int | str):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return MISSING
        else:
            return MISSING
    return node


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Var:
    """A variable reference: `name`, `user.id`, `$loopElement.url`, `$env.HOME`."""

    name: str
    path: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Call:
    """A built-in function call: `$randomNumber(1, 10)`."""

    name: str
    args: tuple[Any, ...] = ()


Node = Var | Call

# Built-in values a template may name; each is looked up in the VU's context.
BUILTIN_VARIABLES = frozenset(
    {
        "$env",
        "$processEnvironment",
        "$environment",
        "$dirname",
        "$loopCount",
        "$loopElement",
        "$target",
        "$scenarioName",
    }
)
# name -> (min args, max args)
BUILTIN_FUNCTIONS: dict[str, tuple[int, int]] = {
    "$randomNumber": (0, 2),
    "$randomString": (0, 1),
    "$uuid": (0, 0),
    "$timestamp": (0, 0),
}
# Functions that may also be written without parentheses: `{{ $uuid }}`.
BARE_FUNCTIONS = frozenset({"$uuid", "$timestamp"})


@dataclass(frozen=True)
class Template:
    """A string with `{{ }}` holes. `parts` alternate literal text and nodes."""

    source: str
    parts: tuple[str | Node, ...]
    _constant: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def is_constant(self) -> bool:
        return self._constant

    def __post_init__(self) -> None:
        # Asked on every request: decide once.
        object.__setattr__(self, "_constant", all(isinstance(p, str) for p in self.parts))

    @property
    def single(self) -> Node | None:
        """The node when the template is exactly one expression (keeps its type)."""
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return self.parts[0]
        return None

    def variables(self) -> set[str]:
        return {p.name for p in self.parts if isinstance(p, Var)}

    def render(self, lookup: Lookup, rng: random.Random | None = None) -> Any:
        """The value: a whole-value template (`"{{ x }}"`) keeps its value's type, and is
        None (MISSING) when `x` is undefined, as Artillery's template() gives undefined;
        anything else is text, where an undefined value is written `undefined`."""
        single = self.single
        if single is not None:
            return evaluate_node(single, lookup, rng)
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(interpolated_text(evaluate_node(part, lookup, rng)))
        return "".join(out)

    def undefined_names(self, lookup: Lookup) -> list[str]:
        """The variables (as written) that are undefined for `lookup`."""
        return [
            ".".join((part.name, *map(str, part.path)))
            for part in self.parts
            if isinstance(part, Var) and evaluate_node(part, lookup) is MISSING
        ]


_HOLE = re.compile(r"\{\{\{?|\}\}\}?")


def parse_template(text: str) -> Template:
    """Parse `text`, raising ExprError for `{{ foo` or `{{ $nope() }}`."""
    parts: list[str | Node] = []
    cursor = 0
    while True:
        start = text.find("{{", cursor)
        if start < 0:
            break
        triple = text.startswith("{{{", start)
        opener = 3 if triple else 2
        closer = "}}}" if triple else "}}"
        end = text.find(closer, start + opener)
        if end < 0:
            raise ExprError(f"'{text[start : start + opener]}' is never closed", start)
        if start > cursor:
            parts.append(text[cursor:start])
        inner = text[start + opener : end]
        parts.append(_parse_hole(inner, start + opener))
        cursor = end + len(closer)
    if cursor < len(text):
        parts.append(text[cursor:])
    return Template(source=text, parts=tuple(_merge_literals(parts)))


def _merge_literals(parts: list[str | Node]) -> list[str | Node]:
    merged: list[str | Node] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + part
        elif part != "":
            merged.append(part)
    return merged


def _parse_hole(inner: str, offset: int) -> Node:
    tokens = _Tokens(inner, offset)
    if tokens.at_end():
        raise ExprError("empty '{{ }}'", offset)
    node = _parse_reference(tokens)
    if not tokens.at_end():
        tok = tokens.peek()
        raise ExprError(f"unexpected {tok.text!r} in template", tok.offset)
    return node


def _parse_reference(tokens: _Tokens) -> Node:
    tok = tokens.take()
    if tok.kind != "name":
        raise ExprError(f"expected a variable name, got {tok.text!r}", tok.offset)
    head, _, rest = tok.text.partition(".")
    path: list[str | int] = [_index_or_key(p) for p in rest.split(".")] if rest else []
    if tokens.peek_text() == "(":
        tokens.take()
        args = _parse_args(tokens)
        if path:
            raise ExprError(f"'{tok.text}' is not a function", tok.offset)
        return _builtin_call(head, tuple(args), tok.offset)
    while tokens.peek_text() == "[":
        tokens.take()
        index = tokens.take()
        if index.kind not in ("number", "string"):
            raise ExprError("expected a number or a quoted key inside [ ]", index.offset)
        path.append(index.value if index.kind == "string" else int(index.value))
        tokens.expect("]")
        while tokens.peek().kind == "name" and tokens.peek_text().startswith("."):
            path.extend(_index_or_key(p) for p in tokens.take().text[1:].split("."))
    if head.startswith("$"):
        if head in BARE_FUNCTIONS and not path:
            return Call(head)
        if head not in BUILTIN_VARIABLES:
            raise ExprError(_unknown_builtin(head), tok.offset)
    return Var(head, tuple(path))


def _index_or_key(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def _parse_args(tokens: _Tokens) -> list[Any]:
    args: list[Any] = []
    if tokens.peek_text() == ")":
        tokens.take()
        return args
    while True:
        tok = tokens.take()
        if tok.kind in ("number", "string"):
            args.append(tok.value)
        elif tok.kind == "name":
            args.append(Var(*_split_name(tok.text)))
        else:
            raise ExprError(f"unexpected {tok.text!r} in arguments", tok.offset)
        sep = tokens.take()
        if sep.text == ")":
            return args
        if sep.text != ",":
            raise ExprError(f"expected ',' or ')', got {sep.text!r}", sep.offset)


def _split_name(text: str) -> tuple[str, tuple[str | int, ...]]:
    head, _, rest = text.partition(".")
    return head, tuple(_index_or_key(p) for p in rest.split(".")) if rest else ()


def _builtin_call(name: str, args: tuple[Any, ...], offset: int) -> Call:
    if name not in BUILTIN_FUNCTIONS:
        raise ExprError(_unknown_builtin(name), offset)
    low, high = BUILTIN_FUNCTIONS[name]
    if not low <= len(args) <= high:
        wanted = f"{low}" if low == high else f"{low} to {high}"
        raise ExprError(f"{name}() takes {wanted} arguments, got {len(args)}", offset)
    return Call(name, args)


def _unknown_builtin(name: str) -> str:
    import difflib

    known = sorted(BUILTIN_VARIABLES | set(BUILTIN_FUNCTIONS))
    guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{guess[0]}'?" if guess else f" (known: {', '.join(known)})"
    return f"unknown built-in '{name}'{hint}"


_RANDOM_ALPHABET = string.ascii_letters + string.digits


def evaluate_node(node: Node, lookup: Lookup, rng: random.Random | None = None) -> Any:
    if isinstance(node, Var):
        return get_path(lookup(node.name), node.path) if node.path else lookup(node.name)
    args = [evaluate_node(a, lookup, rng) if isinstance(a, Var) else a for a in node.args]
    r = rng or random
    if node.name == "$randomNumber":
        low, high = (_as_int(args[0], 0), _as_int(args[1], 10**6)) if len(args) == 2 else (0, 10**6)
        return r.randint(min(low, high), max(low, high))
    if node.name == "$randomString":
        length = max(0, min(_as_int(args[0], 10), 10_000)) if args else 10
        return "".join(r.choice(_RANDOM_ALPHABET) for _ in range(length))
    if node.name == "$uuid":
        return str(uuid.UUID(int=r.getrandbits(128), version=4))
    if node.name == "$timestamp":
        return int(time.time() * 1000)
    raise AssertionError(f"unhandled built-in {node.name}")


def _as_int(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # name, number, string, op, end
    text: str
    offset: int
    value: Any = None


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>\.?[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z0-9_$]+)*)
  | (?P<op>===|!==|==|!=|<=|>=|&&|\|\||[-+*/%^<>!(),\[\]?:])
    """,
    re.VERBOSE,
)


class _Tokens:
    def __init__(self, text: str, base: int = 0) -> None:
        self.items: list[_Token] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise ExprError(f"unexpected character {text[pos]!r}", base + pos)
            kind = m.lastgroup or "op"
            if kind != "space":
                raw = m.group()
                self.items.append(_Token(kind, raw, base + pos, _literal(kind, raw)))
            pos = m.end()
        self.items.append(_Token("end", "end of expression", base + len(text)))
        self.index = 0

    def peek(self) -> _Token:
        return self.items[self.index]

    def peek_text(self) -> str:
        tok = self.peek()
        return tok.text if tok.kind != "end" else ""

    def take(self) -> _Token:
        tok = self.items[self.index]
        if tok.kind != "end":
            self.index += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise ExprError(f"expected {text!r}, got {tok.text!r}", tok.offset)

    def at_end(self) -> bool:
        return self.peek().kind == "end"


def _literal(kind: str, raw: str) -> Any:
    if kind == "number":
        value = float(raw)
        return (
            int(value)
            if value.is_integer() and "." not in raw and "e" not in raw.lower()
            else value
        )
    if kind == "string":
        body = raw[1:-1]
        return re.sub(r"\\(.)", r"\1", body)
    return None


# --------------------------------------------------------------------------- conditions


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
    tokens = _Tokens(text)
    if tokens.at_end():
        raise ExprError("empty expression", 0)
    tree = _parse_or(tokens)
    if not tokens.at_end():
        tok = tokens.peek()
        raise ExprError(f"unexpected {tok.text!r}", tok.offset)
    return Condition(text, tree)


def _parse_or(t: _Tokens) -> tuple[Any, ...]:
    left = _parse_and(t)
    while t.peek_text() in ("or", "||"):
        t.take()
        left = ("or", left, _parse_and(t))
    return left


def _parse_and(t: _Tokens) -> tuple[Any, ...]:
    left = _parse_not(t)
    while t.peek_text() in ("and", "&&"):
        t.take()
        left = ("and", left, _parse_not(t))
    return left


def _parse_not(t: _Tokens) -> tuple[Any, ...]:
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


def _parse_comparison(t: _Tokens) -> tuple[Any, ...]:
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


def _parse_sum(t: _Tokens) -> tuple[Any, ...]:
    left = _parse_product(t)
    while t.peek_text() in ("+", "-"):
        op = t.take().text
        left = ("math", op, left, _parse_product(t))
    return left


def _parse_product(t: _Tokens) -> tuple[Any, ...]:
    left = _parse_unary(t)
    while t.peek_text() in ("*", "/", "%"):
        op = t.take().text
        left = ("math", op, left, _parse_unary(t))
    return left


def _parse_unary(t: _Tokens) -> tuple[Any, ...]:
    if t.peek_text() == "-":
        t.take()
        return ("neg", _parse_unary(t))
    base = _parse_atom(t)
    if t.peek_text() == "^":
        t.take()
        return ("math", "^", base, _parse_unary(t))
    return base


def _parse_atom(t: _Tokens) -> tuple[Any, ...]:
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
        head, path = _split_name(tok.text)
        return ("var", tok.text, head, path)
    if tok.text == "(":
        items = _parse_list_until(t, ")")
        if len(items) == 1:
            return items[0]
        return ("tuple", tuple(items))
    raise ExprError(f"unexpected {tok.text!r}", tok.offset)


def _parse_list_until(t: _Tokens, closer: str) -> list[tuple[Any, ...]]:
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


# --------------------------------------------------------------------------- captures

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_JSONPATH_STEP = re.compile(
    r"""
    \.(?P<key>[A-Za-z0-9_$@-]+)          # .name or .0
  | \.\*|\[\*\]                          # wildcard
  | \[(?P<index>-?\d+)\]                 # [0]
  | \[(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]   # ['key']
    """,
    re.VERBOSE,
)


def jsonpath_to_jmespath(path: str) -> str:
    """Artillery's JSONPath (`$.a.b[0]`, `$.result.0.name`) as the JMESPath it means."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text  # `json: id` is taken as `$.id`, as jsonpath-plus does
    if not text:
        return "@"
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text.startswith("..", pos):
            raise ExprError("recursive descent '..' is not supported; use a jmespath capture", pos)
        m = _JSONPATH_STEP.match(text, pos)
        if m is None:
            raise ExprError(f"cannot read JSONPath at {text[pos:]!r}", pos)
        if m.group("key") is not None:
            key = m.group("key")
            out.append(f"[{key}]" if key.isdigit() else _jmes_key(key, bool(out)))
        elif m.group("index") is not None:
            out.append(f"[{m.group('index')}]")
        elif m.group("quoted") is not None:
            out.append(_jmes_key(_literal("string", m.group("quoted")), bool(out)))
        else:
            out.append("[*]" if text[pos] == "[" or not out else ".*")
        pos = m.end()
    return "".join(out)


def _jmes_key(key: str, dotted: bool) -> str:
    import json

    name = key if _IDENT.match(key) else json.dumps(key)
    return f".{name}" if dotted else name


@dataclass(frozen=True)
class CompiledPath:
    """A JMESPath expression, compiled once."""

    source: str
    expression: str
    compiled: Any

    def search(self, data: Any) -> Any:
        return self.compiled.search(data)


def compile_jmespath(expression: str, source: str | None = None) -> CompiledPath:
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ExprError(f"invalid JMESPath {expression!r}: {_first_line(exc)}", 0) from None
    return CompiledPath(source or expression, expression, compiled)


def compile_regexp(pattern: str, flags: str = "") -> re.Pattern[str]:
    py_flags = 0
    for flag in flags:
        if flag == "i":
            py_flags |= re.IGNORECASE
        elif flag == "m":
            py_flags |= re.MULTILINE
        elif flag == "s":
            py_flags |= re.DOTALL
        elif flag not in "gu":
            raise ExprError(f"unknown regexp flag {flag!r}", 0)
    try:
        return re.compile(pattern, py_flags)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ExprError(f"invalid regular expression {pattern!r}: {exc}", 0) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
