"""What every part of the compiler shares: the document and the options, the problems
and warnings found so far (each positioned), and the helpers that read a node as a
template, a value, a number or a duration, resolving config templates now.

A `Context` is made once per compile; the domain modules (phases, flow, request,
config, ensure) are functions of it.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any, TypeGuard

from ...errors import Problem
from ...units import format_count, parse_duration
from ..expr import ExprError, Template, parse_condition, parse_template
from ..files import input_roots, load_time_roots
from ..ir import TList, TMap, Value
from ..layering import PlanOptions
from ..source import Located, Path, describe_path

# Beyond this one phase is surely a typo; --workers and many machines share bigger loads.
MAX_PHASE_SECONDS = 30 * 24 * 3600
MAX_USERS = 1_000_000
# Connection counts (pool, maxSockets, maxVusers) share the users' ceiling.
MAX_CONNECTIONS = MAX_USERS
# Parsed templates are shared: a plan repeats the same few strings many times.
TEMPLATE_CACHE_SIZE = 4096

# `low-high`, in loop counts and status ranges.
RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def parse_template_cached(text: str) -> Template:
    return parse_template(text)


class Context:
    """One compile's state and plumbing."""

    def __init__(
        self,
        doc: Located,
        plan_path: str,
        options: PlanOptions,
        broken: set[Path],
        misspelled: set[Path],
    ) -> None:
        self.doc = doc
        self.plan_path = plan_path
        self.options = options
        self.broken = broken
        # Nodes with an unknown key: a missing key there is most likely that typo,
        # already reported with a suggestion, so it is not reported again.
        self.misspelled = misspelled
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        # The folders input files may be in: see files.input_roots and load_time_roots.
        # The --config file's folder is the user's choice too: what it names (a fromFile)
        # is relative to it and may be read there.
        allowed = (*options.allow_paths, *_folder_of(options.config_file))
        self.roots = input_roots(plan_path, allowed)
        self.load_roots = load_time_roots(plan_path, allowed)
        self.env = options.environment_variables(self.load_roots)
        self.function_refs: list[tuple[str, Path]] = []
        self.config: dict[str, Any] = self.mapping(("config",))
        self.strip_query = self._strip_query()

    def error(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.doc.pos(path), f"{describe_path(path)}: {message}"))

    def warn(self, path: Path, message: str, *, at_key: bool = False) -> None:
        pos = self.doc.key_pos(path) if at_key else self.doc.pos(path)
        self.warnings.append(Problem(pos, f"{describe_path(path)}: {message}"))

    def healthy(self, path: Path) -> bool:
        """True when the schema passed the node at `path` and its direct children.

        Each compile step reads a node and its children; deeper parts are checked
        again where they are read, so one broken step does not hide its siblings.
        """
        n = len(path)
        return not any(b[:n] == path and len(b) <= n + 1 for b in self.broken)

    def mapping(self, path: Path) -> dict[str, Any]:
        value = self.doc.get(path)
        return value if isinstance(value, dict) else {}

    def sequence(self, path: Path) -> list[Any]:
        value = self.doc.get(path)
        return value if isinstance(value, list) else []

    def base_dir(self, path: Path) -> FsPath:
        """Relative paths are relative to the file that wrote them."""
        source = FsPath(self.doc.pos(path).file)
        return source.parent if source.is_file() else FsPath.cwd()

    def template(self, path: Path, text: str) -> Template:
        try:
            return parse_template_cached(text)
        except ExprError:
            return Template(text, (text,))  # already reported by template_problems

    def value(self, path: Path, raw: Any) -> Value:
        """A JSON-like value with every `{{ }}` string compiled."""
        if isinstance(raw, str):
            return self.template(path, raw) if "{{" in raw else raw
        if isinstance(raw, dict):
            return TMap(tuple((k, self.value((*path, k), v)) for k, v in raw.items()))
        if isinstance(raw, list):
            return TList(tuple(self.value((*path, i), v) for i, v in enumerate(raw)))
        return raw

    def tmap(self, path: Path) -> TMap:
        value = self.value(path, self.mapping(path))
        return value if isinstance(value, TMap) else TMap()

    def config_lookup(self, name: str) -> Any:
        """What a template in config (target, phases, payload paths) can see."""
        if name in ("$env", "$processEnvironment"):
            return self.env
        if name == "$environment":
            return self.options.environment
        if name == "$dirname":
            return str(FsPath(self.plan_path).resolve().parent)
        variables = self.config.get("variables")
        if isinstance(variables, dict):
            value = variables.get(name)
            if isinstance(value, str | int | float | bool):
                return value
        return None

    def resolve(self, path: Path, raw: Any) -> Any:
        """A config value with its template (if any) rendered now."""
        if not (isinstance(raw, str) and "{{" in raw):
            return raw
        template = self.template(path, raw)
        # An undefined variable inside a string renders as "undefined" (Artillery's way),
        # which would make a target like http://undefined:8000: refuse it here instead.
        undefined = template.undefined_names(self.config_lookup)
        rendered = None if undefined else template.render(self.config_lookup)
        if rendered in (None, ""):
            missing = sorted(_missing_env(template, self.env))
            if missing:
                why = f"environment variable {', '.join(missing)} is not set"
            elif undefined == ["$environment"]:
                why = "$environment is not defined (no -e/--environment was given)"
            elif undefined:
                why = f"{', '.join(undefined)} is not defined"
            else:
                why = "it renders empty"
            self.error(path, f"{raw!r} cannot be resolved: {why}")
            return None
        return rendered

    def number(
        self,
        path: Path,
        raw: Any,
        *,
        integer: bool = False,
        positive: bool = False,
        most: float | None = None,
    ) -> float | None:
        value = self.resolve(path, raw)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self.error(path, f"{raw!r} is not a number")
                return None
        if not finite_number(value):
            self.error(path, f"{brief(raw)} is not a number")
            return None
        if value < 0 or (positive and value == 0):
            least = "more than" if positive else "at least"
            self.error(path, f"must be {least} 0, got {format_count(value)}")
            return None
        if integer and not float(value).is_integer():
            self.error(path, f"must be a whole number, got {format_count(value)}")
            return None
        if most is not None and value > most:
            self.error(path, f"must be at most {most:,.0f}, got {format_count(value)}")
            return None
        return float(value)

    def duration(self, path: Path, raw: Any) -> float | None:
        value = self.resolve(path, raw)
        if value is None:
            return None
        seconds = parse_duration(value) if isinstance(value, str) else value
        if not finite_number(seconds):
            self.error(path, f'{brief(raw)} is not a duration (try 30, "30s", "5m", "1h")')
            return None
        if seconds < 0:
            self.error(path, f"a duration cannot be negative, got {seconds:g}")
            return None
        if seconds > MAX_PHASE_SECONDS:
            self.error(
                path, f"{raw!r} is longer than the limit of {MAX_PHASE_SECONDS // 86400} days"
            )
            return None
        return float(seconds)

    def names(self, path: Path, raw: Any) -> tuple[str, ...]:
        """Processor hook names, remembered so they can be checked against the module."""
        items = [raw] if isinstance(raw, str) else list(raw or [])
        for i, name in enumerate(items):
            self.function_refs.append((name, (*path, i) if isinstance(raw, list) else path))
        return tuple(items)

    def optional_count(
        self, path: Path, spec: dict[str, Any], key: str, most: float = MAX_CONNECTIONS
    ) -> int | None:
        if key not in spec:
            return None
        value = self.number((*path, key), spec[key], integer=True, most=most)
        return None if value is None else int(value)

    def condition(self, path: Path, raw: str | None) -> Any:
        if raw is None:
            return None
        try:
            return parse_condition(raw)
        except ExprError as exc:
            self.error(path, f"{exc.message} in expression {raw!r}")
            return None

    def plugin_options(self, plugin: str) -> dict[str, Any]:
        """A built-in plugin's options, when it is listed and passed the schema."""
        path = ("config", "plugins", plugin)
        return self.mapping(path) if self.healthy(path) else {}

    def _strip_query(self) -> bool:
        # Every request reads it (its metrics label), so it is decided once, here.
        # Artillery adds metrics-by-endpoint with stripQueryString: true to a plan that
        # does not list the plugin; listed, the option defaults to false.
        plugins = self.mapping(("config", "plugins"))
        if "metrics-by-endpoint" not in plugins:
            return True
        return self.plugin_options("metrics-by-endpoint").get("stripQueryString") is True


def finite_number(value: Any) -> TypeGuard[int | float]:
    """A number a float can hold: an integer too big for one (YAML reads 1 followed by
    400 zeros as an int) is not, and asking math.isfinite about it would raise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= sys.float_info.max  # int against float compares exactly
    return math.isfinite(value)


def brief(raw: Any) -> str:
    """A value for a message, cut short: YAML reads a 400-digit number as an int."""
    text = repr(raw)
    return text if len(text) <= 40 else f"{text[:37]}..."


def number_text(value: float) -> str:
    """A number for a message; a huge integer is not spelled out digit by digit."""
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"about 1e{int(math.log10(abs(value)))}"
    return f"{value:g}"


def _missing_env(template: Template, env: dict[str, str]) -> Iterator[str]:
    for part in template.parts:
        if not isinstance(part, str) and getattr(part, "name", "") in (
            "$env",
            "$processEnvironment",
        ):
            path = getattr(part, "path", ())
            if path and str(path[0]) not in env:
                yield str(path[0])


def _folder_of(path: str | None) -> tuple[str, ...]:
    return (os.path.dirname(os.path.abspath(path)),) if path else ()
