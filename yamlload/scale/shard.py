"""Splitting a run into shards and merging them back exactly.

Each shard runs the same plan on its own segment of the schedule (see `Segment`), and
all shards start at one wall-clock moment. On one machine they are processes
(`--workers`); by hand they are separate `yamlload run --segment i/N --start-at T`
commands whose reports `yamlload merge` combines. Merging adds counters and histogram
buckets period by period, so merged percentiles are exact, never averaged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import queue
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import UsageError
from ..metrics.periods import PERIOD_SECONDS, Metrics, Period, merge_periods, roll_up
from ..plan.compile import load_plan
from ..plan.source import PlanOptions
from ..results.run import PhaseRun, Progress, RunResult
from ..results.summary import Summary
from ..runtime.engine import (
    STOP_SIGNALS,
    Engine,
    RunOptions,
    run_on_uvloop,
)
from ..schedule.arrivals import Segment

# Shards are told to start this far ahead, so that every process is ready in time.
START_LEAD_SECONDS = 2.0
POLL_SECONDS = 0.2
# A worker checks this often that its coordinator is still there (see _die_with_parent).
PARENT_WATCH_SECONDS = 0.25
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
EXIT_ORPHANED = 137
DASK_CONNECT_SECONDS = 10
# Dask ships the job to each worker first: give it a little more time to get ready.
DASK_EXTRA_LEAD_SECONDS = 1.0
# `merge` keeps a place in the workers list for each segment it was not given, so the
# merged report reads as incomplete, never as a smaller whole run. `_checks` recognizes
# the place by its "missing" key (it may not import this module: they are one layer).
MISSING_FROM_MERGE = "missing from merge"


def parse_segment(text: str) -> Segment:
    """`2/8` (1-based) → the second of eight segments."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise UsageError(f"--segment {text!r}: expected I/N, such as 2/8")
    number, count = int(found.group(1)), int(found.group(2))
    if not 1 <= number <= count:
        raise UsageError(f"--segment {text!r}: I must be between 1 and N")
    return Segment(number - 1, count)


def parse_start_at(text: str) -> float:
    """An ISO 8601 moment (`2026-01-01T12:00:00Z`) as epoch seconds."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        example = "2026-01-01T12:00:00Z"
        raise UsageError(f"--start-at {text!r}: expected an ISO time such as {example}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def worker_count(text: str) -> int:
    if text == "auto":
        if hasattr(os, "sched_getaffinity"):
            return max(1, len(os.sched_getaffinity(0)))
        return os.cpu_count() or 1
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--workers {text!r}: expected a number of workers, or auto")
    return int(text)


# --------------------------------------------------------------------------- results


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
    lag = metrics.histograms.get("yamlload.arrival_lag")
    cpu = metrics.counters.get("yamlload.cpu_ms", 0)
    return {
        "segment": segment.label,
        "users": metrics.counters.get("vusers.created", 0),
        "lag_p99_ms": round(lag.percentile(0.99), 3) if lag and lag.count else 0.0,
        "cpu_percent": round(cpu / (result.duration * 10), 1) if result.duration > 0 else 0.0,
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
    return Summary(
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
    )


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


# --------------------------------------------------------------------------- one shard


@dataclass(frozen=True)
class ShardJob:
    """Everything a shard needs, picklable: it compiles the plan itself."""

    plan_path: str
    plan_options: PlanOptions
    run_options: RunOptions
    start_at: float


class _QueueObserver:
    """Sends a shard's finished periods and progress to the coordinator."""

    def __init__(self, updates: Any, shard: int) -> None:
        self.updates = updates
        self.shard = shard

    def tick(self, progress: Progress) -> None:
        self.updates.put(("tick", self.shard, vars(progress)))

    def period_done(self, period: Period, width: float) -> None:
        encoded = {"index": period.index, "width": width, **period.metrics.encode()}
        self.updates.put(("period", self.shard, encoded))

    def log(self, message: str) -> None:
        self.updates.put(("log", self.shard, message))


def run_shard(job: ShardJob, updates: Any = None, shard: int = 0) -> dict[str, Any]:
    """Run one segment of a plan, starting at `job.start_at`; returns the encoded result.
    A top-level function, so process pools and Dask can ship it."""
    plan = load_plan(job.plan_path, job.plan_options)
    observer = _QueueObserver(updates, shard) if updates is not None else None
    engine = Engine(plan, replace(job.run_options, start_at=job.start_at), observer)
    return encode_result(run_on_uvloop(engine.run_until_signalled()))


def _shard_process(job: ShardJob, updates: Any, shard: int) -> None:
    _die_with_parent(os.getppid())
    try:
        updates.put(("result", shard, run_shard(job, updates, shard)))
    except Exception as exc:  # reported as a lost worker, never a traceback
        updates.put(("failed", shard, f"{type(exc).__name__}: {exc}"))


def _die_with_parent(parent: int) -> None:
    """A worker whose coordinator is gone (kill -9) stops at once: nobody would read its
    results, and the target would go on taking its load. Linux tells the child itself
    (PR_SET_PDEATHSIG); elsewhere, and as a second guard, a thread watches the parent."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_WATCH_SECONDS)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="yamlload-parent-watch", daemon=True).start()


# --------------------------------------------------------------------------- many shards here


@dataclass
class ShardedRun:
    result: RunResult
    workers: list[dict[str, Any]]
    lost: list[str]


class _Periods:
    """Merges the shards' streamed periods; a period is shown once every shard sent it."""

    def __init__(self, shards: int, on_period: Callable[[Period, float], None] | None) -> None:
        self.shards = shards
        self.on_period = on_period
        self.received: dict[int, dict[int, Period]] = {}
        self.widths: dict[int, float] = {}

    def add(self, shard: int, data: dict[str, Any]) -> None:
        period = Period(int(data["index"]), Metrics.decode(data))
        period.metrics.pack()  # finished: kept compact, and read-only from here on
        received = self.received.setdefault(shard, {})
        received[period.index] = period
        # Shards end a little apart: the merged last period runs to the last one's end.
        width = max(self.widths.get(period.index, 0.0), float(data.get("width", PERIOD_SECONDS)))
        self.widths[period.index] = width
        shards = range(self.shards)
        if self.on_period and all(period.index in self.received.get(s, {}) for s in shards):
            merged = merge_periods([[self.received[s][period.index]] for s in shards])[0]
            self.on_period(merged, width)
            self.widths.pop(period.index, None)
        # Kept only for a worker that dies (its periods still count), so rolled up as a
        # worker rolls up its own: memory stays bounded over a long run.
        roll_up(received, period.end)


def shared_seed(run_options: RunOptions) -> int:
    """Every shard must draw the same schedule: one seed for all, chosen here if unset."""
    if run_options.seed is not None:
        return run_options.seed
    return int.from_bytes(os.urandom(4), "big")


class _Collector:
    """What the coordinator hears from its shards: results, failures, periods, logs."""

    def __init__(
        self,
        count: int,
        on_period: Callable[[Period, float], None] | None,
        on_log: Callable[[str], None] | None,
        on_tick: Callable[[Progress], None] | None = None,
    ) -> None:
        self.count = count
        self.on_tick = on_tick
        self.progress: dict[int, Progress] = {}
        self.results: dict[int, RunResult] = {}
        self.failures: dict[int, str] = {}
        self.periods = _Periods(count, on_period)
        self.on_log = on_log

    @property
    def finished(self) -> bool:
        return len(self.results) + len(self.failures) >= self.count

    def handle(self, kind: str, shard: int, payload: Any) -> None:
        if kind == "result":
            self.results[shard] = decode_result(payload)
        elif kind == "failed":
            self.failures[shard] = f"worker {shard + 1}/{self.count} failed: {payload}"
        elif kind == "period":
            self.periods.add(shard, payload)
        elif kind == "log" and self.on_log is not None:
            self.on_log(str(payload))
        elif kind == "tick" and self.on_tick is not None:
            self.progress[shard] = Progress(**payload)
            self.on_tick(_combined(list(self.progress.values())))

    def drain(self, updates: Any) -> None:
        while True:
            try:
                self.handle(*updates.get_nowait())
            except queue.Empty:
                return

    def check_alive(self, processes: list[Any], updates: Any) -> None:
        for index, process in enumerate(processes):
            if process.is_alive() or index in self.results or index in self.failures:
                continue
            self.drain(updates)  # its last words may still be in the queue
            if index not in self.results and index not in self.failures:
                self.failures[index] = (
                    f"worker {index + 1}/{self.count} died (exit code {process.exitcode})"
                )

    def outcome(self) -> ShardedRun:
        parts = [self.results[i] for i in sorted(self.results)]
        merged = merge_results(parts) if parts else RunResult([], 0.0, [])
        lost = [list(self.periods.received.get(i, {}).values()) for i in self.failures]
        if lost:  # what the lost workers measured before they died still counts
            merged.periods = merge_periods([merged.periods, *lost])
        workers = [
            worker_health(Segment(i, self.count), self.results.get(i), self.failures.get(i))
            for i in range(self.count)
        ]
        return ShardedRun(merged, workers, [self.failures[i] for i in sorted(self.failures)])


def _combined(parts: list[Progress]) -> Progress:
    """The shards' live progress as one line: users and requests add up."""
    first = parts[0]
    return Progress(
        elapsed=max(p.elapsed for p in parts),
        total=first.total,
        phase=first.phase,
        active=sum(p.active for p in parts),
        created=sum(p.created for p in parts),
        requests=sum(p.requests for p in parts),
        failed=sum(p.failed for p in parts),
        rps=sum(p.rps for p in parts),
    )


def run_workers(
    plan_path: str,
    plan_options: PlanOptions,
    run_options: RunOptions,
    count: int,
    on_period: Callable[[Period, float], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    on_tick: Callable[[Progress], None] | None = None,
) -> ShardedRun:
    """Run the plan as `count` processes on this machine, all starting together.
    Nothing is retried: a lost worker is reported, with what it measured."""
    context = multiprocessing.get_context("spawn")
    updates: Any = context.Queue()
    seed = shared_seed(run_options)
    start_at = time.time() + START_LEAD_SECONDS
    processes = []
    for index in range(count):
        options = replace(run_options, seed=seed, segment=Segment(index, count))
        job = ShardJob(plan_path, plan_options, options, start_at)
        processes.append(
            context.Process(target=_shard_process, args=(job, updates, index), daemon=True)
        )
    collector = _Collector(count, on_period, on_log, on_tick)
    forwarded = _forward_signals(processes)
    try:
        for process in processes:
            process.start()
        while not collector.finished:
            try:
                collector.handle(*updates.get(timeout=POLL_SECONDS))
            except queue.Empty:
                collector.check_alive(processes, updates)
    finally:
        _restore_signals(forwarded)
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    return collector.outcome()


def run_on_dask(
    address: Any,
    plan_path: str,
    plan_options: PlanOptions,
    run_options: RunOptions,
) -> ShardedRun:
    """Run one shard per Dask worker (a scheduler address, or a cluster object), all
    starting together. Shards are pinned to their workers and never retried."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--dask needs the dask extra: pip install 'yamlload[dask]'") from None
    try:
        client = Client(address, timeout=DASK_CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--dask {address}: cannot reach the scheduler: {exc}") from None
    try:
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise UsageError(f"--dask {address}: the cluster has no workers")
        count = len(workers)
        seed = shared_seed(run_options)
        start_at = time.time() + START_LEAD_SECONDS + DASK_EXTRA_LEAD_SECONDS
        futures = []
        for index, worker in enumerate(workers):
            options = replace(run_options, seed=seed, segment=Segment(index, count), resolver=None)
            job = ShardJob(plan_path, plan_options, options, start_at)
            futures.append(
                client.submit(
                    run_shard,
                    job,
                    key=f"yamlload-shard-{index + 1}-of-{count}-{seed}-{start_at}",
                    workers=[worker],
                    allow_other_workers=False,
                    retries=0,
                    pure=False,
                )
            )
        collector = _Collector(count, None, None)
        for index, future in enumerate(futures):
            try:
                collector.handle("result", index, future.result())
            except Exception as exc:  # a lost shard is reported, not retried
                collector.failures[index] = (
                    f"worker {index + 1}/{count} (Dask) failed: {type(exc).__name__}: {exc}"
                )
        return collector.outcome()
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _forward_signals(processes: list[Any]) -> dict[int, Any]:
    """The coordinator outlives a Ctrl-C: each worker stops its own load and reports."""

    def forward(signum: int, _: Any) -> None:
        for process in processes:
            if process.is_alive() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    previous: dict[int, Any] = {}
    for name in STOP_SIGNALS:
        signum = getattr(signal, name)
        previous[signum] = signal.signal(signum, forward)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
