"""Merging shards back into one run, exactly: no runtime here, so `yamlload merge`
loads neither aiohttp nor uvloop.

Merging adds counters and histogram buckets period by period, so merged percentiles are
exact, never averaged. A shard's result crosses a process (or Dask) boundary encoded as
plain data (`encode_result`, `decode_result`).
"""

from __future__ import annotations

import re
from typing import Any

from ..checks.grades import grade_summary
from ..errors import UsageError
from ..metrics.histogram import Metrics
from ..metrics.names import ARRIVAL_LAG, CPU_MS, RSS_MB, USERS_CREATED
from ..metrics.periods import Period, merge_periods
from ..results.run import PhaseRun, RunResult
from ..results.summary import Summary
from ..schedule.arrivals import Segment

# `merge` keeps a place in the workers list for each segment it was not given, so the
# merged report reads as incomplete, never as a smaller whole run. `checks.validity`
# recognizes the place by its "missing" key (checks may not import scale).
MISSING_FROM_MERGE = "missing from merge"


def encode_result(result: RunResult) -> dict[str, Any]:
    return {
        "periods": [
            {"index": p.index, "span": p.span, **p.metrics.encode()} for p in result.periods
        ],
        "duration": result.duration,
        "phases": [vars(p) for p in result.phases],
        "stopped_by": result.stopped_by,
        "late_start": result.late_start,
        "internal_error": result.internal_error,
    }


def decode_result(data: dict[str, Any]) -> RunResult:
    return RunResult(
        periods=[
            Period(int(p["index"]), Metrics.decode(p), span=int(p.get("span", 1)))
            for p in data["periods"]
        ],
        duration=float(data["duration"]),
        phases=[PhaseRun(**p) for p in data["phases"]],
        stopped_by=data.get("stopped_by"),
        late_start=float(data.get("late_start", 0.0)),
        internal_error=data.get("internal_error"),
    )


def merge_results(results: list[RunResult]) -> RunResult:
    return RunResult(
        periods=merge_periods(r.periods for r in results),
        duration=max((r.duration for r in results), default=0.0),
        phases=results[0].phases if results else [],
        stopped_by=next((r.stopped_by for r in results if r.stopped_by), None),
        # Each shard's own lateness is in its workers entry; the run is as late as its latest.
        late_start=max((r.late_start for r in results), default=0.0),
        # A bug in any shard ends the whole run with exit 70, as it would in one process.
        internal_error=next((r.internal_error for r in results if r.internal_error), None),
    )


def worker_health(
    segment: Segment, result: RunResult | None, lost: str | None = None
) -> dict[str, Any]:
    """One line of the workers table: each shard's arrival lag and CPU."""
    if result is None:
        return {"segment": segment.label, "lost": lost or "no result"}
    metrics = Metrics()
    for period in result.periods:
        metrics.merge(period.metrics)
    lag = metrics.histograms.get(ARRIVAL_LAG)
    rss = metrics.histograms.get(RSS_MB)
    cpu = metrics.counters.get(CPU_MS, 0)
    return {
        "segment": segment.label,
        "users": metrics.counters.get(USERS_CREATED, 0),
        "lag_p99_ms": round(lag.percentile(0.99), 3) if lag and lag.count else 0.0,
        "cpu_percent": round(cpu / (result.duration * 10), 1) if result.duration > 0 else 0.0,
        **({"rss_mb": round(rss.max, 1)} if rss is not None and rss.count else {}),
        # Seconds after the shared --start-at; `invalid_reasons` judges it.
        "late_start_s": round(result.late_start, 3),
    }


def merge_summaries(parts: list[Summary], names: list[str] | None = None) -> Summary:
    """`yamlload merge`: several shard reports as one, exactly. The reports must hold
    segments of one split, each once (see `check_segments`); a segment that is missing
    gets a `MISSING_FROM_MERGE` entry in `workers`, which makes the merged run invalid."""
    if not parts:
        raise UsageError("merge: no reports given")
    names = names or [f"report {n}" for n in range(1, len(parts) + 1)]
    first = parts[0]
    sources = {p.source for p in parts}
    if len(sources) > 1:
        plans = ", ".join(sorted(sources))
        raise UsageError(f"merge: the reports come from different plans: {plans}")
    held = [_segments_held(part, name) for part, name in zip(parts, names, strict=True)]
    missing = check_segments(
        [
            (name, part.started_at, [segment for segment, _ in entries])
            for name, part, entries in zip(names, parts, held, strict=True)
        ]
    )
    placed = [entry for entries in held for entry in entries]
    for segment in missing:
        placed.append(
            (segment, {"segment": segment.label, "lost": MISSING_FROM_MERGE, "missing": True})
        )
    placed.sort(key=lambda entry: entry[0].index)
    merged = Summary(
        source=first.source,
        target=first.target,
        started_at=min(p.started_at for p in parts),
        duration=max(p.duration for p in parts),
        periods=merge_periods(p.periods for p in parts),
        phases=first.phases,
        stopped_by=next((p.stopped_by for p in parts if p.stopped_by), None),
        environment=first.environment,
        document=first.document,
        # A whole run alone stays a whole run: it has no workers to list.
        workers=[entry for segment, entry in placed if segment.count > 1],
        revision=next((p.revision for p in parts if p.revision), None),
        drift_settings=first.drift_settings,
    )
    # The whole run is graded again on the shards' table: a shard graded its share only.
    graded = next((p.grade for p in parts if p.grade is not None), None)
    if graded is not None and graded.table:
        merged.grade = grade_summary(merged, graded.table)
    return merged


def _segments_held(part: Summary, name: str) -> list[tuple[Segment, dict[str, Any]]]:
    """The segments a report measured, each with its workers entry. A report without
    workers is a whole run: segment 1/1. Places kept for missing segments hold nothing."""
    if not part.workers:
        return [(Segment(0, 1), {})]
    held = []
    for number, entry in enumerate(part.workers):
        label = entry.get("segment") if isinstance(entry, dict) else None
        found = re.fullmatch(r"(\d+)/(\d+)", label) if isinstance(label, str) else None
        if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
            raise UsageError(
                f"merge: {name}: not a yamlload JSON report of a segment: workers[{number}] "
                f"should name its segment as I/N, not {label!r}"
            )
        if not entry.get("missing"):
            held.append((Segment(int(found.group(1)) - 1, int(found.group(2))), entry))
    return held


def check_segments(parts: list[tuple[str, str, list[Segment]]]) -> list[Segment]:
    """The segments that (name, startedAt, segments held) reports leave out of 1..N.
    Reports of different splits, and a segment held twice, are refused: merged, its load
    would be counted twice. Two reports with one start time and one segment are the same
    run given twice; a whole run is segment 1/1, so two whole runs are refused too."""
    counts: dict[int, str] = {}
    for name, _, segments in parts:
        for segment in segments:
            counts.setdefault(segment.count, f"{_label(segment)} in {name}")
    if len(counts) > 1:
        splits = ", ".join(counts[n] for n in sorted(counts))
        raise UsageError(
            f"merge: the reports split the run into different numbers of segments: {splits}"
        )
    holders: dict[Segment, tuple[str, str]] = {}
    for name, started_at, segments in parts:
        for segment in segments:
            if segment in holders:
                raise UsageError(_twice(segment, holders[segment], (name, started_at)))
            holders[segment] = (name, started_at)
    count = next(iter(counts), 1)
    return [Segment(i, count) for i in range(count) if Segment(i, count) not in holders]


def _label(segment: Segment) -> str:
    return "1/1 (a whole run)" if segment.count == 1 else segment.label


def _twice(segment: Segment, first: tuple[str, str], second: tuple[str, str]) -> str:
    (name, started_at), (other, other_started_at) = first, second
    what = "a whole run" if segment.count == 1 else f"segment {segment.label}"
    if started_at == other_started_at:
        return (
            f"merge: reports {name} and {other} are the same run ({what}, started "
            f"{started_at}): merged, it would be counted twice"
        )
    if segment.count == 1:
        return (
            f"merge: reports {name} and {other} are both whole runs, not segments of one "
            "(run --segment I/N): merged, the plan's load would be counted twice"
        )
    return (
        f"merge: segment {segment.label} is in both reports {name} and {other}: merged, "
        "it would be counted twice"
    )
