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
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..metrics.histogram import Histogram, Metrics, _bucket_value
from ..metrics.names import (
    ARRIVAL_LAG,
    ENDPOINT_LATENCY,
    ERRORS,
    REQUESTS_FAILED,
    RESPONSE_TIME,
    USERS_COMPLETED,
    USERS_CREATED,
    USERS_FAILED,
    split_endpoint_key,
)

# Upper bounds (seconds) of the response-time histogram's buckets, +Inf added.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_QUANTILES = (0.5, 0.99)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
        "Requests that got no usable response, by error (errors.* in the report).",
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
    _arrival_lag(lines, snapshot.total.histograms.get(ARRIVAL_LAG))
    checks = list(snapshot.checks)
    if checks:
        _family(
            lines,
            "yamlload_check_ok",
            "gauge",
            "1 while a check holds, 0 while it fails (absent before it has a value).",
        )
        for text, ok in checks:
            if ok is not None:
                lines.append(f"yamlload_check_ok{_labels(check=snapshot.mask(text))} {int(ok)}")
    return "\n".join(lines) + "\n"


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
    by_outcome: dict[tuple[str, str], int] = {}
    for key, n in counters.items():
        parts = split_endpoint_key(key)
        if parts is None:
            continue
        label, field, item = parts
        outcome = {"codes": item, "errors": "error", "requests_interrupted": "interrupted"}.get(
            field
        )
        if outcome is not None:
            by_outcome[label, outcome] = by_outcome.get((label, outcome), 0) + n
    for (label, outcome), n in sorted(by_outcome.items()):
        labels = _labels(endpoint=mask(label), method=methods.get(label, ""), code=outcome)
        lines.append(f"yamlload_http_requests_total{labels} {n}")


def _response_times(
    lines: list[str], histograms: Mapping[str, Histogram], mask: Callable[[str], str]
) -> None:
    name = "yamlload_http_response_time_seconds"
    _family(lines, name, "histogram", "Response times, from the request's start to its body's end.")
    series = [("", histograms.get(RESPONSE_TIME))]
    series += sorted(
        (key[len(ENDPOINT_LATENCY) :], hist)
        for key, hist in histograms.items()
        if key.startswith(ENDPOINT_LATENCY)
    )
    for endpoint, hist in series:
        if hist is None:
            continue
        extra = {"endpoint": mask(endpoint)} if endpoint else {}
        for bound, n in _cumulative(hist):
            le = "+Inf" if math.isinf(bound) else _number(bound)
            lines.append(f"{name}_bucket{_labels(**extra, le=le)} {n}")
        lines.append(f"{name}_sum{_labels(**extra)} {_number(hist.total / 1000.0)}")
        lines.append(f"{name}_count{_labels(**extra)} {hist.count}")


def _cumulative(hist: Histogram) -> list[tuple[float, int]]:
    counts = [0] * (len(BUCKETS) + 1)
    for key, n in hist.buckets.items():
        # the first bound the midpoint does not exceed (len(BUCKETS): +Inf)
        counts[bisect.bisect_left(BUCKETS, _bucket_value(key) / 1e6)] += n
    out, running = [], 0
    for bound, n in zip((*BUCKETS, math.inf), counts, strict=True):
        running += n
        out.append((bound, running))
    return out


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
