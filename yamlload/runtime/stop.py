"""A run's stop (Ctrl-C, SIGTERM, an internal error): why it stopped, the event a
thinking user wakes on, and the tasks the engine itself is cutting."""

from __future__ import annotations

import asyncio
import contextlib

# The longest one think may last (a day): longer waits (a templated 1e308) are cut here.
MAX_PAUSE_SECONDS = 86_400.0


class Stop:
    def __init__(self) -> None:
        self.reason: str | None = None
        self.event = asyncio.Event()
        # Tasks the engine itself is cancelling (a stop's grace or a gracefulStop ran
        # out), told apart from a CancelledError that a user's hook raised.
        self.cutting: set[asyncio.Task[None]] = set()

    def request(self, reason: str) -> bool:
        """Stop for `reason`; False when the run was already stopping."""
        if self.reason is not None:
            return False
        self.reason = reason
        self.event.set()
        return True

    async def pause(self, seconds: float) -> None:
        """A user's think time, which a stop ends at once."""
        if seconds <= 0 or self.reason is not None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.event.wait(), min(seconds, MAX_PAUSE_SECONDS))

    def cut(self, task: asyncio.Task[None]) -> None:
        """Cancel a user (or a `before`/`after` flow) whose time ran out."""
        if not task.done():
            self.cutting.add(task)
            task.add_done_callback(self.cutting.discard)
            task.cancel()
