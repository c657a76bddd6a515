"""The lexer shared by templates and conditions, and the error every parser raises.

Parse errors raise `ExprError` with an offset into the source text; the compiler turns
that into a positioned plan problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class ExprError(ValueError):
    """A template, condition or capture path that does not parse."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Token:
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


class Tokens:
    def __init__(self, text: str, base: int = 0) -> None:
        self.items: list[Token] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise ExprError(f"unexpected character {text[pos]!r}", base + pos)
            kind = m.lastgroup or "op"
            if kind != "space":
                raw = m.group()
                self.items.append(Token(kind, raw, base + pos, literal(kind, raw)))
            pos = m.end()
        self.items.append(Token("end", "end of expression", base + len(text)))
        self.index = 0

    def peek(self) -> Token:
        return self.items[self.index]

    def peek_text(self) -> str:
        tok = self.peek()
        return tok.text if tok.kind != "end" else ""

    def take(self) -> Token:
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


def literal(kind: str, raw: str) -> Any:
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


def index_or_key(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def split_name(text: str) -> tuple[str, tuple[str | int, ...]]:
    head, _, rest = text.partition(".")
    return head, tuple(index_or_key(p) for p in rest.split(".")) if rest else ()
