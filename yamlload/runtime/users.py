"""Users' lives: one made from each arrival (its scenario, variables and session), its
scenario run once (again and again in a closed-model phase, until its deadline), and
its end counted: completed, failed or interrupted. Also the `before` and `after` flows,
which run as a user of their own."""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..metrics.names import (
    ARRIVAL_LAG,
    ITERATIONS,
    SESSION_LENGTH,
    USERS_COMPLETED,
    USERS_CREATED,
    USERS_CREATED_BY_NAME,
    USERS_FAILED,
    USERS_INTERRUPTED,
)
from ..metrics.periods import Recorder
from ..plan.ir import Payload, Plan, Scenario, Step, TList
from ..schedule.arrivals import Arrival
from .clock import Clock
from .flow import Flow
from .hooks import HookContext, Hooks
from .http.transport import Transport
from .stop import Stop
from .vuser import User, render

# Runs a ws scenario's flow around its user's connection (runtime/ws.py's WsClient).
WsSession = Callable[[User, Callable[[User], Awaitable[bool]]], Awaitable[bool]]


class Users:
    def __init__(
        self,
        plan: Plan,
        *,
        scenarios: tuple[list[Scenario], list[float]],
        payloads: list[tuple[Payload, Sequence[dict[str, Any]]]],
        seed: int,
        transport: Transport,
        flow: Flow,
        hooks: Hooks,
        stop: Stop,
        recorder: Recorder,
        clock: Clock,
        crashed: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.scenarios, self.weights = scenarios
        self.payloads = payloads
        self.seed = seed
        self.rng = random.Random(f"{seed}/special")
        self.transport = transport
        self.flow = flow
        self.hooks = hooks
        self.stop = stop
        self.rec = recorder
        self.clock = clock
        self.crashed = crashed  # a bug in yamlload: the engine stops the run and says so
        self.env = dict(plan.env)
        self.shared_vars: dict[str, Any] = {}
        self.active = 0
        # the engine sets it for a plan with a ws scenario
        self.ws_session: WsSession | None = None

    async def run(self, arrival: Arrival, deadline: float | None) -> None:
        """One arrival's user, from its start to its end, counted."""
        rec, now = self.rec, self.clock.now
        rec.observe(ARRIVAL_LAG, max(0.0, (now() - arrival.at) * 1000.0))
        rng = random.Random(f"{self.seed}/{arrival.index}")
        scenario = (
            rng.choices(self.scenarios, self.weights)[0]
            if len(self.scenarios) > 1
            else self.scenarios[0]
        )
        rec.count(USERS_CREATED)
        rec.count(USERS_CREATED_BY_NAME + scenario.name)
        self.active += 1
        session = self.transport.session()
        started = now()
        ok = False
        try:
            variables = self.initial_vars(rng, arrival.index)
            user = User(variables, session, scenario, rng, self.specials(scenario))
            ok = await self.scenario_once(user)
            # A closed-model user stops between iterations at its phase's end.
            while ok and deadline is not None and now() < deadline and self.stop.reason is None:
                rec.count(ITERATIONS)
                ok = await self.scenario_once(user)
        except asyncio.CancelledError:
            rec.count(USERS_INTERRUPTED)  # cut by a stop's grace or a gracefulStop
            raise
        except Exception:  # a bug in yamlload: end the run and say so, never a count
            self.crashed(traceback.format_exc())
        finally:
            self.active -= 1
            await session.close()
        if ok:
            rec.count(USERS_COMPLETED)
            rec.observe(SESSION_LENGTH, (now() - started) * 1000.0)
        else:
            rec.count(USERS_INTERRUPTED if self.stop.reason is not None else USERS_FAILED)

    async def scenario_once(self, user: User) -> bool:
        """The scenario's flow once; a ws scenario's inside its own connection."""
        if user.scenario.engine == "ws" and self.ws_session is not None:
            return await self.ws_session(user, self.flow_once)
        return await self.flow_once(user)

    async def flow_once(self, user: User) -> bool:
        scenario = user.scenario
        if not (scenario.before_scenario or scenario.after_scenario):
            return await self.flow.run(scenario.flow, user)
        context = HookContext(user.vars, scenario.name)
        for hook in scenario.before_scenario:
            if not await self.hooks.call(hook, user, context):
                return False
        ok = await self.flow.run(scenario.flow, user)
        for hook in scenario.after_scenario:
            ok = await self.hooks.call(hook, user, context) and ok
        return ok

    def initial_vars(self, rng: random.Random, arrival_index: int = 0) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.shared_vars)
        first = self.scenarios[0]
        user = User(values, None, first, rng, self.specials(first))  # type: ignore[arg-type]
        for name, value in self.plan.variables.items:
            chosen = rng.choice(value.items) if isinstance(value, TList) and value.items else value
            values[name] = render(chosen, user)
        for payload, rows in self.payloads:
            if not rows:
                continue
            if payload.load_all:
                values[payload.name or "data"] = list(rows)
                continue
            if payload.order == "sequence":
                # by the arrival's global index, so shards never share a row
                row = rows[arrival_index % len(rows)]
            else:
                row = rng.choice(rows)
            values.update(row)
        return values

    def specials(self, scenario: Scenario) -> dict[str, Any]:
        return {
            "$env": self.env,
            "$processEnvironment": self.env,
            "$environment": self.plan.environment,
            "$dirname": self.plan.base_dir,
            "$target": self.plan.target,
            "$scenarioName": scenario.name,
        }

    async def special_flow(self, steps: tuple[Step, ...], share: bool) -> None:
        """A `before` (share: its variables go to every user) or `after` flow."""
        if not steps:
            return
        session = self.transport.session()
        rng = random.Random(self.rng.getrandbits(64))
        scenario = Scenario(name="before" if share else "after", weight=0, flow=steps)
        user = User(self.initial_vars(rng), session, scenario, rng, self.specials(scenario))
        try:
            await self.flow.run(steps, user)
        finally:
            await session.close()
        if share:
            self.shared_vars.update({k: v for k, v in user.vars.items() if not k.startswith("$")})
