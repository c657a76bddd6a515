"""The dispatcher's wait for an arrival's moment, against a timer that behaves like
uvloop's: whole milliseconds, read from a clock that may lag the real one."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from yamlload.runtime import dispatcher as dispatcher_module
from yamlload.runtime.clock import Clock
from yamlload.runtime.dispatcher import TIMER_STEP_SECONDS, Dispatcher


class SteppedClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0

    def now(self) -> float:
        return self.t


def millisecond_timer(clock: SteppedClock, asked: list[float]) -> Any:
    """A sleep that, like uvloop's, truncates to whole ms: a sub-ms sleep is no sleep."""

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        clock.t += math.floor(round(seconds / TIMER_STEP_SECONDS, 6)) * TIMER_STEP_SECONDS
        if len(asked) > 50:
            raise AssertionError("the dispatcher spins on the timer")

    return sleep


@pytest.mark.parametrize("moment", [0.0004, 0.0017, 0.25, 1.0])
def test_an_arrival_waits_once_and_never_starts_early(
    monkeypatch: pytest.MonkeyPatch, moment: float
) -> None:
    clock = SteppedClock()
    asked: list[float] = []
    monkeypatch.setattr(dispatcher_module.asyncio, "sleep", millisecond_timer(clock, asked))
    dispatcher = Dispatcher.__new__(Dispatcher)
    dispatcher.clock = clock
    asyncio.run(dispatcher.sleep_until(moment))
    assert clock.t >= moment
    assert clock.t - moment < TIMER_STEP_SECONDS + 1e-9
    assert len(asked) == 1
