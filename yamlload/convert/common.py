"""What both converters share: the default phases, method keys, names and JSON paths."""

from __future__ import annotations

import re
from typing import Any

# A first, gentle load: one new user a second for 10 s. Lengthen it once the flow works.
DEFAULT_PHASES: list[dict[str, Any]] = [{"duration": 10, "arrivalRate": 1}]
DEFAULT_PHASES_COMMENT = (
    "A small first load: 1 new user a second for 10 s; raise it once the flow works."
)
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def http_method(method: str) -> str:
    """The plan's step key for an HTTP method (an unknown one is sent as a get)."""
    lowered = method.lower()
    return lowered if lowered in METHODS else "get"


def json_path(path: tuple[str | int, ...]) -> str:
    """`("data", "items", 0, "id")` → `$.data.items[0].id`, as a capture's `json:` takes."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif PLAIN_KEY.match(part):
            out += f".{part}"
        else:
            out += "['" + part.replace("'", "\\'") + "']"
    return out


def variable_name(key: str, taken: set[str]) -> str:
    """A template-safe variable named after `key`, not one of `taken`."""
    base = re.sub(r"\W+", "_", key).strip("_") or "value"
    if base[0].isdigit():
        base = f"v_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def copied_template(plan: Any, captured: set[str]) -> str | None:
    """A `{{ ... }}` the input put in the plan (not a captured variable's): it would be
    evaluated when the plan runs, and `{{ $env.NAME }}` sends an environment variable to
    the target. None when there is none."""
    if isinstance(plan, str):
        for found in _TEMPLATE.finditer(plan):
            if found.group(1).strip() not in captured:
                return found.group(0)
        return None
    items = plan.values() if isinstance(plan, dict) else plan if isinstance(plan, list) else ()
    for item in items:
        found_in = copied_template(item, captured)
        if found_in is not None:
            return found_in
    return None


def captured_names(plan: Any) -> set[str]:
    """Every variable a capture of the plan sets (`as:`)."""
    if isinstance(plan, dict):
        named = {str(plan["as"])} if "as" in plan and isinstance(plan.get("as"), str) else set()
        return named.union(*(captured_names(v) for v in plan.values()))
    if isinstance(plan, list):
        return set().union(*(captured_names(v) for v in plan))
    return set()
