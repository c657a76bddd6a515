"""Once a second while the load runs: the generator's own health, the second's series
to the watchers (the dashboard, outputs), finished periods to the observer, checkpoints
of the run so far, and rolling up old periods so memory stays flat."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from ..errors import OutputFailed
from ..metrics.live import LiveSeries
from ..metrics.names import (
    ACTIVE_USERS,
    CPU_MS,
    OUTPUT_ERRORS,
    REQUESTS,
    REQUESTS_FAILED,
    RSS_MB,
    USERS_CREATED,
)
from ..metrics.periods import PERIOD_SECONDS, Recorder, period_width, roll_up
from ..results.run import PhaseRun, Progress, RunResult
from .clock import Clock
from .options import Observer, Watcher
from .stop import Stop

TICK_SECONDS = 1.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Ticker:
    def __init__(
        self,
        recorder: Recorder,
        *,
        clock: Clock,
        stop: Stop,
        phase_runs: list[PhaseRun],
        active: Callable[[], int],
        total_duration: float,
        last_period: int,
        observer: Observer | None,
        on_checkpoint: Callable[[RunResult], None] | None,
        checkpoint_seconds: float | None,
        watchers: tuple[Watcher, ...] = (),
        abort: Callable[[LiveSeries, Progress], str | None] | None = None,
        on_abort: Callable[[str], None] | None = None,
    ) -> None:
        self.rec = recorder
        self.clock = clock
        self.stop = stop
        self.phase_runs = phase_runs  # the dispatcher's, appended as phases start
        self.active = active
        self.total_duration = total_duration
        self.observer = observer
        self.on_checkpoint = on_checkpoint
        self.checkpoint_seconds = checkpoint_seconds
        self.last_period = last_period
        # Whole (per endpoint, every histogram) when something reads more than the charts.
        self.live = LiveSeries(whole=bool(watchers) or abort is not None)
        self.watchers = watchers
        self.abort = abort
        self.on_abort = on_abort
        self._watcher_failed: set[int] = set()  # told to the observer once each
        self._next_period = 0
        # process_time() at the last health sample; None until the load starts.
        self._cpu_mark: float | None = None
        # The checkpoint being written on a thread of its own, if any.
        self._checkpointing: asyncio.Future[None] | None = None

    def begin(self) -> None:
        """The load starts now: the generator's CPU is counted from here."""
        self._cpu_mark = time.process_time()

    async def run(self) -> None:
        now = self.clock.now
        every = self.checkpoint_seconds
        next_checkpoint = every or 0.0
        rolled_at = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.sample_health()
            self.rec.observe(ACTIVE_USERS, float(self.active()))
            if every and now() >= next_checkpoint and self.checkpoint():
                next_checkpoint = now() + every
            if int(now() // PERIOD_SECONDS) > rolled_at:  # once a period: memory stays flat
                rolled_at = int(now() // PERIOD_SECONDS)
                self.rec.finish_before(min(rolled_at, self.last_period))
                roll_up(self.rec.periods, now())
            self.live.take(self.rec.periods, now())
            self.judge()
            if self.watchers:
                progress = self.progress()
                for watcher in self.watchers:
                    self.tell(watcher, progress)
            if self.observer is None:
                continue
            # A period is done once the clock has left it; the last one takes every
            # sample up to the run's end, so it is reported only then.
            self.report_periods(min(int(now() // PERIOD_SECONDS), self.last_period))
            self.observer.tick(self.progress())

    def sample_health(self) -> None:
        """The generator's own health, for reports: the CPU it used since the last
        sample, and its memory now. Once a second, and once at the load's end (a run
        shorter than a second has a sample, a longer one the CPU of its last part)."""
        if self._cpu_mark is None:  # the load never started
            return
        cpu = time.process_time()
        self.rec.count(CPU_MS, round((cpu - self._cpu_mark) * 1000))
        self._cpu_mark = cpu
        rss = resident_mb()
        if rss is not None:
            self.rec.observe(RSS_MB, rss)

    def judge(self) -> None:
        """Ask `abort` about the run so far; a reason stops the run, once, and is told."""
        if self.abort is None or self.on_abort is None or self.stop.reason is not None:
            return
        try:
            reason = self.abort(self.live, self.progress())
        except Exception as exc:  # judging is never the run's failure: it goes on, unjudged
            self.abort = None
            if self.observer is not None:
                self.observer.log(f"warning: checks judged live failed, no abort: {exc!r}")
            return
        if reason is None:
            return
        if self.observer is not None:
            self.observer.log(f"stopping: {reason}")
        self.on_abort(reason)

    def tell(self, watcher: Watcher, progress: Progress) -> None:
        """A second to a watcher; what fails there is counted, told once, never the run's."""
        try:
            watcher.second(self.live, progress)
        except Exception as exc:
            self.watcher_failed(watcher, exc)

    def watcher_failed(self, watcher: Watcher, exc: Exception) -> None:
        self.rec.count(OUTPUT_ERRORS)
        if self.observer is not None and id(watcher) not in self._watcher_failed:
            self._watcher_failed.add(id(watcher))
            # An output's own failure says what went wrong; anything else is named.
            why = str(exc) if isinstance(exc, OutputFailed) else f"{type(exc).__name__}: {exc}"
            self.observer.log(f"warning: {watcher.name} failed, the run goes on: {why}")

    async def start_watchers(self) -> None:
        """Start each watcher; when one cannot start, those started are finished and its
        error (a UsageError) goes on up, before any traffic."""
        started: list[Watcher] = []
        try:
            for watcher in self.watchers:
                await watcher.start()
                started.append(watcher)
        except BaseException:
            for watcher in started:
                with contextlib.suppress(Exception):
                    await watcher.finish(self.live, self.progress())
            raise

    async def finish_watchers(self) -> None:
        """The run's last stretch into the live series (and its rows), then to the
        watchers with the run's end (a final push, a page's last frame)."""
        self.live.take(self.rec.periods, max(self.clock.now(), 0.0), final=True)
        if not self.watchers:
            return
        progress = self.progress()
        for watcher in self.watchers:
            try:
                await watcher.finish(self.live, progress)
            except Exception as exc:
                self.watcher_failed(watcher, exc)

    def report_periods(self, until: int, duration: float | None = None) -> None:
        """Hand each period before index `until` to the observer, once."""
        if duration is None:  # during the run: only periods the clock has left
            duration, last = self.clock.now(), self.last_period
        else:
            last = max(self.rec.periods, default=0)
        while self.observer is not None and self._next_period < until:
            period = self.rec.periods.get(self._next_period)
            if period is not None:
                self.observer.period_done(period, period_width(period.index, duration, last))
            self._next_period += 1

    def checkpoint(self) -> bool:
        """Start writing a checkpoint on a thread, so encoding a long run's report never
        holds up the event loop; False while the previous one is still being written."""
        if self.on_checkpoint is None:
            return False
        if self._checkpointing is not None and not self._checkpointing.done():
            return False
        self._checkpointing = asyncio.ensure_future(
            asyncio.to_thread(self.on_checkpoint, self.snapshot())
        )
        return True

    async def checkpoint_written(self) -> None:
        """Wait for a checkpoint in progress, so it never lands after the final report."""
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])

    def snapshot(self) -> RunResult:
        """The run so far, as a result of its own: what a checkpoint writes. Safe to read
        on another thread while the run goes on: the periods the clock has left are never
        written again (and roll_up replaces, never changes, them), so only the ones still
        being written are copied."""
        now = max(self.clock.now(), 0.0)
        started = [run for run in self.phase_runs if run.started <= now]
        phases = [replace(run, ended=min(run.ended, now)) for run in started]
        open_from = min(int(now // PERIOD_SECONDS), self.last_period)
        periods = [
            period.copy() if period.index + period.span > open_from else period
            for period in self.rec.sorted_periods()
        ]
        return RunResult(periods, now, phases, self.stop.reason, self.clock.late_start)

    def progress(self) -> Progress:
        now = self.clock.now()
        current = self.rec.periods.get(int(max(now, 0) // PERIOD_SECONDS))
        counters: dict[str, int] = {}
        for period in self.rec.periods.values():
            for key in (USERS_CREATED, REQUESTS, REQUESTS_FAILED):
                counters[key] = counters.get(key, 0) + period.metrics.counters.get(key, 0)
        rps = 0.0
        if current is not None and current.last > current.first:
            rps = current.metrics.counters.get(REQUESTS, 0) / max(now - current.start, 1.0)
        return Progress(
            elapsed=max(now, 0.0),
            total=self.total_duration,
            phase=self.current_phase(),
            active=self.active(),
            created=counters.get(USERS_CREATED, 0),
            requests=counters.get(REQUESTS, 0),
            failed=counters.get(REQUESTS_FAILED, 0),
            rps=rps,
        )

    def current_phase(self) -> str:
        elapsed = self.clock.now()
        for run in self.phase_runs:
            if run.started <= elapsed < run.ended:
                return run.name
        return self.phase_runs[-1].name if self.phase_runs else ""


def resident_mb() -> float | None:
    """This process's resident memory now, in MB: /proc/self/statm where there is one
    (Linux: one small read), else the peak so far from getrusage, else None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * PAGE_BYTES / 1e6
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6
