"""The rest of config: target, payloads (their CSVs read now), http and tls settings,
plugins (a warning for each thing accepted but not acted on), apdex, and the
processor (its top-level names read without running it)."""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Any

from ...errors import Problem, UsageError
from ..files import (
    MAX_PAYLOAD_BYTES,
    MAX_PLAN_BYTES,
    check_input_file,
    confinement_message,
    outside_roots,
    read_bounded,
)
from ..ir import TRANSPORT_VARIABLE, TRANSPORTS, HttpSettings, Payload
from ..payload import parse_rows
from ..secrets import mask_userinfo
from ..source import Path
from .context import RANGE, Context, finite_number

DEFAULT_TIMEOUT_SECONDS = 10.0
# A request that may wait longer than a day is a typo; past float range it overflows the loop.
MAX_TIMEOUT_SECONDS = 24 * 3600
# Connection counts (pool, maxSockets, maxVusers) share the users' ceiling.
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
_STATUS_CODE = re.compile(r"^\s*([0-9]+)\s*$")
_STATUS_CLASS = re.compile(r"^\s*([0-9])xx\s*$", re.IGNORECASE)


def compile_target(cx: Context) -> str:
    path = ("config", "target")
    raw = cx.config.get("target")
    if raw is None or raw == "":
        environments = sorted(cx.mapping(("config", "environments")))
        hint = (
            f", or choose an environment with -e ({', '.join(environments)})"
            if environments
            else ""
        )
        cx.problems.append(
            Problem(cx.doc.pos(path), f"no target: set config.target or pass -t/--target{hint}")
        )
        return ""
    if not cx.healthy(path):
        return ""
    value = cx.resolve(path, raw)
    if value is None:
        return ""
    target = str(value).strip()
    if re.match(r"^wss?://[^/\s]+", target, re.IGNORECASE):
        return _socket_target(cx, path, target)
    if not re.match(r"^https?://[^/\s]+", target, re.IGNORECASE):
        cx.error(
            path,
            f"{mask_userinfo(target)!r} is not an http:// or https:// URL "
            "(nor ws:// or wss://, for WebSocket scenarios)",
        )
    return target


def _socket_target(cx: Context, path: Path, target: str) -> str:
    """A ws:// or wss:// target serves WebSocket scenarios only (issue 19)."""
    engines = [
        str(s.get("engine") or "http") if isinstance(s, dict) else "http"
        for s in cx.sequence(("scenarios",))
    ]
    if any(engine == "http" for engine in engines) or any(
        cx.doc.get((k,)) is not None for k in ("before", "after")
    ):
        cx.error(
            path,
            f"{mask_userinfo(target)!r} is a WebSocket URL, but the plan has HTTP steps; "
            "give an http(s):// target (ws scenarios connect to it as ws(s)://) or set "
            "engine: ws on every scenario",
        )
    return target


def compile_payloads(cx: Context) -> tuple[Payload, ...]:
    raw = cx.config.get("payload")
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out: list[Payload] = []
    for index, spec in enumerate(items):
        path = ("config", "payload", index) if isinstance(raw, list) else ("config", "payload")
        if isinstance(spec, dict) and cx.healthy(path):
            payload = _payload(cx, path, spec)
            if payload is not None:
                out.append(payload)
        elif isinstance(spec, dict) and isinstance(spec.get("path"), str):
            # A misspelled key beside it must not hide a missing file: every mistake
            # is reported at once.
            _payload_file(cx, path, spec)
    return tuple(out)


def _payload(cx: Context, path: Path, spec: dict[str, Any]) -> Payload | None:
    found = _payload_file(cx, path, spec)
    if found is None:
        return None
    file, where, origin = found
    options: dict[str, Any] = spec.get("options") or {}
    if spec.get("loadAll") and not spec.get("name"):
        cx.error(path, "loadAll needs 'name': the variable that will hold all the rows")
        return None
    payload = Payload(
        path=str(file),
        fields=tuple(spec.get("fields", ())),
        order=spec.get("order", "random"),
        skip_header=bool(spec.get("skipHeader", False)),
        delimiter=str(spec.get("delimiter", options.get("delimiter", ","))),
        cast=bool(spec.get("cast", True)),
        skip_empty_lines=bool(spec.get("skipEmptyLines", True)),
        load_all=bool(spec.get("loadAll", False)),
        name=spec.get("name"),
        pos=cx.doc.pos(path),
    )
    # Parsed now, so that `validate` refuses the CSV `run` would, and the run uses
    # these rows rather than reading the file again.
    try:
        rows = parse_rows(payload)
    except UsageError as exc:
        cx.error(where, f"{exc}{origin}")
        return None
    return replace(payload, rows=rows)


def _payload_file(cx: Context, path: Path, spec: dict[str, Any]) -> tuple[FsPath, Path, str] | None:
    """The payload's CSV file, checked (where its readers may be, regular, not too big);
    with where to report a problem with it, and which flag named it."""
    if "path" in spec:
        raw_path = cx.resolve((*path, "path"), spec["path"])
        if raw_path is None:
            return None
        file = cx.base_dir((*path, "path")) / str(raw_path)
    elif cx.options.payload:
        file = FsPath(cx.options.payload)
    else:
        cx.error(path, "payload has no 'path': give its CSV file with -p/--payload")
        return None
    where = (*path, "path") if "path" in spec else path
    origin = "" if "path" in spec else " (from -p/--payload)"
    real = outside_roots(file, cx.load_roots)
    if real is not None:
        cx.error(where, f"payload: {confinement_message(file, real)}{origin}")
        return None
    file = file.resolve()
    if not file.exists():
        cx.error(where, f"payload file not found: {file}{origin}")
        return None
    problem = check_input_file(file, cx.load_roots, MAX_PAYLOAD_BYTES)
    if problem is not None:
        cx.error(where, f"payload {problem}{origin}")
        return None
    return file, where, origin


def compile_http(cx: Context) -> HttpSettings:
    base = ("config", "http")
    spec = cx.mapping(base)
    timeout = DEFAULT_TIMEOUT_SECONDS
    if "timeout" in spec and cx.healthy((*base, "timeout")):
        timeout = (
            cx.number((*base, "timeout"), spec["timeout"], positive=True, most=MAX_TIMEOUT_SECONDS)
            or timeout
        )
    pool = cx.optional_count(base, spec, "pool") if cx.healthy((*base, "pool")) else None
    max_sockets = (
        cx.optional_count(base, spec, "maxSockets") if cx.healthy((*base, "maxSockets")) else None
    )
    max_body = (
        cx.optional_count(base, spec, "maxBodyBytes", most=MAX_BODY_LIMIT_BYTES)
        if cx.healthy((*base, "maxBodyBytes"))
        else None
    )
    tls = cx.mapping(("config", "tls"))
    return HttpSettings(
        timeout=timeout,
        pool=pool or None,
        max_sockets=max_sockets or None,
        extended_metrics=bool(spec.get("extendedMetrics", False)),
        reject_unauthorized=bool(tls.get("rejectUnauthorized", True)),
        max_body_bytes=max_body or HttpSettings.max_body_bytes,
        expected_statuses=_expected_statuses(cx, (*base, "expectedStatuses")),
        transport=str(spec.get("transport") or _default_transport(cx)),
    )


def _default_transport(cx: Context) -> str:
    """The transport of a plan that names none: YAMLLOAD_TRANSPORT when set, so a team
    can move every plan to one transport at once, else HttpSettings' default."""
    named = cx.env.get(TRANSPORT_VARIABLE, "").strip().lower()
    if not named:
        return HttpSettings.transport
    if named not in TRANSPORTS:
        cx.error(
            ("config",),
            f"the environment variable {TRANSPORT_VARIABLE}={named}: must be one of "
            f"{', '.join(TRANSPORTS)}",
        )
        return HttpSettings.transport
    return named


def _expected_statuses(cx: Context, path: Path) -> tuple[tuple[int, int], ...] | None:
    """`[200, "2xx", "200-299"]` → inclusive ranges; None when not given."""
    items = cx.doc.get(path)
    if not isinstance(items, list) or not cx.healthy(path):
        return None
    spans = [_status_span(cx, (*path, i), item) for i, item in enumerate(items)]
    if any(span is None for span in spans):
        return None
    return tuple(span for span in spans if span is not None)


def _status_span(cx: Context, path: Path, item: Any) -> tuple[int, int] | None:
    if isinstance(item, int | float) and not isinstance(item, bool):
        low = high = int(item)  # the schema lets only whole numbers through
    elif m := _STATUS_CODE.match(str(item)):
        low = high = int(m.group(1))
    elif m := _STATUS_CLASS.match(str(item)):
        digit = int(m.group(1))
        if not LOWEST_STATUS // 100 <= digit <= HIGHEST_STATUS // 100:
            cx.error(path, f"{item!r} is not a status class (1xx to 5xx)")
            return None
        low, high = digit * 100, digit * 100 + 99
    elif m := RANGE.match(str(item)):
        low, high = int(m.group(1)), int(m.group(2))
        if low > high:
            cx.error(path, f"range {item!r} goes down; write it low-high")
            return None
    else:
        cx.error(path, f'{item!r} is not a status: write 200, "2xx" or "200-299"')
        return None
    for code in (low, high):
        if not LOWEST_STATUS <= code <= HIGHEST_STATUS:
            cx.error(
                path,
                f"{code} is not an HTTP status ({LOWEST_STATUS} to {HIGHEST_STATUS})",
            )
            return None
    return low, high


def check_plugins(cx: Context) -> None:
    """One warning line for each plugin, or option of a built-in plugin, that yamlload
    accepts without acting on it: a plan that asks for something never goes silent."""
    base = ("config", "plugins")
    for name, spec in cx.mapping(base).items():
        at = (*base, name)
        if name == "publish-metrics":
            continue  # read by publish.py: live outputs
        if name not in BUILTIN_PLUGINS:
            cx.warn(at, f"plugin '{name}' is not built into yamlload and is ignored", at_key=True)
        elif name in PLUGIN_OPTIONS and isinstance(spec, dict) and cx.healthy(at):
            for option, value in spec.items():
                why = _plugin_option_problem(name, option, value)
                if why:
                    cx.warn((*at, option), why, at_key=True)
    if "apdex" in cx.config and "apdex" not in cx.mapping(base):
        cx.warn(
            ("config", "apdex"),
            "sets the threshold of the apdex plugin, which is off: add "
            "config.plugins.apdex to measure apdex (as in Artillery)",
            at_key=True,
        )


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


def apdex_threshold(cx: Context) -> float | None:
    """Artillery's apdex plugin reads config.apdex.threshold, then its own, then 500."""
    if "apdex" not in cx.mapping(("config", "plugins")):
        return None
    for path in (("config", "apdex"), ("config", "plugins", "apdex")):
        threshold = cx.mapping(path).get("threshold") if cx.healthy(path) else None
        if finite_number(threshold) and threshold > 0:
            return float(threshold)
    return DEFAULT_APDEX_THRESHOLD_MS


def compile_processor(cx: Context) -> str | None:
    path = ("config", "processor")
    raw = cx.config.get("processor")
    defined: set[str] = set()
    module: str | None = None
    if isinstance(raw, str) and cx.healthy(path):
        written = cx.base_dir(path) / raw
        real = outside_roots(written, cx.load_roots)
        file = written.resolve()
        problem = (
            confinement_message(written, real)
            if real is not None
            else check_input_file(file, cx.load_roots, MAX_PLAN_BYTES)
            if file.exists()
            else None
        )
        if problem is not None:
            cx.error(path, f"processor {problem}")
        elif not file.is_file():
            cx.error(path, f"processor file not found: {file}")
        elif file.suffix != ".py":
            cx.error(path, f"processor must be a Python file (.py), got {file.name}")
        else:
            defined = _functions_in(cx, path, file)
            module = str(file)
    for name, at in cx.function_refs:
        if raw is None:
            cx.error(at, f"'{name}' names a processor function, but config.processor is not set")
        elif module is not None and name not in defined:
            known = ", ".join(sorted(defined)) or "none"
            defined_in = FsPath(module).name
            cx.error(at, f"function '{name}' is not defined in {defined_in} (it defines: {known})")
    return module


def _functions_in(cx: Context, path: Path, file: FsPath) -> set[str]:
    """Top-level names the module defines, read without running it."""
    try:
        tree = ast.parse(read_bounded(file, MAX_PLAN_BYTES), filename=str(file))
    except (SyntaxError, ValueError, OSError) as exc:
        cx.error(path, f"cannot read processor {file.name}: {exc}")
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
