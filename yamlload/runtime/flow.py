"""A user's flow: its steps in order (requests, think, loops, logs, parallel groups,
processor functions, and a ws scenario's send and wait). A step that fails stops its
user as failed."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from ..metrics.names import ERRORS
from ..metrics.periods import Recorder
from ..plan.expr import Template
from ..plan.ir import (
    MAX_LOOP_COUNT,
    FunctionStep,
    LogStep,
    LoopStep,
    ParallelStep,
    Request,
    Step,
    ThinkStep,
    WsSend,
    WsWait,
)
from .hooks import HookContext, Hooks
from .log import RunLog, exception_text
from .stop import Stop
from .vuser import VALUE_ERRORS, User, duration_value, render, text

STEP_ERROR = "Step error"

# Sends one request step for a user; False when the user must stop as failed.
Send = Callable[[Request, User], Awaitable[bool]]


class Sockets(Protocol):
    """A ws scenario's steps on its user's connection (runtime/ws.py's WsClient)."""

    async def send(self, step: WsSend, user: User) -> bool: ...

    async def wait(self, step: WsWait, user: User) -> bool: ...


class Flow:
    """Runs steps for one user; returns False when the user must stop as failed."""

    def __init__(
        self,
        send: Send,
        hooks: Hooks,
        log: RunLog,
        stop: Stop,
        recorder: Recorder,
        default_jitter: float | None,
    ) -> None:
        self.send = send
        self.hooks = hooks
        self.log = log
        self.stop = stop
        self.rec = recorder
        self.default_jitter = default_jitter
        # the engine sets it for a plan with a ws scenario (only then is aiohttp loaded)
        self.sockets: Sockets | None = None

    async def run(self, steps: tuple[Step, ...], user: User) -> bool:
        stop = self.stop
        for step in steps:
            if stop.reason is not None:
                return False  # after a stop, in-flight requests finish but no step starts
            try:
                if not await self.step(step, user):
                    return False
            except VALUE_ERRORS as exc:  # a value a server sent broke this step
                self.rec.count(ERRORS + STEP_ERROR)
                where = step if isinstance(step, Request) else f"step {step.pos}"
                self.log.failure(STEP_ERROR, user, where, exception_text(exc))
                return False
        return True

    async def step(self, step: Step, user: User) -> bool:
        if isinstance(step, Request):
            return await self.send(step, user)
        if isinstance(step, ThinkStep):
            await self.stop.pause(self.think_seconds(step, user))
            # a think a stop cut short ends its user interrupted, even as its last step
            return self.stop.reason is None
        if isinstance(step, LoopStep):
            return await self.loop(step, user)
        if isinstance(step, LogStep):
            self.log.log(text(step.message, user), self.log.user_secrets(user))
            return True
        if isinstance(step, ParallelStep):
            results = await asyncio.gather(*(self.step(s, user) for s in step.steps))
            return all(results)
        if isinstance(step, FunctionStep):
            return await self.hooks.call(
                step.name, user, HookContext(user.vars, user.scenario.name)
            )
        if isinstance(step, WsSend) and self.sockets is not None:
            return await self.sockets.send(step, user)
        if isinstance(step, WsWait) and self.sockets is not None:
            return await self.sockets.wait(step, user)
        raise AssertionError(f"unknown step {step!r}")

    def think_seconds(self, step: ThinkStep, user: User) -> float:
        if step.low is not None and step.high is not None:
            seconds = user.rng.uniform(step.low, step.high)
        elif isinstance(step.seconds, Template):
            seconds = duration_value(step.seconds.render(user.lookup, user.rng))
        else:
            seconds = float(step.seconds or 0.0)
        jitter = step.jitter if step.jitter is not None else self.default_jitter
        if step.jitter_seconds:
            seconds += user.rng.uniform(-step.jitter_seconds, step.jitter_seconds)
        elif jitter:
            seconds *= user.rng.uniform(1 - jitter, 1 + jitter)
        return max(0.0, seconds)

    async def loop(self, step: LoopStep, user: User) -> bool:
        saved = (user.vars.get("$loopCount"), user.vars.get("$loopElement"))
        try:
            for index, element in enumerate(loop_items(step, user)):
                if step.while_true is not None and not await self.hooks.call(
                    step.while_true,
                    user,
                    HookContext(user.vars, user.scenario.name),
                    want_value=True,
                ):
                    break
                user.vars["$loopCount"] = index
                user.vars["$loopElement"] = element
                if not await self.run(step.steps, user):
                    return False
                # An iteration whose steps never waited (all skipped by ifTrue) must still
                # let the loop run, or a stop could never be heard.
                await asyncio.sleep(0)
        finally:
            user.vars["$loopCount"], user.vars["$loopElement"] = saved
        return True


def rendered_count(value: Any) -> int:
    """A templated loop count, often a value a server sent: a whole number from 0 to
    MAX_LOOP_COUNT, else a ValueError that fails the user's step (-1 or 1e308 from a
    server must not loop for ever)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (0 <= number <= MAX_LOOP_COUNT and number.is_integer()):
        raise ValueError(f"loop count {value!r} is not a whole number from 0 to {MAX_LOOP_COUNT:,}")
    return int(number)


def loop_items(step: LoopStep, user: User) -> Iterator[Any]:
    if step.over is not None:
        items = render(step.over, user)
        yield from (
            items if isinstance(items, list | tuple) else ([] if items in (None, "") else [items])
        )
        return
    if isinstance(step.count, tuple):
        low, high = step.count
        count = low if low == high else user.rng.randint(low, high)
    elif isinstance(step.count, Template):
        count = rendered_count(step.count.render(user.lookup, user.rng))
    else:
        count = -1  # no count: repeat until the run stops
    index = 0
    while count < 0 or index < count:
        yield index  # $loopCount and $loopElement start at 0, as in Artillery
        index += 1
