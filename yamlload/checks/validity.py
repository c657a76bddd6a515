"""Whether a run's numbers can be trusted as a test of the target at all: the
generator kept its schedule, the target answered, every shard ran, on time."""

from __future__ import annotations

from ..metrics import names as n
from ..results.summary import Summary
from ..units import format_count

# The generator fell behind when users started later than this (p99, ms): `--max-lag`'s
# default, the same limit the summary warns at.
DEFAULT_MAX_LAG_MS = n.MAX_ARRIVAL_LAG_MS
# A shard that began this long after the shared --start-at did not run alongside the
# others (its schedule is shifted, so this is not arrival lag); below it, it was on time.
LATE_START_SECONDS = 1.0
# Lag reasons start so, and only they may be allowed by --allow-lag.
LAG_REASON = "the generator fell behind"


def invalid_reasons(summary: Summary, max_lag_ms: float) -> list[str]:
    """Why this run's numbers cannot be trusted as a test of the target, if they can't.
    Besides the metrics, each worker entry can say so: a segment that `merge` did not get
    (`"missing": true`, see `scale.merge.MISSING_FROM_MERGE`) or that started late."""
    return [
        *_lag(summary, max_lag_ms),
        *_unreached(summary),
        *_missing(summary),
        *_late(summary),
    ]


def _lag(summary: Summary, max_lag_ms: float) -> list[str]:
    lag = summary.histogram(n.ARRIVAL_LAG)
    p99 = lag.percentile(0.99)
    if lag.count and p99 > max_lag_ms:
        return [
            f"{LAG_REASON} its schedule: arrival lag p99 = {p99:.0f} ms, "
            f"over --max-lag {format_count(max_lag_ms)} ms (the load made was lower than planned)"
        ]
    return []


def _unreached(summary: Summary) -> list[str]:
    requests, responses = summary.counter(n.REQUESTS), summary.counter(n.RESPONSES)
    if not requests and summary.counter(n.WS_CONNECT_FAILED) and not summary.counter(n.WS_SESSIONS):
        errors = ", ".join(f"{k} × {v}" for k, v in summary.counters_with(n.ERRORS).items())
        return [f"could not reach the target at all: no WebSocket connection opened ({errors})"]
    if not requests or responses:
        return []
    errors = ", ".join(f"{k} × {v}" for k, v in summary.counters_with(n.ERRORS).items())
    if summary.counter(n.REQUESTS_UNSENT) == requests:
        return [
            "no request was sent: each one failed before it left, on what the plan "
            f"gave it ({errors}; the failures above say which)"
        ]
    return [f"could not reach the target at all: no request got a response ({errors})"]


def _missing(summary: Summary) -> list[str]:
    workers = [w for w in summary.workers if isinstance(w, dict)]
    missing = [str(w.get("segment")) for w in workers if w.get("missing")]
    if len(missing) == 1:
        return [f"incomplete: segment {missing[0]} is missing"]
    if missing:
        listed = f"{', '.join(missing[:-1])} and {missing[-1]}"
        return [f"incomplete: segments {listed} are missing"]
    return []


def _late(summary: Summary) -> list[str]:
    reasons = []
    for worker in summary.workers:
        late = worker.get("late_start_s") if isinstance(worker, dict) else None
        if isinstance(late, int | float) and late >= LATE_START_SECONDS:
            reasons.append(f"segment {worker.get('segment')} started {late:.1f} s late")
    return reasons
