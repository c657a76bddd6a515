"""Capture paths: Artillery's JSONPath rewritten as JMESPath, JMESPath compiled once,
and regular expressions with JavaScript's flags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions

from .tokens import ExprError, literal

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
            out.append(_jmes_key(literal("string", m.group("quoted")), bool(out)))
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
