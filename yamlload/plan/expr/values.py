"""What templates and conditions evaluate to: undefined values, text as JavaScript
writes it, and paths into nested data."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
