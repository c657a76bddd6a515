"""One shard: a segment of the plan's schedule, run in this process.

Each shard runs the same plan on its own segment of the schedule (see `Segment`), and
all shards start at one wall-clock moment. On one machine they are processes
(`--workers`, see `workers`); on a cluster, Dask tasks (see `dask`); by hand, separate
`yamlload run --segment i/N --start-at T` commands whose reports `yamlload merge`
combines (see `merge`). A run that is not split is one shard too: the whole run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..metrics.periods import Period
from ..plan.compile import load_plan
from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..plan.source import PlanOptions
from ..results.run import Progress, RunResult
from ..runtime.engine import Engine, Observer, RunOptions, run_on_uvloop
from .bundle import Bundle
from .merge import encode_result, worker_health

# Shards are told to start this far ahead, so that every process is ready in time.
START_LEAD_SECONDS = 2.0


@dataclass
class ShardedRun:
    """A run, however it was split: the merged result, one workers entry per shard
    (none for a whole run), and why each lost shard was lost."""

    result: RunResult
    workers: list[dict[str, Any]]
    lost: list[str]


@dataclass(frozen=True)
class ShardJob:
    """Everything a shard needs, picklable: it compiles the plan itself."""

    plan_path: str
    plan_options: PlanOptions
    run_options: RunOptions
    start_at: float
    # The plan's files as content, for a shard on another machine (Dask): see bundle.py.
    bundle: Bundle | None = None


def shared_seed(run_options: RunOptions) -> int:
    """Every shard must draw the same schedule: one seed for all, chosen here if unset."""
    if run_options.seed is not None:
        return run_options.seed
    return int.from_bytes(os.urandom(4), "big")


def run_here(
    plan: Plan,
    options: RunOptions,
    observer: Observer,
    on_checkpoint: Callable[[RunResult], None],
    early_stop: Callable[[], str | None] | None = None,
    redactor: Redactor | None = None,
) -> ShardedRun:
    """Run `options.segment` of an already compiled plan in this process, with live
    progress and checkpoints; a segment of a split run lists itself as its one worker."""
    engine = Engine(plan, options, observer, on_checkpoint, redactor)
    result = run_on_uvloop(engine.run_until_signalled(early_stop))
    segment = options.segment
    return ShardedRun(result, [worker_health(segment, result)] if segment.count > 1 else [], [])


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


def run_shard(
    job: ShardJob,
    updates: Any = None,
    shard: int = 0,
    when_ready: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Run one segment of a plan, starting at `job.start_at`; returns the encoded result.
    A top-level function, so process pools and Dask can ship it. `when_ready`, if given,
    is called once the plan is compiled and returns the start time: a coordinator that
    waits for every shard to be ready before it sets one (dask.py)."""
    if job.bundle is not None:
        with tempfile.TemporaryDirectory(prefix="yamlload-shard-") as folder:
            plan_path, options = job.bundle.unpack(Path(folder), job.plan_options)
            plan = load_plan(plan_path, options)
            return _run_plan(plan, _started(job, when_ready), updates, shard)
    plan = load_plan(job.plan_path, job.plan_options)
    return _run_plan(plan, _started(job, when_ready), updates, shard)


def _started(job: ShardJob, when_ready: Callable[[], float] | None) -> ShardJob:
    return job if when_ready is None else replace(job, start_at=when_ready())


def _run_plan(plan: Plan, job: ShardJob, updates: Any, shard: int) -> dict[str, Any]:
    observer = _QueueObserver(updates, shard) if updates is not None else None
    engine = Engine(plan, replace(job.run_options, start_at=job.start_at), observer)
    return encode_result(run_on_uvloop(engine.run_until_signalled()))
