"""What is refused before the schema check: Artillery features yamlload does not run
(one line each), and `{{ }}` strings anywhere in the document that do not parse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...errors import Problem
from ..expr import ExprError
from ..ir import ENGINE_NAMES
from ..source import Located, Path, describe_path
from .context import parse_template_cached

JAVASCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts")
SPOKEN = "yamlload speaks HTTP and WebSocket (engine: ws) only"


def unsupported_features(doc: Located) -> list[Problem]:
    """Features of Artillery that yamlload does not run: one line each, nothing else."""
    seen: dict[str, Problem] = {}

    def refuse(feature: str, path: Path, advice: str) -> None:
        if feature not in seen:
            seen[feature] = Problem(doc.pos(path), f"unsupported feature: {feature}; {advice}")

    processor = doc.get(("config", "processor"))
    if isinstance(processor, str) and processor.strip().lower().endswith(JAVASCRIPT_SUFFIXES):
        refuse(
            f"JavaScript processor '{processor}'",
            ("config", "processor"),
            "yamlload calls Python hooks instead (config.processor: hooks.py)",
        )
    engines = doc.get(("config", "engines"))
    if isinstance(engines, dict):
        for name in engines:
            if name not in ENGINE_NAMES:
                refuse(f"engine '{name}'", ("config", "engines", name), SPOKEN)
    scenarios = doc.get(("scenarios",))
    for index, scenario in enumerate(scenarios if isinstance(scenarios, list) else []):
        engine = scenario.get("engine") if isinstance(scenario, dict) else None
        if engine is not None and (not isinstance(engine, str) or engine not in ENGINE_NAMES):
            refuse(f"engine '{engine}'", ("scenarios", index, "engine"), SPOKEN)
    for path, capture in _captures(doc.data, ()):
        for key in ("xpath", "selector", "transform"):
            if key in capture:
                socket = "send" in path or "wait" in path  # a WebSocket message: no headers
                refuse(
                    f"capture by '{key}'",
                    (*path, key),
                    "use json (JSONPath), jmespath or regexp"
                    if socket
                    else "use json (JSONPath), jmespath, regexp or header",
                )
    return list(seen.values())


def _captures(node: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("capture", "match"):
                items = value if isinstance(value, list) else [value]
                for i, item in enumerate(items):
                    if isinstance(item, dict):
                        yield ((*path, key, i) if isinstance(value, list) else (*path, key)), item
            else:
                yield from _captures(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _captures(value, (*path, i))


def template_problems(doc: Located) -> list[Problem]:
    """Every string with `{{` in the whole document must parse, chosen or not."""
    problems: list[Problem] = []
    stack: list[tuple[Path, Any]] = [((), doc.data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
        elif isinstance(node, str) and "{{" in node and not _is_expression_key(path):
            try:
                parse_template_cached(node)
            except ExprError as exc:
                problems.append(_template_problem(doc, path, node, exc))
    return problems


def _is_expression_key(path: Path) -> bool:
    # ifTrue and ensure expressions are conditions, not templates.
    return bool(path) and path[-1] in ("ifTrue", "expression")


def _template_problem(doc: Located, path: Path, text: str, exc: ExprError) -> Problem:
    return Problem(doc.pos(path), f"{describe_path(path)}: {exc.message} in template {text!r}")
