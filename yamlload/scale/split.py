"""The one way a run is made, however it is split: in this process (a whole run, or
one `--segment`), as `--workers` processes here, or as shards on a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable

from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..plan.source import PlanOptions
from ..results.run import RunResult
from ..runtime.engine import Observer, RunOptions
from .dask import run_on_dask
from .shard import ShardedRun, run_here
from .workers import run_workers


def run_split(
    plan: Plan,
    plan_options: PlanOptions,
    options: RunOptions,
    observer: Observer,
    on_checkpoint: Callable[[RunResult], None],
    workers: int = 1,
    dask: str | None = None,
    early_stop: Callable[[], str | None] | None = None,
    redactor: Redactor | None = None,
) -> ShardedRun:
    """Run `plan`. Shards elsewhere compile the plan again from `plan.source` with
    `plan_options`; checkpoints are for a run in this process only (the CLI refuses
    `--checkpoint` with `--workers` or `--dask`). `early_stop` tells the engine of a
    signal that came while its loop was starting."""
    if dask:
        return run_on_dask(dask, plan, plan_options, options)
    if workers > 1:
        return run_workers(
            plan.source,
            plan_options,
            options,
            workers,
            observer.period_done,
            observer.log,
            observer.tick,
        )
    return run_here(plan, options, observer, on_checkpoint, early_stop, redactor)
