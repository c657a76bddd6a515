"""A virtual user: its variables, scenario, random choices and connections, and how the
plan's templates render against them."""

from __future__ import annotations

import http.cookies
import random
from dataclasses import dataclass, field
from typing import Any

from ..plan.expr import Template, to_text
from ..plan.ir import FormFile, Scenario, TList, TMap, Value
from ..units import parse_duration
from .http.transport import Session

# What rendering a request, or a step, from a user's values may raise when those values
# came from a server: the step fails for that user, named, and the run goes on.
VALUE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes UnicodeError: a lone surrogate in a body or form
    ArithmeticError,
    RecursionError,
    http.cookies.CookieError,
)


@dataclass
class User:
    vars: dict[str, Any]
    session: Session
    scenario: Scenario
    rng: random.Random
    specials: dict[str, Any] = field(default_factory=dict)
    # A ws scenario's open connection while its flow runs (runtime/ws.py's Socket).
    socket: Any = None

    def lookup(self, name: str) -> Any:
        if name in self.vars:
            return self.vars[name]
        return self.specials.get(name)


def render(value: Value, user: User) -> Any:
    if isinstance(value, Template):
        if value.is_constant:
            return value.source
        return value.render(user.lookup, user.rng)
    if isinstance(value, TMap):
        return {k: render(v, user) for k, v in value.items}
    if isinstance(value, TList):
        return [render(v, user) for v in value.items]
    return value


def text(value: Value, user: User) -> str:
    return to_text(render(value, user))


def is_constant(value: Value | None) -> bool:
    """Whether a value renders the same for every user (a file upload never does)."""
    if isinstance(value, Template):
        return value.is_constant
    if isinstance(value, TMap):
        return all(is_constant(v) for _, v in value.items)
    if isinstance(value, TList):
        return all(is_constant(v) for v in value.items)
    return not isinstance(value, FormFile)


def constant(value: Value) -> Any:
    """A constant value's own value (see is_constant), without a user."""
    return value.source if isinstance(value, Template) else value


def int_or(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


def duration_value(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    seconds = parse_duration(str(value)) if value is not None else None
    return seconds or 0.0
