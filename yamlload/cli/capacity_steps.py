"""`yamlload capacity`'s steps (issue 22): the plan's scenarios at one constant arrival
rate, made through the one way a run is made (scale/split.py), measured second by
second after a settle period; and the recovery run, judged second by second.

A step's statistics are the seconds of the live series (metrics/live.py) whose middle
falls after the settle period, merged exactly; the last one takes the drain, so the
slowest answers of an overloaded step are counted, not cut. Its achieved rate is not: a
rate is the requests answered over the seconds whose middle falls in the step's
scheduled measured part (settle to the end of arrivals), divided by those seconds; the
drain, whose users only finish, would lower it (think times: 54.6 req/s for 60)."""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..checks.evaluate import evaluate
from ..checks.outcome import describe_outcome
from ..checks.parse import Check
from ..checks.validity import LAG_REASON, invalid_reasons
from ..errors import EXIT_SIGNAL
from ..metrics import names as n
from ..metrics.histogram import Metrics
from ..metrics.live import LiveSeries, Second, SecondRow
from ..metrics.periods import MIN_PERIOD_SECONDS, PERIOD_SECONDS, Period
from ..plan.expr import Template
from ..plan.ir import LoopStep, ParallelStep, Phase, Plan, Step, ThinkStep, TList
from ..plan.secrets import Redactor
from ..plan.source import PlanOptions
from ..results.capacity import CapacityStep, SloResult, StepVerdict
from ..results.run import PhaseRun, Progress, RunResult
from ..results.summary import Summary
from ..runtime.engine import Observer, RunOptions
from ..scale.split import run_split
from ..units import format_seconds

# The first part of each step is left out of its statistics while the target's queues
# and the generator's connections reach their steady state.
SETTLE_FRACTION = 0.2
# Recovery holds when every SLO holds over this many consecutive seconds (one second of
# a few requests is luck, not recovery).
RECOVERY_WINDOW_SECONDS = 3
# How the search says the generator was the limit (issue 22's words), and what to do:
# more processes while a core is idle, more machines once every core has one.
GENERATOR_LIMIT = "the generator, not the target, is the limit here"
MORE_WORKERS = "use --workers"
MORE_MACHINES = (
    "every core already runs a worker: use more machines "
    "(docs/scaling.md: --segment and yamlload merge)"
)
RECOVERED = "recovered"
# A step (or a recovery window) in which no request completed measured nothing: a
# counter SLO such as http.codes.500<1 would read 0 and hold, so it is invalid, never good.
NO_DATA_REASON = "no request completed in the measured part of the step"
NO_DATA = f"{NO_DATA_REASON}: lengthen --step or raise --from"
# Once the target has answered a step, a later step whose every request failed (timed
# out, refused) broke it: bad, not "could not reach the target at all".
UNREACHED_REASON = "could not reach the target at all"
# A step that failed at least this share of its requests is bad whatever the SLOs say (a
# target answering 500s fast meets a p95 SLO): the target failed half its requests or more.
MAX_ERROR_RATE = 0.5
# A step whose users were served at a rate more than this share below the offered rate is
# bad whatever the SLOs: the target did not sustain it. Served: users done (completed or
# failed) in the seconds of the scheduled measured part (settle to the end of arrivals),
# a second. In a steady state users end as fast as they arrive, however long their
# sessions; the drain (which waits for the slowest user) and the fastest session are not
# counted: a few slow requests, or a long scenario beside a short one, are no shortfall.
THROUGHPUT_TOLERANCE = 0.1
# Fewer users done than this in a step: too few to judge its throughput.
MIN_USERS_FOR_THROUGHPUT = 10
# Steps run the compiled plan in this process: no shard compiles it again.
_NO_PLAN_OPTIONS = PlanOptions()
# The error a request gets when the client gave up waiting (the target may still serve it).
TIMED_OUT = "ETIMEDOUT"
# The most a cool-down waits for the target to serve the requests a step gave up on.
MAX_BACKLOG_SECONDS = 10.0
# A session's lower bound counts at most this many iterations of a loop: a loop with no
# count repeats until the run stops, and past this the advice is "much longer" anyway.
MAX_LOOPS_COUNTED = 100


def step_plan(plan: Plan, rates: Sequence[tuple[float, float]]) -> Plan:
    """`plan` with its phases replaced by constant arrival rates: (rate, seconds) each."""
    phases = tuple(
        Phase(index=i, name=f"{rate:g} users/s", kind="rate", duration=seconds, arrival_rate=rate)
        for i, (rate, seconds) in enumerate(rates)
    )
    return replace(plan, phases=phases)


@dataclass
class SecondsWindow:
    """A watcher of a run (runtime/options.py's Watcher) that keeps the seconds whose
    middle falls after `settle` seconds, merged into `metrics`; and the requests answered
    in those whose middle falls before `end` (the arrivals' end), for the rate."""

    settle: float
    end: float = math.inf
    name: str = "the capacity step"
    metrics: Metrics = field(default_factory=Metrics)
    seconds: float = 0.0  # how long the kept seconds cover
    answered: int = 0  # responses in the seconds from settle to end
    done: int = 0  # users done (completed or failed) in those seconds
    rate_seconds: float = 0.0  # how long those seconds cover
    _last_at: float = 0.0

    async def start(self) -> None:
        return None

    def second(self, live: LiveSeries, progress: Progress) -> None:
        if live.seconds:
            self._keep(live.seconds[-1])

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        if live.seconds:
            self._keep(live.seconds[-1])

    def _keep(self, second: Second) -> None:
        if second.at <= self._last_at:
            return  # already kept (the run's last look may repeat the last tick's)
        began, self._last_at = self._last_at, second.at
        middle = (began + second.at) / 2
        if middle >= self.settle:
            self.metrics.merge(second.metrics)
            self.seconds += second.at - began
        if self.settle <= middle <= self.end:
            self.count_answered(second.metrics, second.at - began)

    def count_answered(self, metrics: Metrics, seconds: float) -> None:
        """A stretch of the scheduled measured part: its answers count for the rate, its
        users done for the throughput."""
        self.answered += answered(metrics)
        self.done += users_done(metrics)
        self.rate_seconds += seconds


def settle_warning(plan: Plan, step_seconds: float, workers: int = 1) -> str | None:
    """A step measured before its users' sessions could end measures a target not yet in
    its steady state (short steps overestimated a target with think times by 11%; a long
    scenario beside a short one made every step short of users): said when the longest
    scenario's session, by its think times alone, outlasts the settle."""
    name, floor = longest_session(plan)
    settle = settle_seconds(step_seconds, workers)
    if floor <= settle:
        return None
    enough = math.ceil(floor / SETTLE_FRACTION - 1e-9)
    whose = f"a session of {name}" if name else "a user's session"
    return (
        f"{whose} lasts at least {format_seconds(floor)} (its think times) but a "
        f"step settles for only {format_seconds(settle)}: use --step ≥ {format_seconds(enough)}"
    )


def settle_seconds(step_seconds: float, workers: int) -> float:
    """How long a step settles: a fifth of it, or over workers whole 10-second periods,
    none when the step is no longer than them (periods_window keeps them all)."""
    settle = step_seconds * SETTLE_FRACTION
    if workers <= 1:
        return settle
    whole = math.ceil(settle / PERIOD_SECONDS - 1e-9) * PERIOD_SECONDS
    return whole if whole < step_seconds else 0.0


def longest_session(plan: Plan) -> tuple[str | None, float]:
    """The scenario (with weight) whose session's lower bound is the longest, and that
    bound: its think times, loops counted at their fewest iterations (up to
    MAX_LOOPS_COUNTED), from the plan alone. It is named (as the warning says it) only
    when the plan has others."""
    floors = [(_steps_floor(s.flow, plan), i) for i, s in enumerate(plan.scenarios) if s.weight > 0]
    if not floors:
        return None, 0.0
    floor, index = max(floors)
    if len(floors) == 1:
        return None, floor
    scenario = plan.scenarios[index]
    return (f"scenario {scenario.name!r}" if scenario.named else f"scenario #{index + 1}"), floor


def _steps_floor(steps: Sequence[Step], plan: Plan) -> float:
    return sum(_step_floor(step, plan) for step in steps)


def _step_floor(step: Step, plan: Plan) -> float:
    if isinstance(step, ThinkStep):
        return _think_floor(step, plan)
    if isinstance(step, ParallelStep):
        return max((_step_floor(branch, plan) for branch in step.steps), default=0.0)
    if isinstance(step, LoopStep):
        return _fewest_iterations(step) * _steps_floor(step.steps, plan)
    return 0.0  # a request or a message takes as little as the target lets it


def _think_floor(step: ThinkStep, plan: Plan) -> float:
    if step.low is not None:
        seconds = step.low
    elif isinstance(step.seconds, int | float):
        seconds = float(step.seconds)
    else:
        return 0.0  # templated: known only as the user runs
    jitter = step.jitter if step.jitter is not None else plan.default_jitter
    if step.jitter_seconds:
        return max(seconds - step.jitter_seconds, 0.0)
    return seconds * (1 - jitter) if jitter else seconds


def _fewest_iterations(step: LoopStep) -> int:
    if step.while_true is not None or isinstance(step.count, Template):
        return 0  # its function or its rendered count may end it at once
    if isinstance(step.over, TList):
        fewest = len(step.over.items)
    elif step.over is not None:
        return 0
    elif isinstance(step.count, tuple):
        fewest = step.count[0]
    else:
        fewest = MAX_LOOPS_COUNTED  # no count: it repeats until the run stops
    return min(fewest, MAX_LOOPS_COUNTED)


def generator_limit(workers: int) -> str:
    """Why a lagging step is invalid, with the advice that fits `workers` processes."""
    advice = MORE_MACHINES if workers >= (os.cpu_count() or 1) else MORE_WORKERS
    return f"{GENERATOR_LIMIT}; {advice}"


def window_summary(plan: Plan, metrics: Metrics, seconds: float) -> Summary:
    """Some seconds of a run as a Summary, for the checks and the validity rules."""
    duration = max(seconds, MIN_PERIOD_SECONDS)
    return Summary(
        source=plan.source,
        target=plan.target,
        started_at="",
        duration=duration,
        periods=[Period(0, metrics)],
        phases=[],
        aggregate=metrics,
    )


def lag_reasons(rate: float, summary: Summary, max_lag_ms: float) -> list[str]:
    """Why a step cannot be trusted: the generator fell behind (arrival lag), or the
    target could not be reached. A seam: tests put a generator limit here."""
    return invalid_reasons(summary, max_lag_ms)


def slo_results(slos: Sequence[Check], summary: Summary) -> tuple[SloResult, ...]:
    return tuple(
        SloResult(o.check.source, o.value, o.ok, describe_outcome(o))
        for o in evaluate(slos, summary)
    )


def periods_window(result: RunResult, settle: float, end: float = math.inf) -> SecondsWindow:
    """A run split over workers has no seconds, only its 10-second periods: the settle
    period is rounded up to whole periods (a step no longer than that keeps them all).
    The rate counts the kept periods whose middle falls by `end`, as the seconds do."""
    first = math.ceil(settle / PERIOD_SECONDS - 1e-9)
    kept = [p for p in result.periods if p.index >= first]
    window = SecondsWindow(settle=settle, end=end)
    start = first * PERIOD_SECONDS if kept else 0.0
    for period in kept or result.periods:
        window.metrics.merge(period.metrics)
        stop = min(period.end, result.duration)  # the run's last period ends with it
        if (period.start + stop) / 2 <= end and stop > period.start:
            window.count_answered(period.metrics, stop - period.start)
    window.seconds = max(result.duration - start, MIN_PERIOD_SECONDS)
    return window


def judged_step(
    rate: float,
    window: SecondsWindow,
    plan: Plan,
    slos: Sequence[Check],
    max_lag_ms: float,
    lost: Sequence[str] = (),
    reached: bool = False,
    workers: int = 1,
) -> CapacityStep:
    """A step's record: its statistics after the settle period and its verdict; `lost`:
    why a worker's part of it is missing; `reached`: an earlier step got responses;
    `workers`: the processes it ran in."""
    summary = window_summary(plan, window.metrics, window.seconds)
    results = slo_results(slos, summary)
    reasons = [*lost, *lag_reasons(rate, summary, max_lag_ms)]
    verdict: StepVerdict = "good" if all(r.ok for r in results) else "bad"
    reason = None
    sent = summary.counter(n.REQUESTS)
    if verdict == "good" and sent and summary.error_rate >= MAX_ERROR_RATE:
        verdict = "bad"
        reason = f"the target failed half its requests or more: {summary.error_rate:.2%} errors"
    unmet = expect_failed_share(summary)
    if verdict == "good" and unmet is not None and unmet[0] >= MAX_ERROR_RATE:
        # a 200 with the wrong body is no error, but the target did not do the work
        verdict = "bad"
        reason = (
            "the target failed half its expectations or more: "
            f"{unmet[0]:.2%} of {unmet[1]} checks failed"
        )
    if verdict == "good":
        shortfall = _shortfall(rate, window)
        verdict, reason = ("bad", shortfall) if shortfall else (verdict, reason)
    if reached and any(r.startswith(UNREACHED_REASON) for r in reasons):
        reasons = [r for r in reasons if not r.startswith(UNREACHED_REASON)]
        verdict, reason = "bad", "every request failed: the target broke under this load"
    if not reasons and not completed(summary):
        reasons = [NO_DATA]
    if reasons:
        verdict = "invalid"
        lagged = any(r.startswith(LAG_REASON) for r in reasons)
        # the lag's words carry their own brackets: a colon, not a third pair
        reason = f"{generator_limit(workers)}: {reasons[0]}" if lagged else reasons[0]
    latency, lag = summary.stats(n.RESPONSE_TIME), summary.stats(n.ARRIVAL_LAG)
    return CapacityStep(
        rate=rate,
        verdict=verdict,
        seconds=round(window.seconds, 3),
        requests=sent,
        throughput=round(answered_rate(window, summary), 3),
        p50=_ms(latency.p50, latency.count),
        p95=_ms(latency.p95, latency.count),
        p99=_ms(latency.p99, latency.count),
        error_rate=round(summary.error_rate, 6) if sent else None,
        lag_p99=_ms(lag.p99, lag.count),
        slos=results,
        reason=reason,
    )


def expect_failed_share(summary: Summary) -> tuple[float, str] | None:
    """The worst kind of `expect` check (statusCode, hasProperty…): the share of its
    checks that failed, and its name; None when the step made none. By kind, not over
    all checks: one check of three failing on every request fails every request, and a
    request with a failed check failed at least as often as its worst kind."""
    failed = summary.counters_with(n.EXPECT_FAILED + ".")
    ok = summary.counters_with(n.EXPECT_OK + ".")
    shares = [
        (failed.get(kind, 0) / total, kind)
        for kind in sorted({*failed, *ok})
        if (total := failed.get(kind, 0) + ok.get(kind, 0))
    ]
    return max(shares, key=lambda share: share[0], default=None)


def answered(metrics: Metrics) -> int:
    """Requests the target answered: HTTP responses of any status (a 500 is an answer;
    the error rate shows it), never a transport failure (timed out, refused, reset). A
    ws-only plan answers none here, as it sent none: its steps measure no data."""
    return metrics.counters.get(n.RESPONSES, 0)


def answered_rate(window: SecondsWindow, summary: Summary) -> float:
    """Requests answered a second over the step's scheduled measured part; a step too
    short to have one (no second's middle in it) over all its kept seconds."""
    if window.rate_seconds > 0:
        return window.answered / window.rate_seconds
    return answered(window.metrics) / summary.duration


def users_done(metrics: Metrics) -> int:
    """Users whose session ended: completed, or failed."""
    return metrics.counters.get(n.USERS_COMPLETED, 0) + metrics.counters.get(n.USERS_FAILED, 0)


def _shortfall(rate: float, window: SecondsWindow) -> str | None:
    """Why the step's users were served below the offered rate, if they were: users done
    a second over the scheduled measured part (a step too short to have one: no verdict)."""
    if window.done < MIN_USERS_FOR_THROUGHPUT or window.rate_seconds <= 0:
        return None
    achieved = window.done / window.rate_seconds
    if achieved >= rate * (1 - THROUGHPUT_TOLERANCE):
        return None
    return (
        f"achieved {achieved:,.1f} users/s of {rate:g} users/s offered: "
        "the target did not sustain it"
    )


def completed(summary: Summary) -> int:
    """Requests that completed: answered, or failed (timed out, refused)."""
    return summary.counter(n.RESPONSES) + sum(summary.counters_with(n.ERRORS).values())


def _ms(value: float, count: int) -> float | None:
    return round(value, 3) if count else None


@dataclass
class StepRunner:
    """Runs steps and the recovery of one plan: in this process, or each step split
    over `workers` processes (the recovery is judged in one process only)."""

    plan: Plan
    options: RunOptions
    observer: Observer
    slos: Sequence[Check]
    max_lag_ms: float
    early_stop: Callable[[], str | None]
    redactor: Redactor
    plan_options: PlanOptions = field(default_factory=PlanOptions)
    workers: int = 1
    reached: bool = False  # a step so far got a response: the target can be reached

    def step(self, rate: float, seconds: float) -> tuple[CapacityStep, RunResult]:
        """One step at `rate` for `seconds`: its record, and the run it was."""
        settle = seconds * SETTLE_FRACTION
        if self.workers > 1:
            step, result = self._split_step(rate, seconds, settle)
        else:
            window = SecondsWindow(settle=settle, end=seconds)
            result = self._run(step_plan(self.plan, [(rate, seconds)]), window)
            step = judged_step(
                rate, window, self.plan, self.slos, self.max_lag_ms, reached=self.reached
            )
        self.reached = self.reached or any(
            p.metrics.counters.get(n.RESPONSES) for p in result.periods
        )
        return step, result

    def _split_step(
        self, rate: float, seconds: float, settle: float
    ) -> tuple[CapacityStep, RunResult]:
        """A step over worker processes, which compile the plan again: its one phase
        goes to them as an override of config.phases."""
        run = run_split(
            step_plan(self.plan, [(rate, seconds)]),
            with_phases(self.plan_options, rate, seconds),
            replace(self.options, watchers=(), abort=None),
            self.observer,
            _no_checkpoint,
            self.workers,
            early_stop=self.early_stop,
            redactor=self.redactor,
        )
        window = periods_window(run.result, settle, seconds)
        step = judged_step(
            rate,
            window,
            self.plan,
            self.slos,
            self.max_lag_ms,
            run.lost,
            self.reached,
            self.workers,
        )
        return step, run.result

    def probe(self, rate: float, limit: float) -> tuple[bool, RunResult]:
        """`rate` until every SLO holds over RECOVERY_WINDOW_SECONDS consecutive seconds
        (as --recovery judges), up to `limit` seconds: whether it did, and the run it
        was. Run in this process: its rate is low."""
        judge = RecoveryJudge(0.0, self.plan, self.slos)
        result = self._run(step_plan(self.plan, [(rate, limit)]), SecondsWindow(settle=0.0), judge)
        return judge.recovered_after is not None, result

    def recovery(
        self, broke_at: float, seconds: float, rate: float, limit: float
    ) -> tuple[float | None, RunResult]:
        """The target broken at `broke_at` for `seconds`, then `rate` for up to `limit`
        seconds: how long after the drop every SLO held again (None: not within
        `limit`), and the run it was. The run stops once recovered."""
        judge = RecoveryJudge(seconds, self.plan, self.slos)
        plan = step_plan(self.plan, [(broke_at, seconds), (rate, limit)])
        result = self._run(plan, SecondsWindow(settle=0.0), judge)
        return judge.recovered_after, result

    def _run(
        self,
        plan: Plan,
        window: SecondsWindow,
        judge: Callable[[LiveSeries, Progress], str | None] | None = None,
    ) -> RunResult:
        options = replace(self.options, watchers=(window,), abort=judge)
        run = run_split(
            plan,
            _NO_PLAN_OPTIONS,
            options,
            self.observer,
            _no_checkpoint,
            early_stop=self.early_stop,
            redactor=self.redactor,
        )
        return run.result


@dataclass
class RecoveryJudge:
    """Asked once a second by the ticker (RunOptions.abort): once every SLO has held
    over RECOVERY_WINDOW_SECONDS consecutive seconds after the drop at `dropped_at`, the
    run stops, and `recovered_after` is when that window began, from the drop."""

    dropped_at: float
    plan: Plan
    slos: Sequence[Check]
    recovered_after: float | None = None
    _window: deque[Second] = field(default_factory=lambda: deque(maxlen=RECOVERY_WINDOW_SECONDS))
    _last_at: float = 0.0

    def __call__(self, live: LiveSeries, progress: Progress) -> str | None:
        if not live.seconds:
            return None
        second = live.seconds[-1]
        began, self._last_at = self._last_at, second.at
        if began < self.dropped_at:
            return None  # still breaking the target
        self._window.append(replace(second, at=began))  # kept by when it began
        if len(self._window) < RECOVERY_WINDOW_SECONDS:
            return None
        merged = Metrics()
        for kept in self._window:
            merged.merge(kept.metrics)
        seconds = second.at - self._window[0].at
        summary = window_summary(self.plan, merged, seconds)
        if not completed(summary):
            return None  # no request in the window: nothing says it recovered
        if all(r.ok for r in slo_results(self.slos, summary)):
            self.recovered_after = round(self._window[0].at - self.dropped_at, 3)
            return RECOVERED
        return None


def backlog_seconds(result: RunResult) -> float:
    """How long the target may still be serving the requests a step gave up on. The
    step's drain waited for every user, but a request that timed out (or that a stop cut)
    ended here, not at the target, which serves it at about the rate it answered during
    the step: abandoned / answered a second, up to MAX_BACKLOG_SECONDS; 0 if none was."""
    abandoned = _counted(result, n.ERRORS + TIMED_OUT) + _counted(result, n.REQUESTS_INTERRUPTED)
    if not abandoned:
        return 0.0
    served = _counted(result, n.RESPONSES) / result.duration if result.duration > 0 else 0.0
    if served <= 0:
        return MAX_BACKLOG_SECONDS
    return min(abandoned / served, MAX_BACKLOG_SECONDS)


def _counted(result: RunResult, name: str) -> int:
    return sum(period.metrics.counters.get(name, 0) for period in result.periods)


def joined_result(runs: Sequence[tuple[str, RunResult]]) -> RunResult:
    """The runs of a search as one run, one after another, each beginning a new
    10-second period (so their periods stay apart): its phases named for the runs."""
    periods: list[Period] = []
    phases: list[PhaseRun] = []
    rows: list[SecondRow] = []
    offset, end = 0.0, 0.0
    for name, result in runs:
        shift = round(offset / PERIOD_SECONDS)
        periods += [
            replace(p, index=p.index + shift, first=p.first + offset, last=p.last + offset)
            for p in result.periods
        ]
        for phase in result.phases:
            label = name if len(result.phases) == 1 else f"{name} ({phase.name})"
            phases.append(
                PhaseRun(len(phases), label, phase.started + offset, phase.ended + offset)
            )
        rows += [replace(row, at=round(row.at + offset, 3)) for row in result.seconds]
        end = offset + result.duration
        offset = math.ceil(end / PERIOD_SECONDS - 1e-9) * PERIOD_SECONDS
    return RunResult(
        periods=periods,
        duration=end,
        phases=phases,
        stopped_by=next(
            (r.stopped_by for _, r in runs if (r.stopped_by or "") in EXIT_SIGNAL), None
        ),
        internal_error=next((r.internal_error for _, r in runs if r.internal_error), None),
        seconds=rows,
    )


def with_phases(options: PlanOptions, rate: float, seconds: float) -> PlanOptions:
    """`options` whose --overrides also replace config.phases with one constant rate."""
    overrides = json.loads(options.overrides) if options.overrides else {}
    config = overrides.setdefault("config", {})
    config["phases"] = [{"name": f"{rate:g} users/s", "duration": seconds, "arrivalRate": rate}]
    return replace(options, overrides=json.dumps(overrides))


def _by_a_signal(result: RunResult) -> bool:
    return (result.stopped_by or "") in EXIT_SIGNAL


def _no_checkpoint(_: RunResult) -> None:
    return None
