"""`--dask ADDRESS`: one shard per worker of a Dask cluster, all starting together.

Dask is an optional extra (`pip install 'yamlload[dask]'`), imported only here and
only when asked for. Shards are pinned to their workers and never retried.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from ..errors import UsageError
from ..plan.ir import Plan
from ..plan.source import PlanOptions
from ..runtime.engine import RunOptions
from ..schedule.arrivals import Segment
from .bundle import Bundle
from .shard import START_LEAD_SECONDS, ShardedRun, ShardJob, run_shard, shared_seed
from .workers import Collector

DASK_CONNECT_SECONDS = 10
# Dask ships the job to each worker first: give it a little more time to get ready.
DASK_EXTRA_LEAD_SECONDS = 1.0


def run_on_dask(
    address: Any,
    plan: Plan,
    plan_options: PlanOptions,
    run_options: RunOptions,
) -> ShardedRun:
    """Run one shard per Dask worker (a scheduler address, or a cluster object), all
    starting together. Shards are pinned to their workers and never retried. Each gets
    the plan and the files it reads as content (bundle.py): a worker on another machine
    needs neither the plan's folder nor the same current directory."""
    bundle = Bundle.of(plan, plan.source, plan_options)
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--dask needs the dask extra: pip install '.[dask]' in yamlload's checkout"
        ) from None
    try:
        client = Client(address, timeout=DASK_CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--dask {address}: cannot reach the scheduler: {exc}") from None
    try:
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise UsageError(f"--dask {address}: the cluster has no workers")
        futures = _submit(client, workers, bundle, plan_options, run_options)
        collector = Collector(len(futures), None, None)
        for index, future in enumerate(futures):
            try:
                collector.handle("result", index, future.result())
            except Exception as exc:  # a lost shard is reported, not retried
                collector.failures[index] = (
                    f"worker {index + 1}/{len(futures)} (Dask) failed: {type(exc).__name__}: {exc}"
                )
        return collector.outcome()
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _submit(
    client: Any,
    workers: list[str],
    bundle: Bundle,
    plan_options: PlanOptions,
    run_options: RunOptions,
) -> list[Any]:
    """One shard per worker, pinned to it: the futures of their encoded results."""
    count = len(workers)
    seed = shared_seed(run_options)
    start_at = time.time() + START_LEAD_SECONDS + DASK_EXTRA_LEAD_SECONDS
    futures = []
    for index, worker in enumerate(workers):
        # A resolver object cannot travel to another machine: each shard uses its own.
        options = replace(run_options, seed=seed, segment=Segment(index, count), resolver=None)
        job = ShardJob(bundle.plan, plan_options, options, start_at, bundle)
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
    return futures
