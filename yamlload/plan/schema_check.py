"""The JSON Schema check: every violation of a document, in plain words and positioned,
and which nodes failed (the compiler leaves them alone)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from ..errors import Problem
from .schema import build_schema
from .source import Located, Path, describe_path


@cache
def plan_schema() -> dict[str, Any]:
    """The published JSON Schema (see `schema.py`)."""
    return build_schema()


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(plan_schema())


@dataclass(frozen=True)
class SchemaReport:
    """What the schema check found.

    problems    every violation, positioned, in plain words
    broken      nodes that failed (the compiler leaves them alone)
    misspelled  nodes that hold an unknown key (a "missing" key there is likely the typo)
    """

    problems: list[Problem]
    broken: set[Path]
    misspelled: set[Path]


def check_schema(doc: Located) -> SchemaReport:
    errors = list(_validator().iter_errors(doc.data))
    misspelled = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    broken = {tuple(e.absolute_path) for e in errors if e.validator != "additionalProperties"}
    problems: list[Problem] = []
    for error in errors:
        if tuple(error.absolute_path) in misspelled and _only_requires(error):
            continue  # "missing 'flow'" beside "unknown key 'flw'" says the same thing twice
        problems.extend(_explain(error, doc))
    return SchemaReport(problems, broken, misspelled)


def _only_requires(error: ValidationError) -> bool:
    if error.validator == "required":
        return True
    if error.validator in ("anyOf", "oneOf"):
        return all(e.validator == "required" for e in error.context or [])
    return False


def _explain(error: ValidationError, doc: Located) -> Iterator[Problem]:
    path: Path = tuple(error.absolute_path)
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        yield from _unknown_keys(error, doc, path)
        return
    if custom and error.validator not in ("required", "additionalProperties"):
        message = f"{describe_path(path) or 'plan'}: {custom}, got {_show(error.instance)}"
        yield Problem(doc.pos(path), message)
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        chosen = _closest_branch_error(error)
        if chosen is not None:
            # Every error of the branch the value was meant for, not only the best one:
            # a misspelled key beside a bad value is two mistakes, reported at once.
            branch = chosen.relative_schema_path[0]
            for each in error.context:
                if each.relative_schema_path[0] == branch:
                    yield from _explain(each, doc)
            return
        kinds = _branch_types(error)
        if kinds:
            wanted = " or ".join(_article(k) for k in kinds)
            message = (
                f"{describe_path(path) or 'plan'}: expected {wanted}, got {_show(error.instance)}"
            )
            yield Problem(doc.pos(path), message)
            return
    yield Problem(doc.pos(path), _message(error, path))


def _closest_branch_error(error: ValidationError) -> ValidationError | None:
    """Of an anyOf's failed branches, the error from one whose type did match."""
    wrong_type = {
        e.relative_schema_path[0]
        for e in error.context or []
        if e.validator == "type" and len(e.relative_path) == 0
    }
    candidates = [e for e in error.context or [] if e.relative_schema_path[0] not in wrong_type]
    if not candidates:
        return None
    best: ValidationError | None = best_match(
        candidates, key=lambda e: (len(e.absolute_path), e.validator != "type")
    )
    return best


def _branch_types(error: ValidationError) -> list[str]:
    kinds: list[str] = []
    for e in error.context or []:
        if e.validator == "type" and len(e.relative_path) == 0:
            values = (
                e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
            )
            kinds.extend(str(v) for v in values if str(v) not in kinds)
    return kinds


def _unknown_keys(error: ValidationError, doc: Located, path: Path) -> Iterator[Problem]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    instance: Any = error.instance
    for key in instance:
        if key in known:
            continue
        where = describe_path(path) or "top level"
        message = f"{where}: unknown key '{key}'"
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if not guess:
            lowered = {k.lower(): k for k in known}
            if key.lower() in lowered:
                guess = [lowered[key.lower()]]
        if guess:
            message += f"; did you mean '{guess[0]}'?"
        elif known and len(known) <= 12:
            message += f" (expected one of: {', '.join(known)})"
        yield Problem(doc.key_pos((*path, key)), message)


def _message(error: ValidationError, path: Path) -> str:
    where = describe_path(path) or "plan"
    validator = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if validator == "required":
        missing = [k for k in value if k not in instance]
        return f"{where}: missing required key '{missing[0] if missing else value}'"
    if validator == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"{where}: expected {_article(wanted)}, got {_show(instance)}"
    if validator == "enum":
        choices = ", ".join(repr(v) for v in value)
        return f"{where}: {_show(instance)} is not one of {choices}"
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[str(validator)]
        return f"{where}: must be {words} {value}, got {_show(instance)}"
    if validator == "minItems":
        return f"{where}: needs at least {value} item{'s' if value != 1 else ''}"
    if validator == "minProperties":
        return f"{where}: must not be empty"
    if validator == "maxProperties":
        return f"{where}: has {len(instance)} keys where at most {value} are allowed"
    if validator == "minLength":
        return f"{where}: must not be empty"
    if validator == "dependentRequired":
        present = [k for k in value if k in instance]
        key = present[0] if present else "?"
        return f"{where}: '{key}' only goes with '{value[key][0] if key in value else value}'"
    if validator == "not":
        return f"{where}: {_show(instance)} is not allowed here"
    return f"{where}: {error.message}"


def _article(kind: str) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "number": "a number",
        "integer": "a whole number",
        "boolean": "true or false",
        "null": "nothing",
    }
    return " or ".join(words.get(part.strip(), part) for part in kind.split(" or "))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
