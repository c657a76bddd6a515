"""One second of a run as points: what the StatsD and JSON-lines outputs send.

Counters are the second's deltas, under the report's names (`http.codes.200`,
`vusers.created`, `errors.ETIMEDOUT`), except `http.requests`, which is sent once per
endpoint and outcome (tags `endpoint` and `code`: a status, `error` or `interrupted`),
so that its points add up to the report's `http.requests` whichever way they are summed.
Each histogram of the second (response times, arrival lag, session length...) is four
gauges, `<name>.p50`, `.p95`, `.p99` and `.max`, in milliseconds, as Artillery's Datadog
reporter sends its summaries; a histogram with no sample in a second sends nothing, so a
gauge never drops to a false 0. Per-endpoint response times are
`http.endpoint_response_time.<stat>` with an `endpoint` tag, apart from the overall ones
so that an average over tags never mixes the two. `vusers.active` is a gauge too, and
so is each monitored series (`monitor.<source>.<metric>`, config.monitor) in a second it
took a sample: its last value.

Untagged (plain StatsD, whose servers drop a tagged line), every counter and histogram
goes under the report's own name, per-endpoint ones too, as Artillery sends them:
`http.requests` is then the one total.

Every name is masked of secrets before anything is made of it (an endpoint's label, a
scenario's name in vusers.created_by_name.*), and names that mask alike are merged, so
that a second never has the same point twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..metrics.histogram import Histogram, Metrics, _bucket_value
from ..metrics.live import Second
from ..metrics.names import (
    ACTIVE_USERS,
    ENDPOINT_LATENCY,
    REQUESTS,
    split_endpoint_key,
)

COUNTER, GAUGE = "counter", "gauge"
# The per-second statistics of a histogram, each a gauge named <histogram>.<stat>.
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
ENDPOINT_RESPONSE_TIME = "http.endpoint_response_time"
ACTIVE = "vusers.active"
# What a per-endpoint counter's field says about a request's outcome; the others
# (requests, requests_failed) count the same requests again.
OUTCOMES = {"codes": None, "errors": "error", "requests_interrupted": "interrupted"}

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Point:
    metric: str
    kind: str  # COUNTER (a delta over the second) or GAUGE
    value: float
    tags: Tags = ()


def second_points(
    second: Second, active: int, mask: Callable[[str], str], tagged: bool = True
) -> list[Point]:
    """Every point of one second (see the module); untagged, every metric under the
    report's own name instead (plain StatsD). Every name is masked first (an endpoint's
    label, a scenario's name: the plan's, and a secret may be in them), and names that
    become one are one point: their counts added, their histograms merged, so that no
    point is sent twice in a second."""
    metrics = second.metrics.renamed(mask)
    if not tagged:
        return _flat(metrics, active)
    points = list(_counters(metrics))
    for name, hist in sorted(metrics.histograms.items()):
        if hist.count == 0 or name == ACTIVE_USERS:  # active users: the gauge below
            continue
        if name.startswith(ENDPOINT_LATENCY):
            tags: Tags = (("endpoint", name[len(ENDPOINT_LATENCY) :]),)
            points.extend(_stats(ENDPOINT_RESPONSE_TIME, hist, tags))
        else:
            points.extend(_stats(name, hist, ()))
    points.extend(_gauges(metrics))
    points.append(Point(ACTIVE, GAUGE, active))
    return points


def _flat(metrics: Metrics, active: int) -> list[Point]:
    """The second under the report's names, per-endpoint ones
    (plugins.metrics-by-endpoint.GET /a.codes.200) too, as Artillery sends them."""
    points = [Point(name, COUNTER, n) for name, n in sorted(metrics.counters.items())]
    for name, hist in sorted(metrics.histograms.items()):
        if hist.count and name != ACTIVE_USERS:
            points.extend(_stats(name, hist, ()))
    points.extend(_gauges(metrics))
    points.append(Point(ACTIVE, GAUGE, active))
    return points


def _gauges(metrics: Metrics) -> Iterator[Point]:
    """Each gauge sampled in the second (monitor.<source>.<metric>), as its last value."""
    for name, gauge in sorted(metrics.gauges.items()):
        if gauge.count:
            yield Point(name, GAUGE, gauge.last)


def _counters(metrics: Metrics) -> Iterator[Point]:
    by_outcome: dict[tuple[str, str], int] = {}
    for name, n in sorted(metrics.counters.items()):
        parts = split_endpoint_key(name)
        if parts is not None:
            label, field, item = parts
            if field in OUTCOMES:
                outcome = OUTCOMES[field] or item
                by_outcome[label, outcome] = by_outcome.get((label, outcome), 0) + n
        elif name != REQUESTS and not name.startswith(ENDPOINT_LATENCY):
            yield Point(name, COUNTER, n)
    for (label, outcome), n in sorted(by_outcome.items()):
        yield Point(REQUESTS, COUNTER, n, (("endpoint", label), ("code", outcome)))


def _stats(name: str, hist: Histogram, tags: Tags) -> Iterator[Point]:
    for (stat, _), value in zip(QUANTILES, quantiles(hist), strict=True):
        yield Point(f"{name}.{stat}", GAUGE, value, tags)
    yield Point(f"{name}.max", GAUGE, round(hist.max, 3), tags)


def quantiles(hist: Histogram) -> list[float]:
    """QUANTILES of `hist` in ms, as Histogram.percentile gives them, in one walk of
    its buckets rather than one per quantile."""
    ranks = [max(1, math.ceil(q * hist.count)) for _, q in QUANTILES]  # percentile()'s
    out: list[float] = []
    seen = 0
    for key in sorted(hist.buckets):
        seen += hist.buckets[key]
        while len(out) < len(ranks) and seen >= ranks[len(out)]:
            value = _bucket_value(key) / 1000.0
            out.append(round(min(max(value, hist.min), hist.max), 3))
    out.extend(round(hist.max, 3) for _ in range(len(ranks) - len(out)))
    return out


def wanted(metric: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """Artillery's includeOnly (names starting so, only) and excluded (names starting
    so, not), includeOnly first."""
    if include:
        return metric.startswith(include)
    return not (exclude and metric.startswith(exclude))
