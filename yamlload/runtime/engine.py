"""The runtime: a dispatcher starts virtual users on the plan's schedule, and each user
runs its scenario's flow over a transport (the fast one, or aiohttp: http/choose.py).
Everything measured goes to a `Recorder`. This module wires the pieces together and
runs them; each piece is a module of its own (see docs/design.md).

Every request ends in exactly one counted outcome: a response, a request error (an
`errors.*` name: a value, never an exception that escapes; the user stops as failed) or
an interruption. A response the plan does not accept is a failed request, and the user
goes on. Anything else that raises is a bug in yamlload: the run stops and says so.
"""

from __future__ import annotations

import asyncio
import difflib
import random
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from ..metrics.live import ROWS_KEPT
from ..metrics.periods import Recorder, last_period_index
from ..plan.ir import Phase, Plan, Scenario, Step
from ..plan.payload import cast_cell as _cast
from ..plan.payload import payload_rows, read_payload
from ..plan.secrets import Redactor
from ..results.run import RunResult
from ..schedule.arrivals import WHOLE_RUN
from .capacity import (
    SPARE_FILE_DESCRIPTORS,
    capacity_warnings,
    connections_needed,
    ensure_file_limit,
)
from .clock import Clock
from .dispatcher import Dispatcher
from .flow import Flow
from .hooks import HookContext, HookResponse, Hooks, load_processor
from .http.choose import make_transport, transport_choice
from .http.client import HttpClient
from .http.errors import BODY_TOO_LARGE, FAILED_CAPTURE
from .http.form import FilePathError, _PendingForm, _Upload
from .http.transport import Transport
from .log import RunLog
from .monitoring import Monitoring
from .options import STOP_SIGNALS, Observer, RunOptions
from .stop import Stop
from .ticker import Ticker
from .users import Users

# The schedule starts this long after the engine, so the first arrivals are not late
# merely because the event loop was still warming up.
START_DELAY_SECONDS = 0.02

# The names other packages and the tests import from here.
_Http = HttpClient
__all__ = [
    "BODY_TOO_LARGE",
    "FAILED_CAPTURE",
    "SPARE_FILE_DESCRIPTORS",
    "STOP_SIGNALS",
    "WHOLE_RUN",
    "Engine",
    "FilePathError",
    "HookContext",
    "HookResponse",
    "Observer",
    "RunOptions",
    "_Http",
    "_PendingForm",
    "_Upload",
    "_cast",
    "capacity_warnings",
    "connections_needed",
    "ensure_file_limit",
    "read_payload",
    "run_on_uvloop",
    "run_plan",
    "transport_choice",
]


class Engine:
    """Drives one plan: schedule → users → recorder. Create, then `await run()`."""

    def __init__(
        self,
        plan: Plan,
        options: RunOptions | None = None,
        observer: Observer | None = None,
        on_checkpoint: Callable[[RunResult], None] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.plan = plan
        self.options = options = options or RunOptions()
        # One redactor per run: the CLI's, when it made one for its own lines.
        redactor = redactor or Redactor.for_plan(plan)
        self.log = RunLog(observer, redactor, plan.secrets, options.debug)
        # Every shard draws the same schedule (so poisson phases agree), and each user's
        # choices come from the run's seed and its global arrival index: a seeded run
        # makes the same choices however it is split.
        seed = options.seed if options.seed is not None else random.getrandbits(63)
        self.recorder = Recorder()
        self.clock = Clock()
        self.stopping = Stop()
        self.internal_error: str | None = None
        self._dispatching: asyncio.Task[None] | None = None
        self._special_task: asyncio.Task[None] | None = None
        self.ws: Any = None  # runtime/ws.py's WsClient, for a plan with a ws scenario
        self.users = self._users(seed)
        self.dispatcher = Dispatcher(
            self._phases(),
            schedule_rng=random.Random(seed),
            segment=options.segment,
            run_user=self.users.run,
            clock=self.clock,
            stop=self.stopping,
            recorder=self.recorder,
            grace_seconds=options.grace_seconds,
        )
        self.recorder.last_period = last_period_index(self.dispatcher.total_duration)
        self.ticker = self._ticker(observer, on_checkpoint)

    # ---- setup

    def _transport(self) -> Transport:
        """The transport the plan names (choose.py)."""
        return make_transport(self.plan, self.options, self.recorder.observe)

    def _users(self, seed: int) -> Users:
        """The users and all they run on: scenarios, payloads, the processor, the
        transport, the HTTP client and the flow. Raises UsageError for a scenario name,
        payload or processor that cannot be used, in that order."""
        plan, recorder = self.plan, self.recorder
        scenarios = self._scenarios()
        payloads = [(p, payload_rows(p)) for p in plan.payloads]  # parsed when compiled
        processor = load_processor(plan.processor) if plan.processor else None
        self.transport = self._transport()
        self.hooks = Hooks(processor, recorder, self.log, self.stopping)
        self.http = HttpClient(plan, recorder, self.log, self.hooks)
        flow = Flow(
            self.http.send, self.hooks, self.log, self.stopping, recorder, plan.default_jitter
        )
        users = Users(
            plan,
            scenarios=scenarios,
            payloads=payloads,
            seed=seed,
            transport=self.transport,
            flow=flow,
            hooks=self.hooks,
            stop=self.stopping,
            recorder=recorder,
            clock=self.clock,
            crashed=self._crashed,
        )
        if plan.has_ws:  # aiohttp's WebSocket client, loaded only for a plan that speaks it
            from .ws import WsClient

            self.ws = WsClient(plan, recorder, self.log, self.clock, self.stopping, self.options)
            flow.sockets = self.ws
            users.ws_session = self.ws.session
        return users

    def _ticker(
        self, observer: Observer | None, on_checkpoint: Callable[[RunResult], None] | None
    ) -> Ticker:
        last_period = self.recorder.last_period or 0
        return Ticker(
            self.recorder,
            clock=self.clock,
            stop=self.stopping,
            phase_runs=self.dispatcher.phase_runs,
            active=lambda: self.users.active,
            total_duration=self.dispatcher.total_duration,
            last_period=last_period,
            observer=observer,
            on_checkpoint=on_checkpoint,
            checkpoint_seconds=self.options.checkpoint_seconds,
            watchers=self.options.watchers,
            abort=self.options.abort,
            on_abort=self.stop,
        )

    def _scenarios(self) -> tuple[list[Scenario], list[float]]:
        scenarios = list(self.plan.scenarios)
        if self.options.scenario_name is not None:
            scenarios = [s for s in scenarios if s.name == self.options.scenario_name]
            if not scenarios:
                known = [s.name for s in self.plan.scenarios]
                wanted = self.options.scenario_name
                close = difflib.get_close_matches(wanted, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                names = ", ".join(repr(name) for name in known)
                raise UsageError(
                    f"--scenario-name {wanted!r}: no such scenario{hint} (have: {names})"
                )
            return scenarios, [1.0] * len(scenarios)
        return scenarios, [s.weight for s in scenarios]

    def _phases(self) -> tuple[Phase, ...]:
        if self.options.solo:
            return (Phase(index=0, name="solo", kind="count", duration=0.0, arrival_count=1),)
        return self.plan.phases

    # ---- what the run's printing reads (tests set the redactor)

    @property
    def redactor(self) -> Redactor:
        return self.log.redactor

    @redactor.setter
    def redactor(self, redactor: Redactor) -> None:
        self.log.redactor = redactor

    @property
    def stopped_by(self) -> str | None:
        return self.stopping.reason

    def snippet(self, body: bytes, secrets: list[str]) -> str:
        return self.log.snippet(body, secrets)

    def now(self) -> float:
        return self.clock.now()

    # ---- the run

    async def run(self) -> RunResult:
        await self.ticker.start_watchers()  # a port in use stops here, before traffic
        self.transport.open()
        self.clock.t0 = time.perf_counter()
        # `before` is set-up, not load: what it measures goes into the first period.
        self.recorder.clock = lambda: 0.0
        try:
            await self._special(self.plan.before, share=True)
            if self.stopped_by is None:  # a stop during `before` makes no load at all
                await self._load()
            if self.stopped_by is None:
                await self._special(self.plan.after, share=False)
            # The last period runs to here, `after` included; never below 0 (a shard
            # stopped while waiting for its --start-at).
            duration = max(self.now(), 0.0)
        finally:
            await self.transport.close()
            if self.ws is not None:
                await self.ws.close()
            await self.ticker.checkpoint_written()
            await self.ticker.finish_watchers()
        self.ticker.report_periods(max(self.recorder.periods, default=-1) + 1, duration)
        phase_runs = self.dispatcher.phase_runs
        for run in phase_runs:
            run.ended = min(run.ended, duration)
        rows = self.ticker.live.rows
        return RunResult(
            self.recorder.sorted_periods(),
            duration,
            phase_runs,
            self.stopped_by,
            self.clock.late_start,
            self.internal_error,
            seconds=list(rows) if duration <= ROWS_KEPT else [],
        )

    async def _load(self) -> None:
        """The schedule's users, from the first arrival until the last user is done."""
        delay = self._start_delay()
        self.clock.late_start = max(0.0, -delay)
        self.clock.t0 = time.perf_counter() + max(0.0, delay)
        self.recorder.clock = self.clock.now
        self.ticker.begin()
        ticker = asyncio.ensure_future(self.ticker.run())
        # the system under test is watched while the load runs, on this loop
        monitoring = Monitoring(self.plan.monitor, self.recorder, self.log)
        monitoring.start()
        try:
            self._dispatching = asyncio.ensure_future(self.dispatcher.run())
            try:
                await self._dispatching
            except asyncio.CancelledError:
                if self.stopped_by is None:
                    raise
            await self.dispatcher.drain()
        finally:
            await monitoring.stop()
        ticker.cancel()
        self.ticker.sample_health()

    async def _special(self, steps: tuple[Step, ...], share: bool) -> None:
        """A `before` or `after` flow, as a task a stop can cut after its grace."""
        task = self._special_task = asyncio.ensure_future(self.users.special_flow(steps, share))
        try:
            await task
        except asyncio.CancelledError:
            if not (task.cancelled() and self.stopped_by is not None):
                raise
        except Exception:  # a bug in yamlload: stop, and still report what was measured
            self._crashed(traceback.format_exc())

    def _start_delay(self) -> float:
        if self.options.start_at is None:
            return START_DELAY_SECONDS
        # The runtime's one reading of the wall clock: a shared start for every shard. A shard
        # that is late starts at once, its schedule shifted; `late_start` says by how much.
        return self.options.start_at - time.time()

    def stop(self, reason: str) -> None:
        """Stop making arrivals (Ctrl-C, SIGTERM); in-flight users, and a `before` or
        `after` flow in progress, get a grace period."""
        if self.stopping.request(reason):
            if self._dispatching is not None:
                self._dispatching.cancel()
            special = self._special_task
            if special is not None and not special.done():
                asyncio.get_running_loop().call_later(
                    self.options.grace_seconds, self.stopping.cut, special
                )

    def _crashed(self, trace: str) -> None:
        if self.internal_error is None:
            self.internal_error = trace
        self.stop("internal error")

    async def run_until_signalled(
        self, early_stop: Callable[[], str | None] | None = None
    ) -> RunResult:
        """`run()`, with SIGINT, SIGTERM and SIGHUP stopping the load gracefully (where this
        is the main thread: a Dask worker may run a shard in a thread of its own).
        `early_stop` tells of a signal that came while the loop was starting."""
        if threading.current_thread() is not threading.main_thread():
            return await self.run()
        loop = asyncio.get_running_loop()
        # Whoever handled these before (the CLI holds them around the whole command) gets
        # them back afterwards: removing a loop's handler leaves the default action, which
        # would kill the process before its report is written.
        previous = {name: signal.getsignal(getattr(signal, name)) for name in STOP_SIGNALS}
        for name in STOP_SIGNALS:
            loop.add_signal_handler(getattr(signal, name), self.stop, name)
        early = early_stop() if early_stop is not None else None
        if early is not None:
            self.stop(early)
        try:
            return await self.run()
        finally:
            for name, handler in previous.items():
                loop.remove_signal_handler(getattr(signal, name))
                if handler is not None:
                    signal.signal(getattr(signal, name), handler)


def run_plan(
    plan: Plan, options: RunOptions | None = None, observer: Observer | None = None
) -> RunResult:
    """Run a plan to the end on a fresh event loop (uvloop where available)."""
    engine = Engine(plan, options, observer)
    result: RunResult = run_on_uvloop(engine.run())
    return result


def run_on_uvloop(coro: Any) -> Any:
    """Run a coroutine to the end on a fresh uvloop event loop (asyncio's without it)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(coro)
    return uvloop.run(coro)
