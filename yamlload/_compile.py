"""The validated plan becomes the IR: durations, rates, weights, defaults, templates.

`load_plan` is the whole front end: assemble the layers, refuse unsupported features,
check the schema, then compile. Every problem found on the way is collected and raised
together as one `PlanError`. The compiler only builds the parts of the plan that passed
the schema check, so one broken step never hides the problems of another.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any, TypeGuard, cast, get_args

from ._errors import PlanError, Pos, Problem
from ._expr import (
    ExprError,
    Template,
    compile_jmespath,
    compile_regexp,
    jsonpath_to_jmespath,
    parse_condition,
    parse_template,
)
from ._load import (
    MAX_PAYLOAD_BYTES,
    MAX_PLAN_BYTES,
    Located,
    Path,
    PlanOptions,
    assemble,
    check_input_file,
    check_schema,
    confinement_message,
    describe_path,
    input_roots,
    load_time_roots,
    outside_roots,
    read_bounded,
)
from ._plan import (
    METHODS,
    Capture,
    Expect,
    ExpectKind,
    FormFile,
    FunctionStep,
    HttpSettings,
    LogStep,
    LoopStep,
    Match,
    Method,
    ParallelStep,
    Payload,
    Phase,
    Plan,
    Request,
    Scenario,
    Step,
    ThinkStep,
    Threshold,
    TList,
    TMap,
    Value,
)

# Beyond these one plan is surely a typo; --workers and many machines share bigger loads.
MAX_PHASE_SECONDS = 30 * 24 * 3600
MAX_ARRIVAL_RATE = 1_000_000
MAX_USERS = 1_000_000
# Past a billion iterations a loop is a typo; a loop with no count repeats until the end.
MAX_LOOP_COUNT = 1_000_000_000
# Weights are relative; past this a weight is a typo (1e308 would overflow the total).
MAX_WEIGHT = 1_000_000
DEFAULT_TIMEOUT_SECONDS = 10.0
# A request that may wait longer than a day is a typo; past float range it overflows the loop.
MAX_TIMEOUT_SECONDS = 24 * 3600
# Connection counts (pool, maxSockets, maxVusers) share the users' ceiling.
MAX_CONNECTIONS = MAX_USERS
# A body cap past a terabyte is no cap; bigger numbers are typos.
MAX_BODY_LIMIT_BYTES = 1 << 40
# Status codes an expectedStatuses item may name.
LOWEST_STATUS, HIGHEST_STATUS = 100, 599
BUILTIN_PLUGINS = frozenset({"ensure", "expect", "metrics-by-endpoint", "apdex"})
# The apdex plugin's T when the plan gives none (Artillery's default).
DEFAULT_APDEX_THRESHOLD_MS = 500.0
# Options of Artillery's built-in plugins that yamlload accepts without acting on them,
# with the one line that says what yamlload does instead.
UNSUPPORTED_PLUGIN_OPTIONS: dict[tuple[str, str], str] = {
    ("expect", "outputFormat"): "yamlload reports failed expectations in its own format",
    ("expect", "formatter"): "yamlload reports failed expectations in its own format",
    ("expect", "externalReporting"): "expectation results are not sent anywhere",
    ("metrics-by-endpoint", "ignoreUnnamedRequests"): (
        "unnamed requests are reported by method and url"
    ),
    ("metrics-by-endpoint", "metricsNamespace"): (
        "the metrics keep the prefix plugins.metrics-by-endpoint"
    ),
    ("metrics-by-endpoint", "metricsPrefix"): (
        "the metrics keep the prefix plugins.metrics-by-endpoint"
    ),
    ("metrics-by-endpoint", "suppressOutput"): "the endpoint table is printed as usual",
}
# Options yamlload reads, and the values of them it cannot honour (with why).
PLUGIN_OPTIONS: dict[str, dict[str, dict[Any, str]]] = {
    "expect": {"reportFailuresAsErrors": {}, "expectDefault200": {}},
    "metrics-by-endpoint": {
        "stripQueryString": {},
        "useOnlyRequestNames": {
            False: "a named request is always reported by its name alone",
        },
        "groupDynamicURLs": {
            False: "endpoints are always named by the url as written, templates unrendered",
        },
    },
    "apdex": {"threshold": {}},
}
JAVASCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts")
ACTIONS = (*METHODS, "loop", "think", "log", "parallel", "function")
LEGACY_ENSURE = {"min", "max", "median", "p50", "p75", "p90", "p95", "p99", "p999"}
EXPECT_KINDS = frozenset(get_args(ExpectKind))

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {
    **dict.fromkeys(("", "s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_STATUS_CODE = re.compile(r"^\s*([0-9]+)\s*$")
_STATUS_CLASS = re.compile(r"^\s*([0-9])xx\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_duration(text: str) -> float | None:
    """`"30"`, `"30s"`, `"0.5 min"`, `"9 seconds"`, `"100ms"` → seconds (None if not one)."""
    m = _DURATION.match(text)
    if m is None:
        return None
    unit = _UNIT_SECONDS.get(m.group(2).lower())
    return None if unit is None else float(m.group(1)) * unit


@lru_cache(maxsize=4096)
def _parse_template_cached(text: str) -> Template:
    return parse_template(text)


@dataclass(frozen=True)
class ConfinedFile(FormFile):
    """A formData `fromFile` with the folders its rendered path must stay in (the plan's
    folder and each --allow-path; see _engine.FilePathError)."""

    roots: tuple[str, ...] = ()


def load_plan(plan_path: str, options: PlanOptions | None = None) -> Plan:
    """Read, layer, check and compile one plan. Raises PlanError with every problem."""
    options = options or PlanOptions()
    return compile_document(assemble(plan_path, options), plan_path, options)


def compile_document(doc: Located, plan_path: str, options: PlanOptions) -> Plan:
    """Check and compile an assembled document (a plan file, or one made in code)."""
    refused = unsupported_features(doc)
    if refused:
        raise PlanError(refused)
    report = check_schema(doc)
    problems = report.problems + template_problems(doc)
    compiler = _Compiler(doc, plan_path, options, report.broken, report.misspelled)
    plan = compiler.compile()
    problems += compiler.problems
    if problems:
        raise PlanError(problems)
    return plan


# --------------------------------------------------------------------------- refusals


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
            if name != "http":
                refuse(f"engine '{name}'", ("config", "engines", name), "yamlload speaks HTTP only")
    scenarios = doc.get(("scenarios",))
    for index, scenario in enumerate(scenarios if isinstance(scenarios, list) else []):
        engine = scenario.get("engine") if isinstance(scenario, dict) else None
        if engine not in (None, "http"):
            refuse(
                f"engine '{engine}'", ("scenarios", index, "engine"), "yamlload speaks HTTP only"
            )
    for path, capture in _captures(doc.data, ()):
        for key in ("xpath", "selector", "transform"):
            if key in capture:
                refuse(
                    f"capture by '{key}'",
                    (*path, key),
                    "use json (JSONPath), jmespath, regexp or header",
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
                _parse_template_cached(node)
            except ExprError as exc:
                problems.append(_template_problem(doc, path, node, exc))
    return problems


def _is_expression_key(path: Path) -> bool:
    # ifTrue and ensure expressions are conditions, not templates.
    return bool(path) and path[-1] in ("ifTrue", "expression")


def _template_problem(doc: Located, path: Path, text: str, exc: ExprError) -> Problem:
    return Problem(doc.pos(path), f"{describe_path(path)}: {exc.message} in template {text!r}")


# --------------------------------------------------------------------------- compiler


class _Compiler:
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
        # The folders input files may be in: see _load.input_roots and load_time_roots.
        self.roots = input_roots(plan_path, options.allow_paths)
        self.load_roots = load_time_roots(plan_path, options.allow_paths)
        self.env = options.environment_variables(self.load_roots)
        self.function_refs: list[tuple[str, Path]] = []
        self.config: dict[str, Any] = self._mapping(("config",))
        self.strip_query = self._strip_query()

    # ---- plumbing

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

    def _mapping(self, path: Path) -> dict[str, Any]:
        value = self.doc.get(path)
        return value if isinstance(value, dict) else {}

    def _list(self, path: Path) -> list[Any]:
        value = self.doc.get(path)
        return value if isinstance(value, list) else []

    def base_dir(self, path: Path) -> FsPath:
        """Relative paths are relative to the file that wrote them."""
        source = FsPath(self.doc.pos(path).file)
        return source.parent if source.is_file() else FsPath.cwd()

    def template(self, path: Path, text: str) -> Template:
        try:
            return _parse_template_cached(text)
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
        value = self.value(path, self._mapping(path))
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
        if not _finite_number(value):
            self.error(path, f"{_brief(raw)} is not a number")
            return None
        if value < 0 or (positive and value == 0):
            self.error(path, f"must be {'more than' if positive else 'at least'} 0, got {value:g}")
            return None
        if integer and not float(value).is_integer():
            self.error(path, f"must be a whole number, got {value:g}")
            return None
        if most is not None and value > most:
            self.error(path, f"must be at most {most:,.0f}, got {value:g}")
            return None
        return float(value)

    def duration(self, path: Path, raw: Any) -> float | None:
        value = self.resolve(path, raw)
        if value is None:
            return None
        seconds = parse_duration(value) if isinstance(value, str) else value
        if not _finite_number(seconds):
            self.error(path, f'{_brief(raw)} is not a duration (try 30, "30s", "5m", "1h")')
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

    # ---- the plan

    def compile(self) -> Plan:
        target = self.target()
        phases = self.phases()
        scenarios = self.scenarios()
        before = self.flow(("before", "flow")) if self.healthy(("before",)) else ()
        after = self.flow(("after", "flow")) if self.healthy(("after",)) else ()
        processor = self.processor()
        self.plugins()
        expect = self._plugin_options("expect")
        default_headers = self.tmap(("config", "http", "defaults", "headers"))
        default_headers = TMap(
            default_headers.items + self.tmap(("config", "defaults", "headers")).items
        )
        return Plan(
            source=self.plan_path,
            target=target,
            phases=phases,
            scenarios=scenarios,
            before=before,
            after=after,
            variables=self.tmap(("config", "variables")),
            payloads=self.payloads(),
            default_headers=default_headers,
            default_cookie=self.tmap(("config", "defaults", "cookie")),
            default_jitter=self.default_jitter(),
            http=self.http(),
            ensure=self.ensure(),
            processor=processor,
            plugins=tuple(sorted(self._mapping(("config", "plugins")))),
            environment=self.options.environment,
            env=tuple(sorted(self.env.items())),
            secrets=tuple(
                name for name in self._list(("config", "secrets")) if isinstance(name, str)
            ),
            expect_stop_user=expect.get("reportFailuresAsErrors") is True,
            expect_default_200=expect.get("expectDefault200") is True,
            apdex_threshold_ms=self.apdex_threshold(),
            base_dir=str(FsPath(self.plan_path).resolve().parent),
            warnings=tuple(self.warnings),
            raw=self.doc.data,
        )

    def target(self) -> str:
        path = ("config", "target")
        raw = self.config.get("target")
        if raw is None or raw == "":
            environments = sorted(self._mapping(("config", "environments")))
            hint = (
                f", or choose an environment with -e ({', '.join(environments)})"
                if environments
                else ""
            )
            self.problems.append(
                Problem(
                    self.doc.pos(path), f"no target: set config.target or pass -t/--target{hint}"
                )
            )
            return ""
        if not self.healthy(path):
            return ""
        value = self.resolve(path, raw)
        if value is None:
            return ""
        target = str(value).strip()
        if not re.match(r"^https?://[^/\s]+", target, re.IGNORECASE):
            self.error(path, f"{target!r} is not an http:// or https:// URL")
        return target

    # ---- phases

    def phases(self) -> tuple[Phase, ...]:
        raw = self.config.get("phases")
        if not isinstance(raw, list) or not raw:
            # Artillery runs a single virtual user when a plan has no phases.
            return (Phase(index=0, name="one user", kind="count", duration=0.0, arrival_count=1),)
        mode = self.config.get("mode", "uniform")
        phases: list[Phase] = []
        for index, spec in enumerate(raw):
            path = ("config", "phases", index)
            if self.healthy(path) and isinstance(spec, dict):
                phase = self.phase(path, index, spec, mode)
                if phase is not None:
                    phases.append(phase)
        return tuple(phases)

    def phase(self, path: Path, index: int, spec: dict[str, Any], mode: str) -> Phase | None:
        kinds = [
            k for k in ("pause", "arrivalCount", "arrivalRate", "rampTo", "users") if k in spec
        ]
        families = {"rampTo": "arrivalRate"}
        distinct = sorted({families.get(k, k) for k in kinds})
        name = str(spec.get("name") or f"phase {index + 1}")
        if not kinds:
            if path not in self.misspelled:
                self.error(
                    path, "a phase needs one of arrivalRate, rampTo, arrivalCount, pause or users"
                )
            return None
        if len(distinct) > 1:
            self.error(
                path, f"a phase is one kind; it has both '{distinct[0]}' and '{distinct[1]}'"
            )
            return None
        closed_keys = [k for k in ("spawnRate", "rampUsers", "gracefulStop") if k in spec]
        if closed_keys and "users" not in spec:
            self.error((*path, closed_keys[0]), "goes only with 'users' (the closed model)")
            return None
        base = Phase(index=index, name=name, kind="pause", duration=0.0, pos=self.doc.pos(path))
        if "pause" in spec:
            seconds = self.duration((*path, "pause"), spec["pause"])
            return None if seconds is None else replace(base, duration=seconds)
        if "duration" not in spec:
            self.error(path, "missing required key 'duration'")
            return None
        duration = self.duration((*path, "duration"), spec["duration"])
        if duration is None:
            return None
        max_vusers = self._optional_count(path, spec, "maxVusers")
        if "users" in spec:
            return self.closed_phase(path, spec, replace(base, duration=duration))
        if "arrivalCount" in spec:
            count = self.number((*path, "arrivalCount"), spec["arrivalCount"], integer=True)
            if count is None or not self._within(
                path, "arrivalCount", count, MAX_ARRIVAL_RATE * max(duration, 1)
            ):
                return None
            return replace(
                base,
                kind="count",
                duration=duration,
                arrival_count=int(count),
                max_vusers=max_vusers,
            )
        rate = self.number((*path, "arrivalRate"), spec.get("arrivalRate", 0))
        ramp_to = self.number((*path, "rampTo"), spec["rampTo"]) if "rampTo" in spec else None
        if rate is None or ("rampTo" in spec and ramp_to is None):
            return None
        busiest = "rampTo" if (ramp_to or 0) > rate else "arrivalRate"
        if not self._within(path, busiest, max(rate, ramp_to or 0), MAX_ARRIVAL_RATE):
            return None
        phase_mode = spec.get("mode", mode)
        if ramp_to is not None:
            return replace(
                base,
                kind="ramp",
                duration=duration,
                arrival_rate=rate,
                ramp_to=ramp_to,
                max_vusers=max_vusers,
                mode=phase_mode,
            )
        if rate == 0:
            return replace(base, duration=duration)  # Artillery: a zero rate is a pause
        return replace(
            base,
            kind="rate",
            duration=duration,
            arrival_rate=rate,
            max_vusers=max_vusers,
            mode=phase_mode,
        )

    def closed_phase(self, path: Path, spec: dict[str, Any], base: Phase) -> Phase | None:
        users = self.number((*path, "users"), spec["users"], integer=True, positive=True)
        if users is None or not self._within(path, "users", users, MAX_USERS):
            return None
        spawn_rate: float | None = None
        if "spawnRate" in spec and "rampUsers" in spec:
            self.error(path, "give either 'spawnRate' or 'rampUsers', not both")
            return None
        if "spawnRate" in spec:
            spawn_rate = self.number(
                (*path, "spawnRate"), spec["spawnRate"], positive=True, most=MAX_ARRIVAL_RATE
            )
            if spawn_rate is None:
                return None
        elif "rampUsers" in spec:
            ramp = self.duration((*path, "rampUsers"), spec["rampUsers"])
            if ramp is None:
                return None
            spawn_rate = users / ramp if ramp > 0 else None
        graceful_stop = base.graceful_stop
        if "gracefulStop" in spec:
            seconds = self.duration((*path, "gracefulStop"), spec["gracefulStop"])
            if seconds is None:
                return None
            graceful_stop = seconds
        return replace(
            base,
            kind="users",
            users=int(users),
            spawn_rate=spawn_rate,
            graceful_stop=graceful_stop,
        )

    def _optional_count(
        self, path: Path, spec: dict[str, Any], key: str, most: float = MAX_CONNECTIONS
    ) -> int | None:
        if key not in spec:
            return None
        value = self.number((*path, key), spec[key], integer=True, most=most)
        return None if value is None else int(value)

    def _within(self, path: Path, key: str, value: float, limit: float) -> bool:
        if value > limit:
            self.error(
                (*path, key),
                f"{value:g} is more than one plan can run (limit {limit:g}); "
                "split the load across machines instead",
            )
            return False
        return True

    # ---- scenarios and flows

    def scenarios(self) -> tuple[Scenario, ...]:
        raw = self.doc.get(("scenarios",))
        scenarios: list[Scenario] = []
        for index, spec in enumerate(raw if isinstance(raw, list) else []):
            path: Path = ("scenarios", index)
            if not self.healthy(path) or not isinstance(spec, dict):
                continue
            weight = self.weight((*path, "weight"), spec.get("weight", 1))
            if weight is None:
                continue
            scenarios.append(
                Scenario(
                    # Artillery counts an unnamed scenario's users under its index.
                    name=str(spec.get("name") or index),
                    weight=weight,
                    flow=self.flow((*path, "flow")),
                    before_scenario=self.names(
                        (*path, "beforeScenario"), spec.get("beforeScenario")
                    ),
                    after_scenario=self.names((*path, "afterScenario"), spec.get("afterScenario")),
                    before_request=self.names((*path, "beforeRequest"), spec.get("beforeRequest")),
                    after_response=self.names((*path, "afterResponse"), spec.get("afterResponse")),
                    named=bool(spec.get("name")),
                    pos=self.doc.pos(path),
                )
            )
        if scenarios and not any(s.weight > 0 for s in scenarios) and self.healthy(("scenarios",)):
            self.error(("scenarios",), "every scenario has weight 0, so no user would run any")
        return tuple(scenarios)

    def weight(self, path: Path, raw: Any) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return None  # the schema has said what is wrong
        if not raw <= MAX_WEIGHT:  # compares exactly, even for an int past float's range
            self.error(
                path,
                f"{_number_text(raw)} is more than the largest weight, {MAX_WEIGHT:,}; "
                "weights only count relative to each other, so scale them all down",
            )
            return None
        return float(raw)

    def flow(self, path: Path) -> tuple[Step, ...]:
        raw = self.doc.get(path)
        steps: list[Step] = []
        for index, spec in enumerate(raw if isinstance(raw, list) else []):
            step_path = (*path, index)
            if self.healthy(step_path) and isinstance(spec, dict):
                step = self.step(step_path, spec)
                if step is not None:
                    steps.append(step)
        return tuple(steps)

    def step(self, path: Path, spec: dict[str, Any]) -> Step | None:
        actions = [key for key in spec if key in ACTIONS]
        if len(actions) > 1:
            self.error(
                path,
                f"a step has one action; this one has {' and '.join(repr(a) for a in actions)}",
            )
        if len(actions) != 1:
            return None  # none at all is the schema's to report
        action = actions[0]
        at = (*path, action)
        pos = self.doc.pos(path)
        if action in METHODS:
            return self.request(at, action, spec[action]) if self.healthy(at) else None
        if action == "loop":
            return self.loop(path, spec, pos)
        if action == "think":
            return self.think(path, spec, pos)
        if action == "log":
            return LogStep(self.template(at, str(spec["log"])), pos)
        if action == "parallel":
            return ParallelStep(self.flow(at), pos)
        self.function_refs.append((spec["function"], at))
        return FunctionStep(spec["function"], pos)

    def loop(self, path: Path, spec: dict[str, Any], pos: Pos) -> LoopStep | None:
        steps = self.flow((*path, "loop"))
        count: Template | tuple[int, int] | None = None
        over: Template | TList | None = None
        raw_count = spec.get("count")
        if isinstance(raw_count, int | float) and not isinstance(raw_count, bool):
            # `1e3` and `1000.0` are numbers too: never mistaken for "no count"
            number = self.number((*path, "count"), raw_count, integer=True, most=MAX_LOOP_COUNT)
            if number is None:
                return None
            count = (int(number), int(number))
        elif isinstance(raw_count, str):
            m = _RANGE.match(raw_count)
            if m:
                low, high = int(m.group(1)), int(m.group(2))
                if low > high:
                    self.error(
                        (*path, "count"), f"range {raw_count!r} goes down; write it low-high"
                    )
                    return None
                if high > MAX_LOOP_COUNT:
                    self.error((*path, "count"), f"must be at most {MAX_LOOP_COUNT:,}")
                    return None
                count = (low, high)
            else:
                count = self.template((*path, "count"), raw_count)
        raw_over = spec.get("over")
        if isinstance(raw_over, list):
            over = cast(TList, self.value((*path, "over"), raw_over))
        elif isinstance(raw_over, str):
            text = raw_over if "{{" in raw_over else "{{ " + raw_over.strip() + " }}"
            try:
                over = _parse_template_cached(text)
            except ExprError as exc:
                self.error((*path, "over"), f"{raw_over!r} is not a variable name: {exc.message}")
                return None
        while_true = spec.get("whileTrue")
        if while_true is not None:
            self.function_refs.append((while_true, (*path, "whileTrue")))
        if count is None and over is None and while_true is None:
            self.warn(
                (*path, "loop"), "has no count, over or whileTrue: it repeats until the run ends"
            )
        return LoopStep(steps=steps, count=count, over=over, while_true=while_true, pos=pos)

    def think(self, path: Path, spec: dict[str, Any], pos: Pos) -> ThinkStep | None:
        raw = spec["think"]
        at = (*path, "think")
        jitter, jitter_seconds = self.jitter((*path, "jitter"), spec.get("jitter"))
        if isinstance(raw, dict):
            low = self.duration((*at, "min"), raw["min"])
            high = self.duration((*at, "max"), raw["max"])
            if low is None or high is None:
                return None
            if low > high:
                self.error(at, f"min ({low:g}s) is more than max ({high:g}s)")
                return None
            return ThinkStep(
                low=low, high=high, jitter=jitter, jitter_seconds=jitter_seconds, pos=pos
            )
        if isinstance(raw, str) and "{{" in raw:
            return ThinkStep(
                seconds=self.template(at, raw),
                jitter=jitter,
                jitter_seconds=jitter_seconds,
                pos=pos,
            )
        seconds = self.duration(at, raw)
        if seconds is None:
            return None
        return ThinkStep(seconds=seconds, jitter=jitter, jitter_seconds=jitter_seconds, pos=pos)

    def jitter(self, path: Path, raw: Any) -> tuple[float | None, float | None]:
        """`"10%"` is a fraction of the think time; a plain number is ± seconds."""
        if raw is None:
            return None, None
        if isinstance(raw, str):
            m = _PERCENT.match(raw)
            if m:
                return float(m.group(1)) / 100.0, None
            seconds = parse_duration(raw)
            if seconds is None:
                self.error(path, f"{raw!r} is not a percentage or a number of seconds")
            return None, seconds
        return None, float(raw)

    def default_jitter(self) -> float | None:
        think = self.doc.get(("config", "defaults", "think"))
        if isinstance(think, dict) and "jitter" in think and self.healthy(("config", "defaults")):
            fraction, _ = self.jitter(("config", "defaults", "think", "jitter"), think["jitter"])
            return fraction
        return None

    # ---- requests

    def request(self, path: Path, method: str, spec: dict[str, Any]) -> Request:
        url = str(spec["url"])
        form_data = spec.get("formData")
        return Request(
            method=cast(Method, method.upper()),
            url=self.template((*path, "url"), url),
            name=spec.get("name"),
            headers=self.tmap((*path, "headers")),
            qs=self.tmap((*path, "qs")),
            json=self.value((*path, "json"), spec.get("json")),
            has_json="json" in spec,
            body=self.value((*path, "body"), spec.get("body")),
            form=self.tmap((*path, "form")) if "form" in spec else None,
            form_data=self.form_data((*path, "formData"), form_data)
            if form_data is not None
            else None,
            cookie=self.tmap((*path, "cookie")),
            auth=self.auth((*path, "auth"), spec.get("auth")),
            follow_redirect=bool(spec.get("followRedirect", True)),
            gzip=bool(spec.get("gzip", spec.get("compress", False))),
            captures=self.captures((*path, "capture"), spec.get("capture")),
            expects=self.expects((*path, "expect"), spec.get("expect")),
            matches=self.matches((*path, "match"), spec.get("match")),
            if_true=self.condition((*path, "ifTrue"), spec.get("ifTrue")),
            probability=spec.get("probability"),
            before_request=self.names((*path, "beforeRequest"), spec.get("beforeRequest")),
            after_response=self.names((*path, "afterResponse"), spec.get("afterResponse")),
            strip_query=self.strip_query,
            pos=self.doc.pos(path),
        )

    def auth(self, path: Path, raw: dict[str, Any] | None) -> tuple[Template, Template] | None:
        if raw is None:
            return None
        return (
            self.template((*path, "user"), str(raw["user"])),
            self.template((*path, "pass"), str(raw.get("pass", ""))),
        )

    def form_data(self, path: Path, raw: dict[str, Any]) -> TMap:
        fields: list[tuple[str, Value]] = []
        for name, spec in raw.items():
            at = (*path, name)
            if isinstance(spec, dict) and "fromFile" in spec:
                base_dir = str(self.base_dir((*at, "fromFile")))
                self.check_upload((*at, "fromFile"), spec["fromFile"], base_dir)
                fields.append(
                    (
                        name,
                        ConfinedFile(
                            path=self.template((*at, "fromFile"), spec["fromFile"]),
                            base_dir=base_dir,
                            roots=self.roots,
                            content_type=self.template((*at, "contentType"), spec["contentType"])
                            if "contentType" in spec
                            else None,
                            filename=self.template((*at, "filename"), spec["filename"])
                            if "filename" in spec
                            else None,
                        ),
                    )
                )
            elif isinstance(spec, dict):
                fields.append((name, self.value((*at, "value"), spec.get("value"))))
            else:
                fields.append((name, self.value(at, spec)))
        return TMap(tuple(fields))

    def check_upload(self, path: Path, raw: Any, base_dir: str) -> None:
        """A fromFile without templates is checked now, as the run would: inside the
        plan's folder or an --allow-path (not the current folder: a rendered one may not
        be either), a regular file."""
        if not isinstance(raw, str) or "{{" in raw:
            return
        file = FsPath(base_dir) / raw
        real = outside_roots(file, self.roots)
        if real is not None:
            message = confinement_message(file, real).replace(", the current folder", "")
            self.error(path, message)
            return
        problem = check_input_file(file, self.roots)
        if problem is not None:
            self.error(path, problem)

    def condition(self, path: Path, raw: str | None) -> Any:
        if raw is None:
            return None
        try:
            return parse_condition(raw)
        except ExprError as exc:
            self.error(path, f"{exc.message} in expression {raw!r}")
            return None

    def captures(self, path: Path, raw: Any) -> tuple[Capture, ...]:
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        out: list[Capture] = []
        for index, spec in enumerate(items):
            at = (*path, index) if isinstance(raw, list) else path
            if self.healthy(at) and isinstance(spec, dict):
                capture = self.capture(at, spec, spec.get("as", ""))
                if capture is not None:
                    out.append(capture)
        return tuple(out)

    def capture(self, path: Path, spec: dict[str, Any], as_name: str) -> Capture | None:
        kinds = [k for k in ("json", "jmespath", "regexp", "header") if k in spec]
        if len(kinds) != 1:
            found = f"has {' and '.join(kinds)}" if kinds else "has none"
            self.error(
                path, f"a capture takes one of json, jmespath, regexp or header; this one {found}"
            )
            return None
        kind = kinds[0]
        source = str(spec[kind])
        base = Capture(
            kind="header",
            as_name=as_name,
            source=source,
            strict=bool(spec.get("strict", True)),
            pos=self.doc.pos(path),
        )
        try:
            if kind == "json":
                jmes = compile_jmespath(jsonpath_to_jmespath(source), source)
                return replace(base, kind="json", path=jmes)
            if kind == "jmespath":
                return replace(base, kind="jmespath", path=compile_jmespath(source))
            if kind == "regexp":
                group = spec.get("group")
                pattern = compile_regexp(source, str(spec.get("flags", "")))
                if isinstance(group, int) and group > pattern.groups:
                    self.error(
                        (*path, "group"), f"the regexp has {pattern.groups} groups, not {group}"
                    )
                    return None
                if (
                    isinstance(group, str)
                    and group not in pattern.groupindex
                    and not group.isdigit()
                ):
                    self.error((*path, "group"), f"the regexp has no group named {group!r}")
                    return None
                return replace(base, kind="regexp", regexp=pattern, group=group)
        except ExprError as exc:
            self.error((*path, kind), exc.message)
            return None
        return replace(base, header=source.lower())

    def matches(self, path: Path, raw: Any) -> tuple[Match, ...]:
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        out: list[Match] = []
        for index, spec in enumerate(items):
            at = (*path, index) if isinstance(raw, list) else path
            capture = (
                self.capture(at, spec, "") if self.healthy(at) and isinstance(spec, dict) else None
            )
            if capture is not None:
                out.append(
                    Match(capture, self.value((*at, "value"), spec["value"]), self.doc.pos(at))
                )
        return tuple(out)

    def expects(self, path: Path, raw: Any) -> tuple[Expect, ...]:
        entries: list[tuple[Path, str, Any]] = []
        if isinstance(raw, dict) and self.healthy(path):
            entries = [((*path, k), k, v) for k, v in raw.items()]
        elif isinstance(raw, list):
            for index, item in enumerate(raw):
                if isinstance(item, dict) and self.healthy((*path, index)):
                    entries.extend(((*path, index, k), k, v) for k, v in item.items())
        out: list[Expect] = []
        for at, kind, value in entries:
            if kind not in EXPECT_KINDS:
                continue  # an unknown check, reported by the schema
            expect = self.expect(at, kind, value)
            if expect is not None:
                out.append(expect)
        return tuple(out)

    def expect(self, path: Path, kind: str, raw: Any) -> Expect | None:
        pos = self.doc.pos(path)
        if kind in ("statusCode", "notStatusCode"):
            codes = raw if isinstance(raw, list) else [raw]
            for i, code in enumerate(codes):
                if not (isinstance(code, int) and not isinstance(code, bool)) and not (
                    isinstance(code, str) and (code.strip().isdigit() or "{{" in code)
                ):
                    self.error(
                        (*path, i) if isinstance(raw, list) else path,
                        f"{code!r} is not a status code",
                    )
                    return None
            return Expect(kind, tuple(self.value(path, c) for c in codes), pos)  # type: ignore[arg-type]
        if kind == "jmespath":
            try:
                return Expect("jmespath", (raw,), pos, path=compile_jmespath(raw))
            except ExprError as exc:
                self.error(path, exc.message)
                return None
        if kind == "matchesRegexp" and "{{" not in raw:
            try:
                return Expect("matchesRegexp", (raw,), pos, regexp=compile_regexp(raw))
            except ExprError as exc:
                self.error(path, exc.message)
                return None
        args = raw if isinstance(raw, list) else [raw]
        return Expect(kind, tuple(self.value(path, a) for a in args), pos)  # type: ignore[arg-type]

    # ---- config pieces

    def payloads(self) -> tuple[Payload, ...]:
        raw = self.config.get("payload")
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        out: list[Payload] = []
        for index, spec in enumerate(items):
            path = ("config", "payload", index) if isinstance(raw, list) else ("config", "payload")
            if isinstance(spec, dict) and self.healthy(path):
                payload = self.payload(path, spec)
                if payload is not None:
                    out.append(payload)
        return tuple(out)

    def payload(self, path: Path, spec: dict[str, Any]) -> Payload | None:
        if "path" in spec:
            raw_path = self.resolve((*path, "path"), spec["path"])
            if raw_path is None:
                return None
            file = self.base_dir((*path, "path")) / str(raw_path)
        elif self.options.payload:
            file = FsPath(self.options.payload)
        else:
            self.error(path, "payload has no 'path': give its CSV file with -p/--payload")
            return None
        where = (*path, "path") if "path" in spec else path
        origin = "" if "path" in spec else " (from -p/--payload)"
        real = outside_roots(file, self.load_roots)
        if real is not None:
            self.error(where, f"payload: {confinement_message(file, real)}{origin}")
            return None
        file = file.resolve()
        if not file.exists():
            self.error(where, f"payload file not found: {file}{origin}")
            return None
        problem = check_input_file(file, self.load_roots, MAX_PAYLOAD_BYTES)
        if problem is not None:
            self.error(where, f"payload {problem}{origin}")
            return None
        options: dict[str, Any] = spec.get("options") or {}
        if spec.get("loadAll") and not spec.get("name"):
            self.error(path, "loadAll needs 'name': the variable that will hold all the rows")
            return None
        return Payload(
            path=str(file),
            fields=tuple(spec.get("fields", ())),
            order=spec.get("order", "random"),
            skip_header=bool(spec.get("skipHeader", False)),
            delimiter=str(spec.get("delimiter", options.get("delimiter", ","))),
            cast=bool(spec.get("cast", True)),
            skip_empty_lines=bool(spec.get("skipEmptyLines", True)),
            load_all=bool(spec.get("loadAll", False)),
            name=spec.get("name"),
            pos=self.doc.pos(path),
        )

    def http(self) -> HttpSettings:
        base = ("config", "http")
        spec = self._mapping(base)
        timeout = DEFAULT_TIMEOUT_SECONDS
        if "timeout" in spec and self.healthy((*base, "timeout")):
            timeout = (
                self.number(
                    (*base, "timeout"), spec["timeout"], positive=True, most=MAX_TIMEOUT_SECONDS
                )
                or timeout
            )
        pool = self._optional_count(base, spec, "pool") if self.healthy((*base, "pool")) else None
        max_sockets = (
            self._optional_count(base, spec, "maxSockets")
            if self.healthy((*base, "maxSockets"))
            else None
        )
        max_body = (
            self._optional_count(base, spec, "maxBodyBytes", most=MAX_BODY_LIMIT_BYTES)
            if self.healthy((*base, "maxBodyBytes"))
            else None
        )
        tls = self._mapping(("config", "tls"))
        return HttpSettings(
            timeout=timeout,
            pool=pool or None,
            max_sockets=max_sockets or None,
            extended_metrics=bool(spec.get("extendedMetrics", False)),
            reject_unauthorized=bool(tls.get("rejectUnauthorized", True)),
            max_body_bytes=max_body or HttpSettings.max_body_bytes,
            expected_statuses=self.expected_statuses((*base, "expectedStatuses")),
        )

    def expected_statuses(self, path: Path) -> tuple[tuple[int, int], ...] | None:
        """`[200, "2xx", "200-299"]` → inclusive ranges; None when not given."""
        items = self.doc.get(path)
        if not isinstance(items, list) or not self.healthy(path):
            return None
        spans = [self._status_span((*path, i), item) for i, item in enumerate(items)]
        if any(span is None for span in spans):
            return None
        return tuple(span for span in spans if span is not None)

    def _status_span(self, path: Path, item: Any) -> tuple[int, int] | None:
        if isinstance(item, int | float) and not isinstance(item, bool):
            low = high = int(item)  # the schema lets only whole numbers through
        elif m := _STATUS_CODE.match(str(item)):
            low = high = int(m.group(1))
        elif m := _STATUS_CLASS.match(str(item)):
            digit = int(m.group(1))
            if not LOWEST_STATUS // 100 <= digit <= HIGHEST_STATUS // 100:
                self.error(path, f"{item!r} is not a status class (1xx to 5xx)")
                return None
            low, high = digit * 100, digit * 100 + 99
        elif m := _RANGE.match(str(item)):
            low, high = int(m.group(1)), int(m.group(2))
            if low > high:
                self.error(path, f"range {item!r} goes down; write it low-high")
                return None
        else:
            self.error(path, f'{item!r} is not a status: write 200, "2xx" or "200-299"')
            return None
        for code in (low, high):
            if not LOWEST_STATUS <= code <= HIGHEST_STATUS:
                self.error(
                    path,
                    f"{code} is not an HTTP status ({LOWEST_STATUS} to {HIGHEST_STATUS})",
                )
                return None
        return low, high

    def ensure(self) -> tuple[Threshold, ...]:
        out: list[Threshold] = []
        for base in (("config", "ensure"), ("config", "plugins", "ensure")):
            if self.healthy(base):
                out.extend(self._ensure_block(base, self._mapping(base)))
        return tuple(out)

    def _ensure_block(self, base: Path, spec: dict[str, Any]) -> Iterator[Threshold]:
        for key, value in spec.items():
            at = (*base, key)
            if not self.healthy(at):
                continue
            if key == "thresholds":
                for i, item in enumerate(value):
                    if not self.healthy((*at, i)):
                        continue
                    for metric, limit in item.items():
                        yield Threshold(
                            metric,
                            "<",
                            float(limit),
                            source=f"{metric} < {limit:g}",
                            pos=self.doc.pos((*at, i)),
                        )
            elif key == "conditions":
                for i, item in enumerate(value):
                    if not self.healthy((*at, i)):
                        continue
                    condition = self.condition((*at, i, "expression"), item["expression"])
                    if condition is not None:
                        yield Threshold(
                            None,
                            None,
                            None,
                            condition=condition,
                            strict=item.get("strict", True),
                            source=item["expression"],
                            pos=self.doc.pos((*at, i)),
                        )
            elif key == "maxErrorRate":
                yield Threshold(
                    "error_rate",
                    "<=",
                    float(value),
                    # Artillery's maxErrorRate counts failed users: say so in every table.
                    source=f"maxErrorRate: user_failure_rate <= {value:g}%",
                    pos=self.doc.pos(at),
                )
            elif key in LEGACY_ENSURE:
                yield Threshold(
                    key, "<", float(value), source=f"{key} < {value:g}", pos=self.doc.pos(at)
                )

    def plugins(self) -> None:
        """One warning line for each plugin, or option of a built-in plugin, that yamlload
        accepts without acting on it: a plan that asks for something never goes silent."""
        base = ("config", "plugins")
        for name, spec in self._mapping(base).items():
            at = (*base, name)
            if name == "publish-metrics":
                self.warn(
                    at, "not supported by yamlload: no metrics will be published", at_key=True
                )
            elif name not in BUILTIN_PLUGINS:
                self.warn(
                    at, f"plugin '{name}' is not built into yamlload and is ignored", at_key=True
                )
            elif name in PLUGIN_OPTIONS and isinstance(spec, dict) and self.healthy(at):
                for option, value in spec.items():
                    why = self._plugin_option_problem(name, option, value)
                    if why:
                        self.warn((*at, option), why, at_key=True)
        if "apdex" in self.config and "apdex" not in self._mapping(base):
            self.warn(
                ("config", "apdex"),
                "sets the threshold of the apdex plugin, which is off: add "
                "config.plugins.apdex to measure apdex (as in Artillery)",
                at_key=True,
            )

    @staticmethod
    def _plugin_option_problem(plugin: str, option: str, value: Any) -> str | None:
        known = PLUGIN_OPTIONS[plugin]
        if option in known:
            why = known[option].get(value)
            return f"{json.dumps(value)} is not supported, ignored: {why}" if why else None
        unsupported = UNSUPPORTED_PLUGIN_OPTIONS.get((plugin, option))
        if unsupported:
            return f"not supported, ignored: {unsupported}"
        options = sorted({*known, *(o for p, o in UNSUPPORTED_PLUGIN_OPTIONS if p == plugin)})
        guess = difflib.get_close_matches(option, options, n=1, cutoff=0.6)
        hint = f"; did you mean '{guess[0]}'?" if guess else f" (known: {', '.join(options)})"
        return f"unknown option of the {plugin} plugin, ignored{hint}"

    def _plugin_options(self, plugin: str) -> dict[str, Any]:
        """A built-in plugin's options, when it is listed and passed the schema."""
        path = ("config", "plugins", plugin)
        return self._mapping(path) if self.healthy(path) else {}

    def _strip_query(self) -> bool:
        # Artillery adds metrics-by-endpoint with stripQueryString: true to a plan that
        # does not list the plugin; listed, the option defaults to false.
        plugins = self._mapping(("config", "plugins"))
        if "metrics-by-endpoint" not in plugins:
            return True
        return self._plugin_options("metrics-by-endpoint").get("stripQueryString") is True

    def apdex_threshold(self) -> float | None:
        """Artillery's apdex plugin reads config.apdex.threshold, then its own, then 500."""
        if "apdex" not in self._mapping(("config", "plugins")):
            return None
        for path in (("config", "apdex"), ("config", "plugins", "apdex")):
            threshold = self._mapping(path).get("threshold") if self.healthy(path) else None
            if _finite_number(threshold) and threshold > 0:
                return float(threshold)
        return DEFAULT_APDEX_THRESHOLD_MS

    def processor(self) -> str | None:
        path = ("config", "processor")
        raw = self.config.get("processor")
        defined: set[str] = set()
        module: str | None = None
        if isinstance(raw, str) and self.healthy(path):
            written = self.base_dir(path) / raw
            real = outside_roots(written, self.load_roots)
            file = written.resolve()
            problem = (
                confinement_message(written, real)
                if real is not None
                else check_input_file(file, self.load_roots, MAX_PLAN_BYTES)
                if file.exists()
                else None
            )
            if problem is not None:
                self.error(path, f"processor {problem}")
            elif not file.is_file():
                self.error(path, f"processor file not found: {file}")
            elif file.suffix != ".py":
                self.error(path, f"processor must be a Python file (.py), got {file.name}")
            else:
                defined = self._functions_in(path, file)
                module = str(file)
        for name, at in self.function_refs:
            if raw is None:
                self.error(
                    at, f"'{name}' names a processor function, but config.processor is not set"
                )
            elif module is not None and name not in defined:
                known = ", ".join(sorted(defined)) or "none"
                defined_in = FsPath(module).name
                self.error(
                    at, f"function '{name}' is not defined in {defined_in} (it defines: {known})"
                )
        return module

    def _functions_in(self, path: Path, file: FsPath) -> set[str]:
        """Top-level names the module defines, read without running it."""
        try:
            tree = ast.parse(read_bounded(file, MAX_PLAN_BYTES), filename=str(file))
        except (SyntaxError, ValueError, OSError) as exc:
            self.error(path, f"cannot read processor {file.name}: {exc}")
            return set()
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
        return names


def _finite_number(value: Any) -> TypeGuard[int | float]:
    """A number a float can hold: an integer too big for one (YAML reads 1 followed by
    400 zeros as an int) is not, and asking math.isfinite about it would raise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= sys.float_info.max  # int against float compares exactly
    return math.isfinite(value)


def _brief(raw: Any) -> str:
    """A value for a message, cut short: YAML reads a 400-digit number as an int."""
    text = repr(raw)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _number_text(value: float) -> str:
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
