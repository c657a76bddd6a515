"""`yamlload capacity` (issue 22): the highest arrival rate the target sustains within
SLOs, where it broke and by which SLO, the curve, and how long it took to recover.

The search is checks/capacity.py's (pure); each step is cli/capacity_steps.py's, made
through scale/split.py like any run. The JSON report is the usual report of every step
as one run (each step begins a new 10-second period), plus its `capacity` section."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

import click

from ..checks.capacity import MIN_RATE, Done, SearchSettings, Tried, next_step
from ..checks.evaluate import evaluate
from ..checks.grades import flag_warnings
from ..checks.parse import (
    CAPACITY,
    EXPECT_CHECK,
    Check,
    check_names,
    is_drift,
    is_grade,
    parse_ensure,
)
from ..checks.validity import DEFAULT_MAX_LAG_MS
from ..errors import EXIT_SIGNAL, InternalError, Pos, UsageError
from ..metrics import names as n
from ..metrics.periods import Period
from ..plan.compile import load_plan
from ..plan.compile.phases import MAX_ARRIVAL_RATE
from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..plan.source import PlanOptions
from ..report.capacity import ending_words, format_capacity, step_line
from ..report.console import ConsoleObserver
from ..results.capacity import INTERRUPTED, Capacity
from ..results.run import RunResult
from ..results.summary import Summary, summarize
from ..runtime.engine import RunOptions, capacity_warnings, ensure_file_limit
from ..units import format_seconds, parse_duration
from .app import tolerate_lost_stdout
from .args import ReportFiles, Split, worker_count
from .capacity_steps import (
    StepRunner,
    backlog_seconds,
    joined_result,
    settle_seconds,
    settle_warning,
    step_plan,
)
from .demo import DemoTarget
from .options import FiniteFloat, options_from, plan_options
from .outputs import Writer, check_run_outputs, default_report_path, show_verdict
from .run import StopSignals
from .verdict import Verdict, exit_code

DEFAULT_FROM = 10.0
DEFAULT_TO = 1000.0
DEFAULT_STEP = "30s"
DEFAULT_PRECISION = "5%"
# A step shorter than this has no steady state to measure (the settle takes a fifth).
MIN_STEP_SECONDS = 1.0
# Past these a duration is a typo: a step or a recovery is minutes, not days.
MAX_STEP_SECONDS = 24 * 3600.0
MAX_RECOVERY_SECONDS = 24 * 3600.0
SLO_OPTION = Pos("--slo")
# Said when no --slo limits errors: only the 50% rule (capacity_steps.MAX_ERROR_RATE) does.
NO_ERROR_SLO_WARNING = (
    "no --slo limits errors: a step failing up to half its requests can still be good; "
    "add --slo 'error_rate<1%'"
)
# After a bad step the target rests this long before the next (lower) step, so that the
# backlog of the overload (its queues, its slow answers) does not poison that step.
COOL_DOWN_SECONDS = 2.0
# Then, as a gateway answering fast 504s leaves its backend a queue no client waits for,
# the target is probed at a low rate until every SLO holds over RECOVERY_WINDOW_SECONDS
# (capacity_steps.RecoveryJudge), for up to the longer of a step and this.
MIN_PROBE_SECONDS = 30.0
# The probe's rate: this share of the highest good rate so far (of --from when none),
# never below the search's floor nor a user a second (a request every second to judge).
PROBE_SHARE = 0.25
MIN_PROBE_RATE = 1.0
# Said when no --slo limits the plan's expect checks: only the 50% rule does.
NO_EXPECT_SLO_WARNING = (
    "the plan has expect checks but no --slo limits them: a step failing up to half its "
    f"expectations can still be good; add --slo '{EXPECT_CHECK}'"
)
# A step must hold at least this many arrivals in its measured part (after the settle):
# fewer measure luck, and none measure nothing (issue 22: no data is never good). --from
# is refused below it, and a search down stops above it.
MIN_STEP_ARRIVALS = 10


@dataclass(frozen=True)
class CapacityArgs:
    """The search's flags, read once: refused here when they cannot work."""

    search: SearchSettings
    step_seconds: float
    recovery_seconds: float | None
    max_lag: float
    workers: int = 1

    @classmethod
    def from_click(cls, kwargs: dict[str, Any]) -> CapacityArgs:
        start, limit = float(kwargs["start"]), float(kwargs["limit"])
        if limit < start:
            raise UsageError(f"--to {limit:g} is below --from {start:g}: give --to ≥ --from")
        step = _duration("--step", kwargs["step"], MIN_STEP_SECONDS, MAX_STEP_SECONDS)
        recovery = kwargs.get("recovery")
        workers = worker_count(str(kwargs.get("workers", "1")))
        if recovery and workers > 1:
            raise UsageError(
                "--recovery judges the target second by second, in one process: "
                "leave out --workers (or measure the recovery at a rate one process makes)"
            )
        measured = step - settle_seconds(step, workers)  # over workers: whole periods
        if start * measured < MIN_STEP_ARRIVALS:
            raise UsageError(
                f"--from {start:g} with --step {kwargs['step']}: too few arrivals to measure "
                f"({start:g}/s × {format_seconds(measured)} after the settle; a step needs at "
                f"least {MIN_STEP_ARRIVALS}): lengthen --step or raise --from"
            )
        floor = MIN_STEP_ARRIVALS / measured
        return cls(
            search=SearchSettings(start, limit, parse_precision(kwargs["precision"]), floor),
            step_seconds=step,
            recovery_seconds=(
                _duration("--recovery", recovery, 1.0, MAX_RECOVERY_SECONDS) if recovery else None
            ),
            max_lag=float(kwargs["max_lag"]),
            workers=workers,
        )


def parse_precision(text: str) -> float:
    """`5%` (or `5`) → 0.05: how close the last good and first bad rate must come."""
    found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%?\s*", text)
    value = float(found.group(1)) if found else math.nan
    if not 0 < value < 100:
        raise UsageError(
            f"--precision {text!r}: expected a percentage above 0 and below 100, such as 5%"
        )
    return value / 100


def _duration(flag: str, text: str, low: float, high: float) -> float:
    seconds = parse_duration(text)
    if seconds is None or not math.isfinite(seconds):
        raise UsageError(f"{flag} {text!r}: expected a duration, such as 30s or 2m")
    if not low <= seconds <= high:
        raise UsageError(
            f"{flag} {text!r}: must be between {format_seconds(low)} and {format_seconds(high)}"
        )
    return seconds


@click.command(short_help="Find the highest arrival rate the target sustains within SLOs.")
@click.argument("plan_path", metavar="PLAN", type=click.Path())
@plan_options
@click.option(
    "--slo",
    "slos",
    multiple=True,
    required=True,
    metavar="EXPR",
    help="A service level a step must meet, in --ensure's grammar: 'p95<500', "
    "'error_rate<1%', 'GET /orders: p99<800'; repeatable.",
)
@click.option(
    "--from",
    "start",
    type=FiniteFloat(MIN_RATE, MAX_ARRIVAL_RATE),
    default=DEFAULT_FROM,
    show_default=True,
    metavar="RATE",
    help="The first arrival rate tried, in users/s (scenarios started a second, as "
    "arrivalRate; a scenario of N requests makes about N req/s for each).",
)
@click.option(
    "--to",
    "limit",
    type=FiniteFloat(MIN_RATE, MAX_ARRIVAL_RATE),
    default=DEFAULT_TO,
    show_default=True,
    metavar="RATE",
    help="The highest arrival rate tried, in users/s.",
)
@click.option(
    "--step",
    default=DEFAULT_STEP,
    show_default=True,
    metavar="DURATION",
    help="How long each rate is held (its first fifth settles, uncounted).",
)
@click.option(
    "--precision",
    default=DEFAULT_PRECISION,
    show_default=True,
    metavar="PERCENT",
    help="Stop once the first bad rate is within this of the last good one.",
)
@click.option(
    "--recovery",
    metavar="DURATION",
    help="After the search, break the target again, drop to half the sustainable rate "
    "and measure how long until every SLO holds again (up to DURATION).",
)
@click.option(
    "--ensure",
    "ensure",
    multiple=True,
    metavar="EXPR",
    help="Gate a build, such as 'capacity>=200' (exit 1 when below); repeatable.",
)
@click.option(
    "--max-lag",
    type=FiniteFloat(0.0),
    default=DEFAULT_MAX_LAG_MS,
    show_default=True,
    metavar="MS",
    help="A step whose arrival lag p99 exceeds this is invalid: the generator is the limit.",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="Split each step over N processes on this machine (auto: one per core), for "
    "rates one process cannot make; a step's settle is then whole 10-second periods.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON report."
)
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report.")
@click.option("--summary-md", type=click.Path(dir_okay=False), help="Write a Markdown summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line; the steps and the answer.")
@click.option("-k", "--insecure", is_flag=True, help="Accept invalid TLS certificates.")
@click.option("--scenario-name", help="Run only the scenario with this name.")
@click.option("--seed", type=int, help="Seed the random choices.")
@click.option(
    "--demo-target",
    is_flag=True,
    help="Start the bundled demo API on a free port and aim the plan at it.",
)
def capacity(plan_path: str, **kwargs: Any) -> None:
    """Find the maximum sustainable arrival rate of PLAN's scenarios (docs/limits.md).

    Steps up from --from (doubling) until a step breaks an --slo or --to is reached,
    then halves the gap between the last good and the first bad rate until it is within
    --precision. Prints the maximum sustainable rate, where and by which SLO it broke,
    and the curve; writes the JSON report with its `capacity` section.

    Exit 0 when the search ended, 1 when an --ensure failed, 2 for a bad plan or flag,
    3 when a step could not be trusted (the generator, not the target, was the limit,
    or the target could not be reached at all), 4 when a report could not be
    written, 130/143 when stopped by Ctrl-C or SIGTERM (the steps measured are still
    reported), 70 for a bug in yamlload.
    """
    tolerate_lost_stdout()
    args = CapacityArgs.from_click(kwargs)
    plan_opts = options_from(kwargs)
    files = ReportFiles.from_click(kwargs)
    with DemoTarget(bool(kwargs.get("demo_target"))) as demo_url:
        if demo_url:
            plan_opts = replace(plan_opts, target=demo_url)
        plan = load_plan(plan_path, plan_opts)
        redactor = Redactor.for_plan(plan)
        for warning in plan.warnings:
            click.echo(f"warning: {redactor.text(str(warning))}", err=True)
        Split(workers=args.workers).check_monitor(plan)
        # every flag is checked before anything is said about the search it asks for
        slos = parse_slos(kwargs["slos"], plan)
        checks = gate_checks(kwargs.get("ensure") or (), plan)
        files = replace(files, output=files.output or default_report_path(plan.source))
        check_run_outputs(files, plan, plan_path, plan_opts)
        ahead = search_warnings(plan, args, slos, checks)
        for advice in ahead:
            click.echo(f"warning: {advice}", err=True)
        options = RunOptions(
            seed=kwargs.get("seed"),
            insecure=bool(kwargs.get("insecure")),
            scenario_name=kwargs.get("scenario_name"),
        )
        search = Search(plan, plan_opts, args, slos, options, redactor, bool(kwargs.get("quiet")))
        search.found.warnings = [*(redactor.text(str(w)) for w in plan.warnings), *ahead]
        with _console_away_from_stdout(files):
            code = search.run_and_report(checks, files)
    sys.exit(code)


def search_warnings(
    plan: Plan, args: CapacityArgs, slos: list[Check], checks: list[Check]
) -> list[str]:
    """What may make this search mislead, said before any traffic (and kept in the
    report): a closed-model plan, a settle shorter than a session, a rate limit of 1
    without its %, an SLO the wrong way round, no SLO on errors, and what `run` warns
    of a plan, at --to."""
    search = args.search
    warnings = [closed_model_warning(plan, search.start, search.limit)]
    warnings.append(settle_warning(plan, args.step_seconds, args.workers))
    warnings += flag_warnings([*slos, *checks])  # error_rate<1, p95>1
    if not any(_limits_errors(slo) for slo in slos):
        warnings.append(NO_ERROR_SLO_WARNING)
    if _has_expectations(plan) and not any(_limits_expectations(slo) for slo in slos):
        warnings.append(NO_EXPECT_SLO_WARNING)
    busiest = step_plan(plan, [(search.limit, args.step_seconds)])
    warnings += capacity_warnings(busiest, args.workers)
    warnings.append(ensure_file_limit(busiest))
    return [str(w) for w in warnings if w]


def closed_model_warning(plan: Plan, start: float, limit: float) -> str | None:
    """A plan of concurrent users (`users:` phases) asks how many users at once; the
    search answers another question, arrivals a second: said, not refused, since its
    flows run as well one at a time (docs/limits.md)."""
    users = max((p.users for p in plan.phases if p.kind == "users"), default=None)
    if users is None:
        return None
    return (
        f"the plan's phases are closed-model ({users:,} concurrent users, each looping its "
        "flow); capacity searches arrival rates instead: each step starts new users at "
        f"its own rate ({start:g} to {limit:g} users/s), each running its flow once"
    )


def parse_slos(texts: tuple[str, ...], plan: Plan) -> list[Check]:
    """Each --slo in --ensure's grammar, checked against the plan before any traffic."""
    slos = [parse_ensure(text, SLO_OPTION) for text in texts]
    for slo in slos:
        if is_drift(slo.metric):
            raise UsageError(
                f"--slo {slo.source!r}: drift is the whole run's, over its longest steady "
                "phase, not a step's; a step is judged on its own numbers (p95<500)"
            )
        if slo.metric == CAPACITY or is_grade(slo):
            raise UsageError(
                f"--slo {slo.source!r}: an SLO is judged on each step's own numbers "
                "(p95<500, error_rate<1%); capacity and the grade are not"
            )
    check_names(slos, plan)  # said as the flag was written: --slo 'p59<500'
    return slos


def _limits_errors(slo: Check) -> bool:
    """Whether an SLO limits failed requests (error_rate, codes, errors, failures); a
    failed expectation is not a failed request."""
    words = ("error", "codes.", "failed", "failure")
    names = [name for name in _names(slo) if not name.startswith(n.EXPECT_PREFIX)]
    return any(word in name for name in names for word in words)


def _limits_expectations(slo: Check) -> bool:
    return any(name.startswith(n.EXPECT_PREFIX) for name in _names(slo))


def _names(slo: Check) -> set[str]:
    return slo.condition.names() if slo.condition is not None else {slo.metric}


def _has_expectations(plan: Plan) -> bool:
    """Whether the plan's requests check their answers (`expect`), as `run` would gate."""
    return plan.expect_default_200 or any(r.expects for r in plan.requests())


def gate_checks(expressions: tuple[str, ...], plan: Plan) -> list[Check]:
    """The --ensure gates, on the search's answer only (`capacity>=200`). The plan's
    own config.ensure and expect checks are not: a search breaks the target on purpose,
    and its SLOs are the --slo flags."""
    checks = [parse_ensure(text) for text in expressions]
    check_names(checks, plan)
    for check in checks:
        if is_grade(check):
            raise UsageError(
                f"--ensure {check.source!r}: the grade belongs to `yamlload run`; "
                "gate a capacity search with 'capacity>=N'"
            )
        if _names(check) != {CAPACITY}:
            # judged on the whole search, a p95 would count the steps it broke on purpose
            slo = f"--slo {check.source!r}" if check.condition is None else "an --slo"
            raise UsageError(
                f"--ensure {check.source!r}: a capacity search gates on its answer "
                f"('capacity>=200') only; judge each step with {slo} instead"
            )
    return checks


def _console_away_from_stdout(files: ReportFiles) -> contextlib.AbstractContextManager[object]:
    from ..report.outputs import stream_fd

    paths = (files.output, files.html, files.summary_md)
    if any(path is not None and stream_fd(path) == 1 for path in paths):
        return contextlib.redirect_stdout(sys.stderr)
    return contextlib.nullcontext()


class StepObserver(ConsoleObserver):
    """The console during a step: the progress line on a terminal, the run's warnings;
    no period lines (each step has its own line when it ends)."""

    def period_done(self, period: Period, width: float) -> None:
        return None


class Search:
    """One capacity search: steps until the search is done or a signal stops it, the
    recovery, then the report."""

    def __init__(
        self,
        plan: Plan,
        plan_options: PlanOptions,
        args: CapacityArgs,
        slos: list[Check],
        options: RunOptions,
        redactor: Redactor,
        quiet: bool,
    ) -> None:
        self.plan, self.args, self.slos = plan, args, slos
        self.options, self.redactor = options, redactor
        self.observer = StepObserver(sys.stdout, live=sys.stdout.isatty(), quiet=quiet)
        self.found = Capacity(slos=tuple(s.source for s in slos))
        self.plan_options = plan_options  # what worker processes compile the plan with
        self.runs: list[tuple[str, RunResult]] = []

    def run_and_report(self, checks: list[Check], files: ReportFiles) -> int:
        started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        began = time.monotonic()  # the search's wall clock: cool-downs and drains too
        click.echo(self._running())
        with StopSignals() as stops:
            stops.hold()  # from here a signal ends the step, and the search with it
            runner = StepRunner(
                self.plan,
                self.options,
                self.observer,
                self.slos,
                self.args.max_lag,
                early_stop=lambda: stops.signal,
                redactor=self.redactor,
                plan_options=self.plan_options,
                workers=self.args.workers,
            )
            done = self._search(runner, stops)
            if done is not None:
                self._recover(runner, done, stops)
            self.found.elapsed_seconds = round(time.monotonic() - began, 1)
            summary = self._summary(started_at)
            if stops.signal is not None and summary.stopped_by is None:  # between steps
                summary.stopped_by = stops.signal
                self.found.ended = self.found.ended or f"{INTERRUPTED}{stops.signal}"
            return self._report(summary, checks, files)

    def _running(self) -> str:
        s = self.args.search
        return (
            f"Searching the capacity of {self.plan.source} against "
            f"{self.redactor.url(self.plan.target)}: {s.start:g} to {s.limit:g} users/s, "
            f"{format_seconds(self.args.step_seconds)} a step, within {s.precision * 100:g}%"
        )

    def _search(self, runner: StepRunner, stops: StopSignals) -> Done | None:
        """Steps until the search is done (its answer) or stopped (None)."""
        tried: list[Tried] = []
        while True:
            decision = next_step(tried, self.args.search)
            if isinstance(decision, Done):
                self._conclude(decision)
                return decision
            if stops.signal is not None:
                return None
            if tried and tried[-1].verdict == "bad" and not self._probe(runner, tried, stops):
                return None
            step, result = runner.step(decision.rate, self.args.step_seconds)
            self.observer.finish()
            number = len(self.found.steps) + 1
            self.runs.append((f"step {number}: {decision.rate:g} users/s", result))
            if _interrupted(result):
                self.found.ended = _stopped(result, f"the step at {decision.rate:g} users/s")
                self.found.ended += " (not judged)"
                return None
            self.found.steps.append(step)
            click.echo(step_line(len(self.found.steps), step))
            tried.append(Tried(step.rate, step.verdict))
            if step.verdict == "bad":
                _cool_down(stops, COOL_DOWN_SECONDS + backlog_seconds(result))

    def _probe(self, runner: StepRunner, tried: list[Tried], stops: StopSignals) -> bool:
        """Before the step after a bad one (its quiet cool-down over): a low rate until
        every SLO holds again, so that the step is not judged on the bad one's backlog
        (a gateway's fast 504s leave its backend working). Its requests are the report's,
        not a step's. False when a signal (or a bug) stopped it."""
        broke = tried[-1].rate
        limit = max(self.args.step_seconds, MIN_PROBE_SECONDS)
        rate = self._probe_rate(tried)
        click.echo(
            f"Cool-down: {rate:g} users/s until every SLO holds again "
            f"(up to {format_seconds(limit)}), not a step"
        )
        recovered, result = runner.probe(rate, limit)
        self.observer.finish()
        self.runs.append((f"cool-down after step {len(self.found.steps)}", result))
        if _interrupted(result):
            after = f"the cool-down after the step at {broke:g} users/s"
            self.found.ended = _stopped(result, after)
            return False
        if not recovered:
            warning = (
                f"the target had not recovered {format_seconds(limit)} after the step at "
                f"{broke:g} users/s: the next step may be judged on its backlog"
            )
            click.echo(f"warning: {warning}", err=True)
            self.found.warnings.append(warning)
        backlog = backlog_seconds(result)
        if backlog:
            # it gave up on requests (timed out, or cut as it stopped): the target may
            # still serve them, as after a step (a latency SLO did not see them)
            _cool_down(stops, COOL_DOWN_SECONDS + backlog)
        return stops.signal is None

    def _probe_rate(self, tried: list[Tried]) -> float:
        search = self.args.search
        good = max((t.rate for t in tried if t.verdict == "good"), default=search.start)
        return round(max(search.floor, good * PROBE_SHARE, MIN_PROBE_RATE), 2)

    def _conclude(self, done: Done) -> None:
        found = self.found
        found.max_rate, found.broke_at = done.max_rate, done.broke_at
        breaking = next(
            (s for s in found.steps if s.rate == done.broke_at and s.verdict == "bad"), None
        )
        found.broke_by = breaking.first_broken() if breaking else None
        if breaking is not None and found.broke_by is None:
            # bad by the rules every step meets (most requests failed), not by an SLO
            found.broke_by_rule = breaking.reason
        invalid = next((s for s in found.steps if s.verdict == "invalid"), None)
        found.ended = ending_words(done.ending, self.args.search, invalid)

    def _recover(self, runner: StepRunner, done: Done, stops: StopSignals) -> None:
        limit = self.args.recovery_seconds
        if limit is None or done.broke_at is None or done.max_rate is None or stops.signal:
            return
        rate = round(done.max_rate / 2, 2)
        self.found.recovery_limit, self.found.recovery_rate = limit, rate
        click.echo(
            f"Recovery: {done.broke_at:g} users/s for {format_seconds(self.args.step_seconds)}, "
            f"then {rate:g} users/s for up to {format_seconds(limit)}"
        )
        after, result = runner.recovery(done.broke_at, self.args.step_seconds, rate, limit)
        self.observer.finish()
        self.runs.append(("recovery", result))
        if _interrupted(result):
            return
        self.found.recovery_seconds, self.found.recovered = after, after is not None

    def _summary(self, started_at: str) -> Summary:
        result = joined_result(self.runs)
        summary = summarize(self.plan, result, started_at, redactor=self.redactor)
        summary.capacity = self.found
        return summary

    def _report(self, summary: Summary, checks: list[Check], files: ReportFiles) -> int:
        click.echo("\n" + format_capacity(self.found))
        invalid = next((s.reason for s in self.found.steps if s.verdict == "invalid"), None)
        verdict = Verdict(
            outcomes=tuple(evaluate(checks, summary)),
            invalid=(invalid,) if invalid else (),
        )
        show_verdict(verdict)
        summary.verdict = verdict.to_json()
        writer = Writer()
        writer.run_outputs(summary, verdict, files)
        code = exit_code(verdict, summary.stopped_by, writer.output_failed)
        _raise_if_a_bug(self.runs)
        return code


def _cool_down(stops: StopSignals, seconds: float) -> None:
    """`seconds` of no load, cut short by a stopping signal. It begins once every user of
    the step ended (its drain waits for them), and lasts longer by the time the target
    may take to serve the requests the step gave up on (capacity_steps.backlog_seconds);
    a probe at a low rate follows it before the next step (Search._probe)."""
    deadline = time.monotonic() + seconds
    while stops.signal is None and time.monotonic() < deadline:
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))


def _stopped(result: RunResult, during: str) -> str:
    """Why the search ended in a run a signal (or a bug) cut, as `Capacity.ended` says
    it: its INTERRUPTED start tells the answer there is none."""
    return f"{INTERRUPTED}{result.stopped_by or 'a bug'} during {during}"


def _interrupted(result: RunResult) -> bool:
    return result.internal_error is not None or (result.stopped_by or "") in EXIT_SIGNAL


def _raise_if_a_bug(runs: list[tuple[str, RunResult]]) -> None:
    """A bug in yamlload stopped a step: the report of the steps is written; exit 70."""
    for name, result in runs:
        if result.internal_error is not None:
            last = result.internal_error.strip().splitlines()[-1]
            raise InternalError(f"the search was stopped by a bug in {name}: {last}")
