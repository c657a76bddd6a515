"""A run's stop (Ctrl-C, SIGTERM, an internal error): why it stopped, the event a
thinking user wakes on, and the tasks the engine itself is cutting."""

from __future__ import annotations

import asyncio

# The longest one think may last (a day): longer waits (a templated 1e308) are cut here.
MAX_PAUSE_SECONDS = 86_400.0


class Stop:
    def __init__(self) -> None:
        self.reason: str | None = None
        self.event = asyncio.Event()
        # Tasks the engine itself is cancelling (a stop's grace or a gracefulStop ran
        # out), told apart from a CancelledError that a user's hook raised.
        self.cutting: set[asyncio.Task[None]] = set()
        # The futures of the users thinking now, which a stop wakes. A think is a future
        # and a timer: asyncio.wait_for on the event made a task, a timer and a
        # cancellation per think, a tenth of a paced run's CPU (docs/performance.md).
        self._thinking: set[asyncio.Future[None]] = set()

    def request(self, reason: str) -> bool:
        """Stop for `reason`; False when the run was already stopping."""
        if self.reason is not None:
            return False
        self.reason = reason
        self.event.set()
        for waiter in self._thinking:
            if not waiter.done():
                waiter.set_result(None)
        return True

    async def pause(self, seconds: float) -> None:
        """A user's think time, which a stop ends at once."""
        if seconds <= 0 or self.reason is not None:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(min(seconds, MAX_PAUSE_SECONDS), _wake, waiter)
        self._thinking.add(waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._thinking.discard(waiter)

    def cut(self, task: asyncio.Task[None]) -> None:
        """Cancel a user (or a `before`/`after` flow) whose time ran out."""
        if not task.done():
            self.cutting.add(task)
            task.add_done_callback(self.cutting.discard)
            task.cancel()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a stop may have woken it in the same loop iteration
        waiter.set_result(None)
