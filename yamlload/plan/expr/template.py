"""`{{ }}` templates: parsed once, at compile time, into literal text and nodes that
are evaluated per virtual user. Nothing is ever passed to `eval`."""

from __future__ import annotations

import random
import re
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .tokens import ExprError, Tokens, index_or_key, split_name
from .values import MISSING, Lookup, get_path, interpolated_text


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
    tokens = Tokens(inner, offset)
    if tokens.at_end():
        raise ExprError("empty '{{ }}'", offset)
    node = _parse_reference(tokens)
    if not tokens.at_end():
        tok = tokens.peek()
        raise ExprError(f"unexpected {tok.text!r} in template", tok.offset)
    return node


def _parse_reference(tokens: Tokens) -> Node:
    tok = tokens.take()
    if tok.kind != "name":
        raise ExprError(f"expected a variable name, got {tok.text!r}", tok.offset)
    head, _, rest = tok.text.partition(".")
    path: list[str | int] = [index_or_key(p) for p in rest.split(".")] if rest else []
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
            path.extend(index_or_key(p) for p in tokens.take().text[1:].split("."))
    if head.startswith("$"):
        if head in BARE_FUNCTIONS and not path:
            return Call(head)
        if head not in BUILTIN_VARIABLES:
            raise ExprError(_unknown_builtin(head), tok.offset)
    return Var(head, tuple(path))


def _parse_args(tokens: Tokens) -> list[Any]:
    args: list[Any] = []
    if tokens.peek_text() == ")":
        tokens.take()
        return args
    while True:
        tok = tokens.take()
        if tok.kind in ("number", "string"):
            args.append(tok.value)
        elif tok.kind == "name":
            args.append(Var(*split_name(tok.text)))
        else:
            raise ExprError(f"unexpected {tok.text!r} in arguments", tok.offset)
        sep = tokens.take()
        if sep.text == ")":
            return args
        if sep.text != ",":
            raise ExprError(f"expected ',' or ')', got {sep.text!r}", sep.offset)


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
