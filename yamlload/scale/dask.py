"""`--dask ADDRESS`: one shard per worker of a Dask cluster, all starting together.

Dask is an optional extra (`pip install 'yamlload[dask]'`), imported only here and
only when asked for. Shards are pinned to their workers and never retried.
"""

from __future__ import annotations

import time
import uuid
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
# How long the shards may take to get ready (the bundle shipped, unpacked, the plan and
# its payloads compiled) before the run is given up: a slow worker holds back the start
# of every shard, rather than start late and make the run invalid.
READY_TIMEOUT_SECONDS = 300.0


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
        barrier = _Barrier.create(client)
        futures = _submit(client, workers, bundle, plan_options, run_options, barrier.names)
        barrier.start_when_ready(len(futures), futures)
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
    barrier: tuple[str, str],
) -> list[Any]:
    """One shard per worker, pinned to it: the futures of their encoded results. Each
    starts when the barrier says (see _Barrier), not at a time set now."""
    count = len(workers)
    seed = shared_seed(run_options)
    # Sent once to every worker, ahead of the tasks: a bundle inside each task would be
    # sent with every one (and Dask warns of a large task graph).
    shipped = client.scatter(bundle, broadcast=True, hash=False)
    futures = []
    for index, worker in enumerate(workers):
        # A resolver object cannot travel to another machine: each shard uses its own.
        options = replace(run_options, seed=seed, segment=Segment(index, count), resolver=None)
        job = ShardJob(bundle.plan, plan_options, options, 0.0)
        futures.append(
            client.submit(
                _run_when_all_ready,
                job,
                shipped,
                barrier,
                key=f"yamlload-shard-{index + 1}-of-{count}-{seed}-{barrier[0]}",
                workers=[worker],
                allow_other_workers=False,
                retries=0,
                pure=False,
            )
        )
    return futures


class _Barrier:
    """Every shard says when it is ready (its plan compiled) on a Dask queue; once all
    are, the coordinator publishes one start time, START_LEAD_SECONDS ahead, on a Dask
    variable that each shard waits for. A worker slow to get ready (a large bundle,
    a large payload) delays the start of all, instead of starting late."""

    def __init__(self, client: Any, names: tuple[str, str]) -> None:
        self.client, self.names = client, names

    @classmethod
    def create(cls, client: Any) -> _Barrier:
        tag = uuid.uuid4().hex
        return cls(client, (f"yamlload-ready-{tag}", f"yamlload-start-{tag}"))

    def start_when_ready(self, count: int, futures: list[Any]) -> None:
        from distributed import Queue, Variable

        ready = Queue(self.names[0], client=self.client)  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        got = 0
        # A shard that ended before it was ready failed: the others start without it.
        while got + sum(f.done() for f in futures) < count:
            try:
                ready.get(timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))  # type: ignore[no-untyped-call]
                got += 1
            except TimeoutError:
                if time.monotonic() >= deadline:
                    self.client.cancel(futures)
                    raise UsageError(
                        f"--dask: {count - got} of {count} workers were not ready after "
                        f"{READY_TIMEOUT_SECONDS:.0f} s (the plan's files to ship and "
                        "compile, or a busy cluster)"
                    ) from None
        start_at = time.time() + START_LEAD_SECONDS
        Variable(self.names[1], client=self.client).set(start_at)  # type: ignore[no-untyped-call]


def _run_when_all_ready(job: ShardJob, bundle: Bundle, barrier: tuple[str, str]) -> dict[str, Any]:
    """A shard on a Dask worker: compiles its plan, says it is ready, and starts at the
    time the coordinator gives once every shard is (see _Barrier)."""
    from distributed import Queue, Variable

    def when_ready() -> float:
        Queue(barrier[0]).put(job.run_options.segment.index)  # type: ignore[no-untyped-call]
        start_at = Variable(barrier[1]).get(timeout=READY_TIMEOUT_SECONDS + 60)  # type: ignore[no-untyped-call]
        return float(start_at)

    return run_shard(replace(job, bundle=bundle), when_ready=when_ready)
