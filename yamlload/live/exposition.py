"""The run so far in Prometheus' text exposition format (version 0.0.4): what the
dashboard serves at /metrics and the Pushgateway output pushes.

Names follow Prometheus' conventions: a `yamlload_` prefix, base units (seconds),
`_total` for counters. Labels are bounded: `endpoint` is the plan's own label for a
request (its `name`, or its method and url as written, templates unrendered), never a
URL with ids in it. Response times are a histogram with fixed buckets (`BUCKETS`), so
that several generators' series add up and `histogram_quantile()` works across them;
each of yamlload's own buckets (within 0.4% of its values) is counted under the
smallest `le` its midpoint does not exceed.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..metrics.histogram import Gauge, Histogram, Metrics, _bucket_value
from ..metrics.names import (
    ARRIVAL_LAG,
    ENDPOINT_LATENCY,
    ERRORS,
    REQUESTS_FAILED,
    RESPONSE_TIME,
    USERS_COMPLETED,
    USERS_CREATED,
    USERS_FAILED,
    WS_CONNECT_FAILED,
    WS_CONNECT_TIME,
    WS_MESSAGES_RECEIVED,
    WS_MESSAGES_SENT,
    WS_MESSAGES_UNREAD,
    WS_RESPONSE_TIME,
    WS_SESSION_LENGTH,
    WS_SESSIONS,
    WS_SESSIONS_COMPLETED,
    WS_SESSIONS_FAILED,
    WS_SESSIONS_INTERRUPTED,
    split_endpoint_key,
)
from ..plan.ir import MONITOR_PREFIX, SCRAPE_ERRORS_SUFFIX
from ..report.monitored import split_series

# Upper bounds (seconds) of the response-time histogram's buckets, +Inf added.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_QUANTILES = (0.5, 0.99)
MONITOR_HELP = "The last sample of a monitored series (config.monitor's source and metric)."
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Each bound's `le` as written, +Inf last.
_LE_TEXTS = (*(repr(bound) for bound in BUCKETS), "+Inf")
# A histogram bucket's key → the index of its `le`, found once per key: the keys are a
# few thousand at most (exact to 0.4%), and /metrics reads every bucket of every
# endpoint.
_LE_INDEX: dict[int, int] = {}


@dataclass(frozen=True)
class Snapshot:
    """What the exposition reads: the run's totals so far, and its state now."""

    total: Metrics
    active_users: int
    elapsed: float
    # The plan's endpoint labels and each one's method (Plan.requests()).
    methods: Mapping[str, str]
    # Each --ensure / config.ensure check's text, and whether it holds now (None: no
    # value yet).
    checks: Iterable[tuple[str, bool | None]] = ()
    # Masks secrets in label values (Redactor.text): an endpoint's url may hold one.
    mask: Callable[[str], str] = str


def exposition(snapshot: Snapshot) -> str:
    """The whole /metrics page."""
    lines: list[str] = []
    counters = snapshot.total.counters
    _requests_by_endpoint(lines, counters, snapshot.methods, snapshot.mask)
    _family(
        lines,
        "yamlload_http_requests_failed_total",
        "counter",
        "Requests that failed: no response, or a status not accepted.",
    )
    lines.append(f"yamlload_http_requests_failed_total {counters.get(REQUESTS_FAILED, 0)}")
    _family(
        lines,
        "yamlload_errors_total",
        "counter",
        "Errors by name (errors.* in the report): HTTP requests with no usable response, "
        "failed captures and matches, and WebSocket failures (connect, handshake, close, "
        "timeout).",
    )
    for name, n in sorted(counters.items()):
        if name.startswith(ERRORS):
            lines.append(f"yamlload_errors_total{_labels(error=name[len(ERRORS) :])} {n}")
    for metric, key, text in (
        ("yamlload_vusers_created_total", USERS_CREATED, "Virtual users started."),
        (
            "yamlload_vusers_completed_total",
            USERS_COMPLETED,
            "Virtual users that finished their scenario.",
        ),
        ("yamlload_vusers_failed_total", USERS_FAILED, "Virtual users that stopped on an error."),
    ):
        _family(lines, metric, "counter", text)
        lines.append(f"{metric} {counters.get(key, 0)}")
    _family(lines, "yamlload_vusers_active", "gauge", "Virtual users running now.")
    lines.append(f"yamlload_vusers_active {snapshot.active_users}")
    _family(lines, "yamlload_run_elapsed_seconds", "gauge", "Seconds since the load started.")
    lines.append(f"yamlload_run_elapsed_seconds {_number(snapshot.elapsed)}")
    _response_times(lines, snapshot.total.histograms, snapshot.mask)
    _websocket(lines, snapshot.total)
    _arrival_lag(lines, snapshot.total.histograms.get(ARRIVAL_LAG))
    _monitor(lines, snapshot.total, snapshot.mask)
    checks = _checks_once(snapshot.checks, snapshot.mask)
    if checks:
        _family(
            lines,
            "yamlload_check_ok",
            "gauge",
            "1 while a check holds, 0 while it fails (absent before it has a value).",
        )
        for text, ok in checks.items():
            if ok is not None:
                lines.append(f"yamlload_check_ok{_labels(check=text)} {int(ok)}")
    return "\n".join(lines) + "\n"


def _checks_once(
    checks: Iterable[tuple[str, bool | None]], mask: Callable[[str], str]
) -> dict[str, bool | None]:
    """Each check's masked text once (a series twice makes Prometheus refuse the whole
    scrape): a check given twice, or two that differ only in a secret, are one series,
    which holds only while every one of them holds."""
    once: dict[str, bool | None] = {}
    for text, ok in checks:
        key = mask(text)
        if key not in once or once[key] is None:
            once[key] = ok
        elif ok is not None:
            once[key] = once[key] and ok
    return once


def _requests_by_endpoint(
    lines: list[str],
    counters: Mapping[str, int],
    methods: Mapping[str, str],
    mask: Callable[[str], str],
) -> None:
    """Every request once, by endpoint and outcome: `code` is the status of a response,
    `error` for a request with no usable response, `interrupted` for one cut by a stop,
    so that the series add up to the report's http.requests."""
    _family(
        lines,
        "yamlload_http_requests_total",
        "counter",
        "Requests by endpoint, method and outcome (a status code, error or interrupted).",
    )
    # Keyed by the masked label: two labels that differ only in a secret are one series.
    by_outcome: dict[tuple[str, str, str], int] = {}
    for key, n in counters.items():
        parts = split_endpoint_key(key)
        if parts is None:
            continue
        label, field, item = parts
        outcome = {"codes": item, "errors": "error", "requests_interrupted": "interrupted"}.get(
            field
        )
        if outcome is not None:
            series = (mask(label), methods.get(label, ""), outcome)
            by_outcome[series] = by_outcome.get(series, 0) + n
    for (endpoint, method, outcome), n in sorted(by_outcome.items()):
        labels = _labels(endpoint=endpoint, method=method, code=outcome)
        lines.append(f"yamlload_http_requests_total{labels} {n}")


def _response_times(
    lines: list[str], histograms: Mapping[str, Histogram], mask: Callable[[str], str]
) -> None:
    name = "yamlload_http_response_time_seconds"
    _family(lines, name, "histogram", "Response times, from the request's start to its body's end.")
    overall = histograms.get(RESPONSE_TIME)
    if overall is not None:
        _histogram(lines, name, "", overall)
    for endpoint, hist in sorted(_by_masked_endpoint(histograms, mask).items()):
        _histogram(lines, name, f'endpoint="{_escaped(endpoint)}",', hist)


def _by_masked_endpoint(
    histograms: Mapping[str, Histogram], mask: Callable[[str], str]
) -> dict[str, Histogram]:
    """Each endpoint's response times under its masked label; two labels that mask
    alike are merged into a copy (the run's own histograms are never written)."""
    found: dict[str, Histogram] = {}
    for key, hist in histograms.items():
        if not key.startswith(ENDPOINT_LATENCY):
            continue
        endpoint = mask(key[len(ENDPOINT_LATENCY) :])
        twin = found.get(endpoint)
        if twin is not None:
            both = Histogram()
            both.merge(twin)
            both.merge(hist)
            hist = both
        found[endpoint] = hist
    return found


def _histogram(lines: list[str], name: str, labels: str, hist: Histogram) -> None:
    """One histogram's lines; `labels` is its own (`endpoint="x",`), ready to write.
    Formatted by hand, not with _labels: a run of many endpoints writes thousands."""
    for le, n in zip(_LE_TEXTS, _cumulative(hist), strict=True):
        lines.append(f'{name}_bucket{{{labels}le="{le}"}} {n}')
    own = "{" + labels.rstrip(",") + "}" if labels else ""
    lines.append(f"{name}_sum{own} {_number(hist.total / 1000.0)}")
    lines.append(f"{name}_count{own} {hist.count}")


def _cumulative(hist: Histogram) -> list[int]:
    """The count at or under each bound of BUCKETS, then +Inf's (the count)."""
    counts = [0] * (len(BUCKETS) + 1)
    index = _LE_INDEX
    for key, n in hist.buckets.items():
        at = index.get(key)
        if at is None:
            # the first bound the midpoint does not exceed (len(BUCKETS): +Inf)
            at = index[key] = bisect.bisect_left(BUCKETS, _bucket_value(key) / 1e6)
        counts[at] += n
    return list(itertools.accumulate(counts))


# websocket.* counters as Prometheus counters (Artillery's names, yamlload_ prefixed).
_WS_COUNTERS = (
    ("yamlload_websocket_messages_sent_total", WS_MESSAGES_SENT, "WebSocket messages sent."),
    (
        "yamlload_websocket_messages_received_total",
        WS_MESSAGES_RECEIVED,
        "WebSocket messages a step read (a send's reply, a wait's messages).",
    ),
    (
        "yamlload_websocket_messages_unread_total",
        WS_MESSAGES_UNREAD,
        "WebSocket messages that arrived and no step read.",
    ),
    ("yamlload_websocket_sessions_total", WS_SESSIONS, "WebSocket connections opened."),
    (
        "yamlload_websocket_connect_failed_total",
        WS_CONNECT_FAILED,
        "WebSocket connections that could not be opened (each also an error).",
    ),
)
_WS_ENDED = (
    ("completed", WS_SESSIONS_COMPLETED),
    ("failed", WS_SESSIONS_FAILED),
    ("interrupted", WS_SESSIONS_INTERRUPTED),
)
_WS_HISTOGRAMS = (
    (
        "yamlload_websocket_connect_time_seconds",
        WS_CONNECT_TIME,
        "WebSocket handshakes (TCP, TLS and the upgrade).",
    ),
    (
        "yamlload_websocket_response_time_seconds",
        WS_RESPONSE_TIME,
        "From a WebSocket send to the reply it waited for.",
    ),
    (
        "yamlload_websocket_session_length_seconds",
        WS_SESSION_LENGTH,
        "A completed WebSocket connection's life.",
    ),
)


def _websocket(lines: list[str], total: Metrics) -> None:
    """The websocket.* metrics, once the run has any (a plan without ws scenarios has
    none, and gets no websocket families)."""
    counters, histograms = total.counters, total.histograms
    if not any(k.startswith("websocket.") for k in itertools.chain(counters, histograms)):
        return
    for metric, key, text in _WS_COUNTERS:
        _family(lines, metric, "counter", text)
        lines.append(f"{metric} {counters.get(key, 0)}")
    name = "yamlload_websocket_sessions_ended_total"
    _family(lines, name, "counter", "WebSocket connections ended, by outcome.")
    for outcome, key in _WS_ENDED:
        lines.append(f"{name}{_labels(outcome=outcome)} {counters.get(key, 0)}")
    for metric, key, text in _WS_HISTOGRAMS:
        _family(lines, metric, "histogram", text)
        hist = histograms.get(key)
        if hist is not None:
            _histogram(lines, metric, "", hist)


def _arrival_lag(lines: list[str], hist: Histogram | None) -> None:
    name = "yamlload_arrival_lag_seconds"
    _family(
        lines,
        name,
        "summary",
        "How late users started against the schedule (the generator keeping up).",
    )
    if hist is None:
        return
    for q in LAG_QUANTILES:
        lines.append(f"{name}{_labels(quantile=_number(q))} {_number(hist.percentile(q) / 1000.0)}")
    lines.append(f"{name}_sum {_number(hist.total / 1000.0)}")
    lines.append(f"{name}_count {hist.count}")


def _monitor(lines: list[str], total: Metrics, mask: Callable[[str], str]) -> None:
    """config.monitor's series, each its last value, and each source's failed samples
    (0 for a source that sampled); nothing without monitoring. Labels are masked, and
    series that mask alike are one (the latest sample wins, the errors add up)."""
    latest: dict[tuple[str, str], Gauge] = {}
    for name, gauge in total.gauges.items():
        if name.startswith(MONITOR_PREFIX) and gauge.count:
            source, metric = (mask(part) for part in split_series(name))
            latest.setdefault((source, metric), Gauge()).merge(gauge)
    errors = dict.fromkeys(sorted({source for source, _ in latest}), 0)
    for name, n in total.counters.items():
        if name.startswith(MONITOR_PREFIX) and name.endswith(SCRAPE_ERRORS_SUFFIX):
            source = mask(split_series(name)[0])
            errors[source] = errors.get(source, 0) + n
    if latest:
        _family(lines, "yamlload_monitor", "gauge", MONITOR_HELP)
        for (source, metric), gauge in sorted(latest.items()):
            labels = _labels(source=source, metric=metric)
            lines.append(f"yamlload_monitor{labels} {_number(gauge.last)}")
    if errors:
        name = "yamlload_monitor_scrape_errors_total"
        _family(lines, name, "counter", "Samples of a monitored source that failed.")
        for source, n in sorted(errors.items()):
            lines.append(f"{name}{_labels(source=source)} {n}")


def _family(lines: list[str], name: str, kind: str, text: str) -> None:
    lines.append(f"# HELP {name} {text}")
    lines.append(f"# TYPE {name} {kind}")


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escaped(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(round(value, 6)) if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")
