"""config.plugins.publish-metrics (Artillery's list of reporters) as live outputs:
`statsd`, `datadog` (through the Datadog agent's DogStatsD port: yamlload never calls
Datadog's HTTP API) and `prometheus` (a Pushgateway). Any other type, and any option
yamlload does not act on, gets one warning line; a value that cannot work (a port out
of range, no Pushgateway URL) is a positioned error, before any traffic."""

from __future__ import annotations

import re
from typing import Any

from ..ir import LiveOutput
from ..secrets import mask_userinfo
from ..source import Path, describe_path
from .context import Context

PUBLISH: Path = ("config", "plugins", "publish-metrics")
# Where Artillery's statsd and datadog reporters send when the plan names no agent.
DEFAULT_STATSD_HOST, DEFAULT_STATSD_PORT = "127.0.0.1", 8125
# Artillery's own prefix for statsd and datadog, kept so that a plan moved over keeps the
# names its dashboards chart (artillery.http.requests, artillery.vusers.created...).
ARTILLERY_STATSD_PREFIX = "artillery."
HIGHEST_PORT = 65535
# Options each type reads, besides `type`.
READ_OPTIONS: dict[str, frozenset[str]] = {
    "statsd": frozenset({"host", "port", "prefix", "tags", "includeOnly", "excluded"}),
    "datadog": frozenset({"host", "port", "prefix", "tags", "includeOnly", "excluded"}),
    "prometheus": frozenset({"pushgateway", "prefix", "tags", "includeOnly", "excluded"}),
}
# The datadog reporter's options for Datadog's HTTP API, which yamlload never calls: one
# warning line says so, and where the metrics go instead.
DATADOG_API_OPTIONS = ("apiKey", "appKey", "apiHost")
# Options Artillery knows that yamlload accepts without acting on them, and why.
IGNORED_OPTIONS: dict[str, dict[str, str]] = {
    "datadog": {
        "event": "Datadog events are not sent",
        "traces": "traces are not sent",
    },
    "prometheus": {"ca": "a custom CA is not supported: the system's CAs are trusted"},
}
# Characters a StatsD line gives a meaning to: never inside a prefix.
_STATSD_SPECIAL = re.compile(r"[:|@#,\s]")
_PROMETHEUS_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# A port written as a string: ASCII digits only (str.isdigit would take "²").
_DIGITS = re.compile(r"[0-9]+")


def compile_live_outputs(cx: Context) -> tuple[LiveOutput, ...]:
    """Each publish-metrics entry yamlload can send, in order."""
    if not cx.healthy(PUBLISH):
        return ()
    raw = cx.doc.get(PUBLISH)
    if raw is not None and not isinstance(raw, list):
        cx.warn(PUBLISH, "expected a list of reporters ({type: statsd, ...}); ignored", at_key=True)
        return ()
    outputs: list[LiveOutput] = []
    for index, spec in enumerate(raw or []):
        path = (*PUBLISH, index)
        if isinstance(spec, dict) and cx.healthy(path):
            output = _reporter(cx, path, spec)
            if output is not None:
                outputs.append(output)
    return tuple(outputs)


def _reporter(cx: Context, path: Path, spec: dict[str, Any]) -> LiveOutput | None:
    kind = spec.get("type")
    if kind not in READ_OPTIONS:
        supported = ", ".join(READ_OPTIONS)
        cx.warn(
            (*path, "type"),
            f"reporter {kind!r} is not supported by yamlload and is ignored "
            f"(supported: {supported})",
        )
        return None
    _warn_options(cx, path, spec, str(kind))
    before = len(cx.problems)
    if kind == "prometheus":
        target, prefix = _pushgateway(cx, path, spec), _prometheus_prefix(cx, path, spec)
    else:
        target, prefix = _agent(cx, path, spec), _statsd_prefix(cx, path, spec)
    tags = _tags(cx, path, spec)
    if len(cx.problems) > before or target is None:
        return None
    api = [option for option in DATADOG_API_OPTIONS if option in spec]
    if kind == "datadog" and api:
        also = f" (as are {', '.join(api[1:])})" if api[1:] else ""
        cx.warn(
            (*path, api[0]),
            f"ignored{also}: yamlload sends to the Datadog agent's DogStatsD port at "
            f"{target}, never to Datadog's HTTP API",
            at_key=True,
        )
    return LiveOutput(
        kind="prometheus-push" if kind == "prometheus" else "statsd",
        target=target,
        prefix=prefix,
        tags=tags,
        # Artillery's statsd reporter sends tags only when it has some: without them its
        # lines suit any StatsD server, and so do ours.
        plain=kind == "statsd" and not tags,
        include=_names(spec.get("includeOnly")),
        exclude=_names(spec.get("excluded")),
        origin=f"{cx.doc.pos(path)}: {describe_path(path)}",
    )


def _warn_options(cx: Context, path: Path, spec: dict[str, Any], kind: str) -> None:
    ignored = IGNORED_OPTIONS.get(kind, {})
    for option in spec:
        if option == "type" or option in READ_OPTIONS[kind]:
            continue
        if kind == "datadog" and option in DATADOG_API_OPTIONS:
            continue  # one line for them all, in _reporter
        why = ignored.get(option)
        if why:
            cx.warn((*path, option), f"ignored: {why}", at_key=True)
        else:
            cx.warn((*path, option), f"unknown option of the {kind} reporter, ignored", at_key=True)


def _agent(cx: Context, path: Path, spec: dict[str, Any]) -> str | None:
    """HOST:PORT of the StatsD server or Datadog agent."""
    host = cx.resolve((*path, "host"), spec.get("host", DEFAULT_STATSD_HOST))
    if host is None:
        return None
    host = str(host).strip()
    if not host or any(c.isspace() for c in host):
        cx.error((*path, "host"), f"{_written(spec, 'host', host)!r} is not a host name or address")
        return None
    port = DEFAULT_STATSD_PORT
    if "port" in spec:
        number = _port(cx, (*path, "port"), spec["port"])
        if number is None:
            return None
        if number < 1:
            cx.error((*path, "port"), "must be a port from 1 to 65535, got 0")
            return None
        port = int(number)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(cx: Context, path: Path, raw: Any) -> float | None:
    """A port as a number, or as a string of digits (`port: "8125"`), as Artillery
    reads it; a string that is not only digits is not a port."""
    value = cx.resolve(path, raw)
    if value is None:
        return None
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value.strip()):
            shown = raw if isinstance(raw, str) and "{{" in raw else value
            cx.error(path, f"{shown!r} is not a port: a whole number from 1 to 65535")
            return None
        value = int(value.strip())
    return cx.number(path, value, integer=True, most=HIGHEST_PORT)


def _pushgateway(cx: Context, path: Path, spec: dict[str, Any]) -> str | None:
    if "pushgateway" not in spec:
        cx.error(path, "the prometheus reporter needs pushgateway: the Pushgateway's URL")
        return None
    url = cx.resolve((*path, "pushgateway"), spec["pushgateway"])
    if url is None:
        return None
    url = str(url).strip()
    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
        why = f"{mask_userinfo(url)!r} is not an http:// or https:// URL"
        cx.error((*path, "pushgateway"), why)
        return None
    return url


def _statsd_prefix(cx: Context, path: Path, spec: dict[str, Any]) -> str | None:
    prefix = cx.resolve((*path, "prefix"), spec.get("prefix", ARTILLERY_STATSD_PREFIX))
    if prefix is not None and _STATSD_SPECIAL.search(str(prefix)):
        shown = _written(spec, "prefix", prefix)
        cx.error((*path, "prefix"), f"{shown!r}: a StatsD name cannot hold : | @ # , or spaces")
        return None
    return None if prefix is None else str(prefix)


def _prometheus_prefix(cx: Context, path: Path, spec: dict[str, Any]) -> str | None:
    if "prefix" not in spec:
        return None  # yamlload's own names: yamlload_http_requests_total...
    prefix = cx.resolve((*path, "prefix"), spec["prefix"])
    if prefix is not None and not _PROMETHEUS_NAME.match(str(prefix)):
        shown = _written(spec, "prefix", prefix)
        cx.error((*path, "prefix"), f"{shown!r} cannot start a Prometheus metric name")
        return None
    return None if prefix is None else str(prefix).rstrip("_")


def _tags(cx: Context, path: Path, spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Artillery's `key:value` strings. A tag whose template cannot be resolved now (such
    as Artillery's {{ $testId }}) is left out with a warning: it labels, it never stops a
    run."""
    out: list[tuple[str, str]] = []
    for index, raw in enumerate(spec.get("tags") or []):
        at = (*path, "tags", index)
        text = _resolved_tag(cx, at, raw)
        if text is None:
            continue
        key, _, value = text.partition(":")
        if not key.strip():
            cx.warn(at, f"{text!r} is not a key:value tag; left out")
            continue
        out.append((key.strip(), value.strip()))
    return tuple(out)


def _resolved_tag(cx: Context, path: Path, raw: Any) -> str | None:
    if not (isinstance(raw, str) and "{{" in raw):
        return str(raw)
    template = cx.template(path, raw)
    undefined = template.undefined_names(cx.config_lookup)
    if undefined:
        cx.warn(path, f"{', '.join(undefined)} is not defined here; the tag is left out")
        return None
    return str(template.render(cx.config_lookup))


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in raw) if isinstance(raw, list) else ()


def _written(spec: dict[str, Any], key: str, value: Any) -> Any:
    """What an error shows of a value: its template as written when it has one, never
    what `$env` rendered (a secret, perhaps)."""
    raw = spec.get(key)
    return raw if isinstance(raw, str) and "{{" in raw else value
