"""Sampling config.monitor's sources while the load runs (issue 17).

The engine starts one task per source next to its ticker when the load starts, and stops
them when the load is over. Each task samples its source at once and then on every
`interval`, SAMPLE_OFFSET_SECONDS past it (measured from its start, so a slow sample
does not make the series drift),
one sample at a time: a sample that outlasts its interval skips the ticks it missed
rather than pile up. Values go into the current period as gauges,
monitor.<source>.<metric>; a sample that failed is counted as
monitor.<source>.scrape_errors and told on the console once per kind, masked. A source
can never fail the run: what it gives is recorded, what it cannot give is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..metrics.periods import Recorder
from ..monitor.values import Reading, SampleError
from ..plan.ir import MonitorSource, monitor_series
from .log import RunLog

if TYPE_CHECKING:
    from ..monitor.source import Source

# A source's own timeout bounds a scrape; a sample still running this much later (a
# process sampler's thread stuck on /proc) is given up too.
TIMEOUT_MARGIN_SECONDS = 1.0
# How long the end of a run waits for a source to let go of its connection.
CLOSE_TIMEOUT_SECONDS = 2.0
# After the first sample (at once), samples are taken this far past each tick of the
# interval: half a second inside a second of the run, which the ticker closes a few ms
# after it ends; on the tick itself, a sample fell in the second before as often as not.
SAMPLE_OFFSET_SECONDS = 0.5
# Different failures of one source told on the console; the rest are only counted.
MAX_TOLD_PER_SOURCE = 5


def build_source(spec: MonitorSource) -> Source:
    """The sampler of a compiled source. Imported here, on the first monitored run: a
    run without config.monitor loads neither psutil's sampler nor aiohttp's client."""
    from ..monitor.source import ProcessSource, PrometheusSource

    if spec.kind == "prometheus":
        return PrometheusSource(spec.name, spec.url or "", dict(spec.metrics), spec.timeout)
    return ProcessSource(spec.name, pid=spec.pid, process=spec.process)


class Monitoring:
    """The run's sampling of its monitored sources, on the run's event loop."""

    def __init__(
        self,
        specs: tuple[MonitorSource, ...],
        recorder: Recorder,
        log: RunLog,
        make_source: Callable[[MonitorSource], Source] = build_source,
    ) -> None:
        self.specs = specs
        self.recorder = recorder
        self.log = log
        self.make_source = make_source
        self._tasks: list[asyncio.Task[None]] = []
        self._sources: list[Source] = []
        self._told: dict[str, set[str]] = {}
        # per source: how many samples it gave, how many failed, and the metrics that
        # had a value
        self._good: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._valued: dict[str, set[str]] = {}

    def start(self) -> None:
        for spec in self.specs:
            source = self.make_source(spec)
            self._sources.append(source)
            self._tasks.append(asyncio.ensure_future(self._watch(spec, source)))

    async def stop(self) -> None:
        """Stop sampling (a sample in flight is dropped) and close every source."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for spec in self.specs:
            self._say_what_never_came(spec)
        for source in self._sources:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(source.close(), CLOSE_TIMEOUT_SECONDS)
        self._sources.clear()

    def _say_what_never_came(self, spec: MonitorSource) -> None:
        """At the end: a source whose first sample was still in flight is a failure (a
        check on it has nothing to read); a selector that matched no series all run long
        is most likely a typo, except a rate() that had only one scrape."""
        good = self._good.get(spec.name, 0)
        if not good and not self._failed.get(spec.name):
            self.recorder.count(spec.scrape_errors)
            self._tell(
                spec,
                "never sampled: its first sample had not answered when the run ended "
                f"(counted as {spec.scrape_errors})",
            )
            return
        never = [m for m in spec.metric_names if m not in self._valued.get(spec.name, ())]
        rates = dict(spec.metrics)
        waiting = [m for m in never if good == 1 and m in rates and rates[m].uses_rate]
        if waiting:
            self._tell(
                spec,
                f"no value for {', '.join(waiting)}: rate() needs two scrapes and the run "
                "ended after one",
            )
        typos = [m for m in never if m not in waiting]
        if good and typos:
            self._tell(
                spec,
                f"no value all run for {', '.join(typos)}: do they select any series "
                "(and never divide by zero)?",
            )

    async def _watch(self, spec: MonitorSource, source: Source) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        valued = self._valued.setdefault(spec.name, set())
        while True:
            reading = await self._sample(spec, source)
            if isinstance(reading, SampleError):
                self.recorder.count(spec.scrape_errors)
                self._failed[spec.name] = self._failed.get(spec.name, 0) + 1
                self._tell(spec, f"{reading} (counted as {spec.scrape_errors})")
            else:
                self._good[spec.name] = self._good.get(spec.name, 0) + 1
                for metric, value in reading.items():
                    if value is not None and math.isfinite(value):
                        self.recorder.gauge(monitor_series(spec.name, metric), value)
                        valued.add(metric)
            now = loop.time()
            ticks = max(1, math.floor((now - started - SAMPLE_OFFSET_SECONDS) / spec.interval) + 1)
            await asyncio.sleep(started + ticks * spec.interval + SAMPLE_OFFSET_SECONDS - now)

    async def _sample(self, spec: MonitorSource, source: Source) -> Reading:
        timeout = spec.timeout + TIMEOUT_MARGIN_SECONDS
        try:
            return await asyncio.wait_for(source.sample(), timeout)
        except asyncio.TimeoutError:
            return SampleError(f"no answer within {timeout:g}s")
        except Exception as exc:  # a source promises values, never raises: if one does, count it
            return SampleError(f"{type(exc).__name__}: {exc}")

    def _tell(self, spec: MonitorSource, message: str) -> None:
        told = self._told.setdefault(spec.name, set())
        if message in told or len(told) >= MAX_TOLD_PER_SOURCE:
            return
        told.add(message)
        # RunLog.log masks the plan's secrets and blanks control characters
        self.log.log(f"monitor {spec.name}: {message}; told once")
