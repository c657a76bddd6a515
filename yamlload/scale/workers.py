"""`--workers N`: the run as N processes on this machine, all starting together.

The coordinator (this process) merges the periods its shards stream as they finish,
shows each once every shard sent it, and keeps what a worker measured even if the
worker dies. Nothing is retried: a lost worker is reported, with what it measured.
A worker whose coordinator is gone stops at once (see `_die_with_parent`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..metrics.histogram import Metrics
from ..metrics.periods import PERIOD_SECONDS, Period, merge_periods, roll_up
from ..plan.source import PlanOptions
from ..results.run import Progress, RunResult
from ..runtime.engine import STOP_SIGNALS, RunOptions
from ..schedule.arrivals import Segment
from .merge import decode_result, merge_results, worker_health
from .shard import START_LEAD_SECONDS, ShardedRun, ShardJob, run_shard, shared_seed

POLL_SECONDS = 0.2
# A worker checks this often that its coordinator is still there (see _die_with_parent).
PARENT_WATCH_SECONDS = 0.25
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
EXIT_ORPHANED = 137
# How long a finished worker may take to exit before it is killed.
JOIN_SECONDS = 5


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


class Collector:
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
    collector = Collector(count, on_period, on_log, on_tick)
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
            process.join(timeout=JOIN_SECONDS)
            if process.is_alive():
                process.kill()
    return collector.outcome()


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
