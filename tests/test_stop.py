"""A user's think (Stop.pause): a future and a timer, which a stop ends at once."""

from __future__ import annotations

import asyncio

import pytest

from yamlload.runtime.stop import Stop

BOUND = 10.0  # bounds each test's loop; no assertion here is about speed


def run(coroutine_function):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coroutine_function(), BOUND))


def test_a_stop_wakes_every_thinking_user_and_later_thinks_return_at_once() -> None:
    async def scenario() -> tuple[list[bool], str | None]:
        stop = Stop()
        users = [asyncio.ensure_future(stop.pause(3600)) for _ in range(3)]
        await asyncio.sleep(0)  # they are all thinking now
        assert not any(u.done() for u in users)
        assert stop.request("SIGINT") and not stop.request("SIGTERM")
        await asyncio.gather(*users)
        await stop.pause(3600)  # after a stop, a think is no wait at all
        return [u.done() for u in users], stop.reason

    done, reason = run(scenario)
    assert done == [True, True, True] and reason == "SIGINT"


def test_a_think_ends_by_its_timer_and_leaves_nothing_behind() -> None:
    async def scenario() -> tuple[float, int]:
        stop = Stop()
        loop = asyncio.get_running_loop()
        start = loop.time()
        await stop.pause(0.05)
        return loop.time() - start, len(stop._thinking)

    waited, left = run(scenario)
    assert waited >= 0.04  # never early by more than the loop's millisecond rounding
    assert left == 0


def test_a_cancelled_think_raises_and_is_forgotten() -> None:
    async def scenario() -> int:
        stop = Stop()
        user = asyncio.ensure_future(stop.pause(3600))
        await asyncio.sleep(0)
        user.cancel()
        with pytest.raises(asyncio.CancelledError):
            await user
        stop.request("stop")  # waking a forgotten think must not fail
        return len(stop._thinking)

    assert run(scenario) == 0


@pytest.mark.parametrize("seconds", [0, -1.0])
def test_no_think_for_zero_or_less(seconds: float) -> None:
    async def scenario() -> int:
        stop = Stop()
        await stop.pause(seconds)
        return len(stop._thinking)

    assert run(scenario) == 0
