"""Arrivals → users: the schedule's arrivals, each started as a user at its moment
(phase caps and closed-model deadlines applied), and the wait for the last user."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Coroutine
from typing import Any

from ..metrics.names import USERS_SKIPPED
from ..metrics.periods import Recorder
from ..plan.ir import Phase
from ..results.drift import steady_offset
from ..results.run import PhaseRun
from ..schedule.arrivals import Arrival, Segment, phase_starts, schedule
from .clock import Clock
from .stop import Stop

# uvloop's timer resolution (libuv counts milliseconds).
TIMER_STEP_SECONDS = 0.001
# Runs one arrival's user to its end; its deadline is a closed-model phase's end.
RunUser = Callable[[Arrival, float | None], Coroutine[Any, Any, None]]


class Dispatcher:
    def __init__(
        self,
        phases: tuple[Phase, ...],
        *,
        schedule_rng: random.Random,
        segment: Segment,
        run_user: RunUser,
        clock: Clock,
        stop: Stop,
        recorder: Recorder,
        grace_seconds: float,
    ) -> None:
        self.phases = phases
        self.total_duration = sum(p.duration for p in phases)
        self.schedule_rng = schedule_rng
        self.segment = segment
        self.run_user = run_user
        self.clock = clock
        self.stop = stop
        self.rec = recorder
        self.grace_seconds = grace_seconds
        self.users: set[asyncio.Task[None]] = set()
        # Each phase as it ran, appended as the schedule enters it.
        self.phase_runs: list[PhaseRun] = []

    async def run(self) -> None:
        starts = phase_starts(self.phases)
        active_in_phase = [0] * len(self.phases)
        current = -1
        segment = self.segment
        for arrival in schedule(self.phases, self.schedule_rng, segment):
            phase = self.phases[arrival.phase]
            if arrival.phase != current:
                self._enter_phase(arrival.phase, starts)
                current = arrival.phase
            await self.sleep_until(arrival.at)
            cap = segment.share(phase.max_vusers) if phase.max_vusers is not None else None
            if cap is not None and active_in_phase[arrival.phase] >= cap:
                self.rec.count(USERS_SKIPPED)
                continue
            deadline = starts[arrival.phase] + phase.duration if phase.kind == "users" else None
            if deadline is not None and self.clock.now() >= deadline:
                continue  # a closed-model phase that is over starts no one (none is counted)
            task = self.launch(arrival, deadline, phase.graceful_stop)
            if phase.max_vusers is not None:
                active_in_phase[arrival.phase] += 1
                task.add_done_callback(_releaser(active_in_phase, arrival.phase))
        # phases without arrivals (pauses, a quiet tail) still take their time
        for index in range(current + 1, len(self.phases)):
            self._enter_phase(index, starts)
        await self.sleep_until(self.total_duration)

    async def sleep_until(self, moment: float) -> None:
        """Sleep until `moment` (seconds from the start), never waking before it.

        uvloop's timers count whole milliseconds from a clock read once per loop turn: a
        sleep of the exact time left wakes early, then again and again for the sub-ms
        rest (~30 wakes an arrival at 1000/s, measured). Rounding up to the timer's step
        wakes about once, at most a step late."""
        while (remaining := moment - self.clock.now()) > 0:
            await asyncio.sleep(math.ceil(remaining / TIMER_STEP_SECONDS) * TIMER_STEP_SECONDS)

    def _enter_phase(self, index: int, starts: list[float]) -> None:
        phase = self.phases[index]
        start = starts[index]
        steady = steady_offset(phase)
        self.phase_runs.append(
            PhaseRun(
                index,
                phase.name,
                start,
                start + phase.duration,
                None if steady is None else start + steady,
            )
        )

    def launch(self, arrival: Arrival, deadline: float | None, grace: float) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self.run_user(arrival, deadline))
        self.users.add(task)
        task.add_done_callback(self.users.discard)
        if deadline is not None:
            # The iteration in flight at the phase end gets `gracefulStop` to finish.
            cut = asyncio.get_running_loop().call_later(
                max(0.0, deadline + grace - self.clock.now()), self.stop.cut, task
            )
            task.add_done_callback(lambda _: cut.cancel())
        return task

    async def drain(self) -> None:
        """Wait for users still running; after a stop (which may come while waiting),
        only for the grace period."""
        while self.users:
            pending = list(self.users)
            if self.stop.reason is None:
                stopping = asyncio.ensure_future(self.stop.event.wait())
                await asyncio.wait([*pending, stopping], return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                continue
            _, late = await asyncio.wait(pending, timeout=self.grace_seconds)
            for task in late:
                self.stop.cut(task)
            await asyncio.gather(*late, return_exceptions=True)
            break


def _releaser(counts: list[int], index: int) -> Callable[[asyncio.Task[None]], None]:
    def release(_: asyncio.Task[None]) -> None:
        counts[index] -= 1

    return release
