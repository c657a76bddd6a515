"""`yamlload run`: read the plan, refuse what cannot work before any traffic, make the
load (in one process or split, through one call), then summarize, judge and report."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from ..checks.grades import DEFAULT_TABLE, checks_and_table, flag_warnings, grade_summary
from ..checks.live import DEFAULT_ABORT_DELAY_SECONDS, AbortJudge
from ..checks.parse import Check, abort_checks, judged_live
from ..errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_RUN,
    EXIT_OK,
    EXIT_SIGNAL,
    InternalError,
    StoppedEarly,
    UsageError,
)
from ..live import DEFAULT_HOST, DEFAULT_PORT, Watcher, watchers_for
from ..live.alerts import Alerts, channels_for, final_message
from ..live.outputs import output_watchers
from ..metrics.names import ALERT_ERRORS, ALERTS_SENT, OUTPUT_ERRORS
from ..plan.compile import load_plan
from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..report.console import ConsoleObserver, format_summary
from ..report.csvfiles import csv_paths
from ..report.outputs import Output, stream_fd, written_in_place
from ..results.grading import Bands
from ..results.run import RunResult
from ..results.summary import Summary, summarize
from ..runtime.engine import (
    STOP_SIGNALS,
    RunOptions,
    capacity_warnings,
    ensure_file_limit,
    transport_choice,
)
from ..scale.split import run_split
from ..schedule.arrivals import total_duration
from ..units import counted
from .app import tolerate_lost_stdout
from .args import RunArgs, Split
from .checkpoint import MAX_CHECKPOINT_SECONDS, Checkpoint
from .demo import DemoTarget
from .options import FiniteFloat, lag_options, plan_options
from .outputs import Writer, check_run_outputs, default_report_path, show_verdict
from .revision import build_revision
from .verdict import Verdict, exit_code, judge

# The verdict an alert tells at the run's end, by exit code (a stopping signal: STOPPED).
VERDICT_WORDS = {EXIT_OK: "PASS", EXIT_CHECK_FAILED: "FAIL", EXIT_INVALID_RUN: "INVALID"}

# A word after --dashboard that ends so, or names a file, is the plan, not an address.
PLAN_SUFFIXES = (".yml", ".yaml", ".json")


class DashboardOption(click.Option):
    """`--dashboard [HOST:]PORT`, whose address may be left out. Click reads the word
    after it as the address, so `run --dashboard plans/x.yml` took the plan for one and
    then missed PLAN: a plan there is given back as PLAN, and the option is alone."""

    def handle_parse_result(
        self, ctx: click.Context, opts: Mapping[str, Any], args: list[str]
    ) -> tuple[Any, list[str]]:
        given = opts.get(self.name or "")
        # Parameters are processed in the order given: PLAN, missing, comes after this
        # and reads itself from `opts` (a dict, unset when no word was left for it).
        plan_given = isinstance(opts.get("plan_path"), str)
        if isinstance(opts, dict) and not plan_given and _a_plan(given):
            opts["plan_path"] = given
            opts[self.name] = self.flag_value
        return super().handle_parse_result(ctx, opts, args)


def _a_plan(word: object) -> bool:
    return isinstance(word, str) and (word.lower().endswith(PLAN_SUFFIXES) or Path(word).is_file())


@click.command(short_help="Run a plan: load, summary, checks, reports.")
@click.argument("plan_path", metavar="PLAN", type=click.Path())
@plan_options
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON report."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress or period lines; the summary and report only."
)
@click.option("-k", "--insecure", is_flag=True, help="Accept invalid TLS certificates.")
@click.option("--scenario-name", help="Run only the scenario with this name.")
@click.option(
    "--seed", type=int, help="Seed the random choices (scenarios, variables, payload rows)."
)
@click.option("--solo", is_flag=True, help="Run one virtual user once, whatever the phases say.")
@click.option(
    "--debug",
    is_flag=True,
    help="Print every request and response with its timing, every failure in full, "
    "and a traceback if yamlload itself fails.",
)
@click.option(
    "--demo-target",
    is_flag=True,
    help="Start the bundled demo API on a free port and aim the plan at it (its address "
    "replaces the target's scheme, host and port; the target's path is kept).",
)
@click.option(
    "--ensure",
    "ensure",
    multiple=True,
    metavar="EXPR",
    help="A check such as 'p95<500' (ms) or 'error_rate<1%' (failed requests: no "
    "response, or a status not accepted); repeatable. docs/ensure.md lists them all.",
)
@click.option(
    "--abort-on-fail",
    is_flag=True,
    help="Stop the run as soon as a check fails on the run so far (checks that can "
    "fail early: p95<500, error_rate<1%, vusers.failed==0); exit 1. docs/alerts.md.",
)
@click.option(
    "--abort-delay",
    metavar="DURATION",
    help="With --abort-on-fail or abortOnFail: judge no check before this much load "
    f"(default {DEFAULT_ABORT_DELAY_SECONDS:g}s).",
)
@click.option(
    "--alert-webhook",
    "alert_webhooks",
    multiple=True,
    metavar="URL",
    help='Post Slack\'s {"text": ...} to URL when a check starts failing, recovers, '
    "and at the end; repeatable. docs/alerts.md.",
)
@lag_options
@click.option(
    "--checkpoint",
    "checkpoint_seconds",
    type=FiniteFloat(1.0, MAX_CHECKPOINT_SECONDS),
    metavar="SECONDS",
    help="Write the report so far every SECONDS (atomically), so a killed run leaves one.",
)
@click.option(
    "--out",
    "out",
    multiple=True,
    metavar="KIND=TARGET",
    help="Push metrics as the run goes, repeatable: statsd=HOST:PORT (DogStatsD tags), "
    "prometheus-push=URL (a Pushgateway), jsonl=FILE. See docs/live.md.",
)
@click.option("--junit", type=click.Path(dir_okay=False), help="Write the checks as JUnit XML.")
@click.option("--summary-md", type=click.Path(dir_okay=False), help="Write a Markdown summary.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Write the self-contained HTML report.",
)
@click.option(
    "--csv",
    "csv_prefix",
    metavar="PREFIX",
    help="Write PREFIX-periods.csv and PREFIX-endpoints.csv.",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="Split the load over N processes on this machine (auto: one per core).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Run one shard per worker of a Dask cluster, e.g. tcp://scheduler:8786 "
    "(pip install '.[dask]' in yamlload's checkout).",
)
@click.option(
    "--segment",
    metavar="I/N",
    help="Run only segment I of N (many machines); combine the reports with `yamlload merge`.",
)
@click.option(
    "--start-at",
    metavar="TIME",
    help="With --segment: start the schedule at this ISO time, e.g. 2026-01-01T12:00:00Z.",
)
@click.option(
    "--dashboard",
    cls=DashboardOption,
    is_flag=False,
    flag_value=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
    metavar="[HOST:]PORT",
    help=f"Serve a live page and /metrics while the run goes (alone: {DEFAULT_HOST}:"
    f"{DEFAULT_PORT}; port 0: any free port). One process only.",
)
def run(plan_path: str, **kwargs: Any) -> None:
    """Run PLAN: make the load, show progress, print a summary, write a JSON report.

    Exit 0 when every check passed, 1 when a check or an `expect` failed, 2 for a bad
    plan or check (nothing is sent), 3 when the run is invalid (the generator fell
    behind, the target could not be reached at all, a worker was lost or started late),
    4 when a report could not be written (each one that failed is named; the others are
    still written), 130/143 when stopped by Ctrl-C or SIGTERM, 70 when a bug in yamlload
    stopped it (the report of what was measured is still written). When several apply:
    70, then 130/143, then 4, then 3, then 1.
    """
    tolerate_lost_stdout()  # the report is the product: a full stdout is a warning
    args = RunArgs.from_click(plan_path, kwargs)
    with DemoTarget(args.demo_target) as demo_url:
        if demo_url:
            args = args.aimed_at(demo_url)
        plan = load_plan(plan_path, args.plan)
        redactor = Redactor.for_plan(plan)
        for warning in plan.warnings:
            click.echo(f"warning: {redactor.text(str(warning))}", err=True)
        # bad checks and grade bands stop here, before any traffic
        checks, table = checks_and_table(plan, args.ensure)
        for advice in flag_warnings(checks):  # error_rate<1, p95>1
            click.echo(f"warning: {advice}", err=True)
        args = outputs_checked(args, plan)  # and bad output paths
        args.split.check_start(plan)
        args.split.check_monitor(plan)
        args.split.check_abort(checks)
        args.split.check_alerts(plan)
        for advice in capacity_warnings(plan, args.split.workers):
            click.echo(f"warning: {advice}", err=True)
        limit = ensure_file_limit(plan)
        if limit:
            click.echo(f"warning: {limit}", err=True)
        # A report sent to stdout keeps stdout for itself (`-o /dev/stdout | jq`): the
        # console's lines go to stderr.
        console = _console_away_from_stdout(args)
        with console:
            code = execute(plan, args, checks, redactor, table)
    sys.exit(code)


def outputs_checked(args: RunArgs, plan: Plan) -> RunArgs:
    """`args` with the report's path named (`-o`, or the default for this plan), once
    every output path was checked, before any traffic (see `check_run_outputs`)."""
    output = args.files.output or default_report_path(plan.source)
    args = replace(args, files=replace(args.files, output=output))
    live = [Output("--out jsonl=", out.target) for out in args.outs if out.kind == "jsonl"]
    check_run_outputs(args.files, plan, args.plan_path, args.plan, live)
    if args.split.checkpoint_seconds and not _a_file(output):
        raise UsageError(
            f"--checkpoint rewrites the report as the run goes: -o {output} must be a file, "
            "not a device, a FIFO or a stream"
        )
    return args


def _console_away_from_stdout(args: RunArgs) -> contextlib.AbstractContextManager[object]:
    files = args.files
    paths = (files.output, files.html, files.junit, files.summary_md)
    if any(path is not None and stream_fd(path) == 1 for path in paths):
        return contextlib.redirect_stdout(sys.stderr)
    return contextlib.nullcontext()


def _a_file(path: str) -> bool:
    """A file the writer replaces (not /dev/stdout, a device or a FIFO written in place;
    folders and sockets were refused by check_run_outputs already)."""
    return stream_fd(path) is None and not written_in_place(Path(path))


def execute(
    plan: Plan,
    args: RunArgs,
    checks: list[Check],
    redactor: Redactor,
    table: tuple[Bands, ...] = DEFAULT_TABLE,
) -> int:
    """Make the load, however it is split; then the summary, its grades, the verdict
    and every output, with stop signals held while they are written (see StopSignals).
    Returns the exit code."""
    graded = Graded(table, build_revision(args.plan_path))  # git, if asked, before the load
    with StopSignals() as stops:
        result, summary, code = _load_then_report(plan, args, checks, redactor, stops, graded)
    if stops.signal is not None and summary.stopped_by is None:
        sys.exit(EXIT_SIGNAL[stops.signal])
    _raise_if_stopped_by_a_bug(result, args.debug)
    return code


@dataclass(frozen=True)
class Graded:
    """What a run's report is graded on, and the build it records (run.revision)."""

    table: tuple[Bands, ...]
    revision: str | None


def _load_then_report(
    plan: Plan,
    args: RunArgs,
    checks: list[Check],
    redactor: Redactor,
    stops: StopSignals,
    graded: Graded,
) -> tuple[RunResult, Summary, int]:
    assert args.files.output is not None, "see outputs_checked"
    alerts = _alerts(plan, args, checks, redactor)
    options = replace(
        _run_options(args),
        watchers=(*_watchers(plan, args, checks, redactor), *([alerts] if alerts else [])),
        abort=_abort_judge(plan, args, checks, redactor),
    )
    observer = ConsoleObserver(
        sys.stdout, live=sys.stdout.isatty() and args.split.workers == 1, quiet=args.quiet
    )
    if not args.quiet:
        click.echo(_running(plan, args.split, redactor))
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    checkpoint = Checkpoint(
        plan, started_at, args.files.output, observer, redactor, graded.revision
    )
    stops.hold()  # from here the engine (or the workers' coordinator) stops the load
    sharded = run_split(
        plan,
        args.plan,
        options,
        observer,
        checkpoint.write,
        args.split.workers,
        args.split.dask,
        early_stop=lambda: stops.signal,
        redactor=redactor,
    )
    checkpoint.close()
    observer.finish()
    summary = summarize(plan, sharded.result, started_at, sharded.workers, redactor)
    summary.revision = graded.revision
    summary.grade = grade_summary(summary, graded.table)  # before the checks: grade>=B reads it
    click.echo(format_summary(summary))
    _tell_output_errors(summary)
    verdict = judge(checks, summary, sharded.lost, args.max_lag, args.allow_lag)
    show_verdict(verdict)
    if alerts is not None:
        _send_final_alert(alerts, verdict, summary, interrupted=lambda: stops.signal is not None)
    summary.verdict = verdict.to_json()
    writer = Writer()
    writer.run_outputs(summary, verdict, args.files)
    return sharded.result, summary, exit_code(verdict, summary.stopped_by, writer.output_failed)


def _run_options(args: RunArgs) -> RunOptions:
    return RunOptions(
        seed=args.seed,
        insecure=args.insecure,
        scenario_name=args.scenario_name,
        solo=args.solo,
        debug=args.debug,
        segment=args.split.segment,
        start_at=args.split.start_at,
        checkpoint_seconds=args.split.checkpoint_seconds,
    )


def _abort_judge(
    plan: Plan, args: RunArgs, checks: list[Check], redactor: Redactor
) -> AbortJudge | None:
    """What stops the run when a check fails on the run so far; None when no check may.
    An --abort-delay that cannot matter is said, never silently ignored."""
    stopping = abort_checks(checks, every=args.abort_on_fail)
    if not stopping:
        if args.abort_on_fail:
            click.echo(
                "warning: --abort-on-fail: no check can be judged while the run goes "
                "(only upper bounds such as p95<500 or vusers.failed==0 are); "
                "the run will not be stopped early",
                err=True,
            )
        elif args.abort_delay_given:
            click.echo(
                "warning: --abort-delay does nothing here: no check stops the run early "
                "(give --abort-on-fail, or abortOnFail: true to a threshold of config.ensure)",
                err=True,
            )
        return None
    length = total_duration(plan.phases)
    if args.abort_delay >= length:
        click.echo(
            f"warning: --abort-delay {args.abort_delay:g}s is as long as the run's phases "
            f"({length:g}s): no check can stop it early",
            err=True,
        )
    return AbortJudge(stopping, args.abort_delay, redactor.text)


def _alerts(plan: Plan, args: RunArgs, checks: list[Check], redactor: Redactor) -> Alerts | None:
    """config.alerts and --alert-webhook as a watcher of the run; None when there are none.
    It judges the checks that can fail while the run goes (checks/parse.py's judged_live)."""
    channels = channels_for(plan.alerts, args.alert_webhooks)
    if not channels:
        return None
    where = f"{plan.source} against {redactor.url(plan.target)}"
    live = [check for check in checks if judged_live(check)]
    say = functools.partial(click.echo, err=True)
    return Alerts(channels, live, where, redactor.text, say)


def _send_final_alert(
    alerts: Alerts, verdict: Verdict, summary: Summary, interrupted: Callable[[], bool]
) -> None:
    """The verdict to every alert channel, before the reports are written so that they
    count what could not be delivered (yamlload.alert_errors); a signal now cuts the
    wait for a channel that does not answer."""
    code = exit_code(verdict, summary.stopped_by, output_failed=False)
    word = VERDICT_WORDS.get(code, "STOPPED")
    failed_checks = [o for o in verdict.outcomes if not o.ok and o.check.strict]
    if verdict.invalid:
        word = f"{word} ({'; '.join(verdict.invalid)})"
    alerts.final(
        final_message(word, alerts.where, summary.duration, failed_checks, summary.stopped_by),
        interrupted,
    )
    counters = summary.aggregate.counters
    for name, n in ((ALERTS_SENT, alerts.sent), (ALERT_ERRORS, alerts.errors)):
        if n:
            counters[name] = counters.get(name, 0) + n


def _watchers(
    plan: Plan, args: RunArgs, checks: list[Check], redactor: Redactor
) -> tuple[Watcher, ...]:
    """What watches the run live: --dashboard (whose page names the reports at the end),
    then the push outputs."""
    files = args.files
    reports = [p for p in (files.output, files.html, files.junit, files.summary_md) if p]
    if files.csv:
        reports += [str(path) for path in csv_paths(files.csv)]
    say = functools.partial(click.echo, err=True)
    dashboard = watchers_for(
        plan, checks, redactor, dashboard=args.dashboard, reports=reports, say=say
    )
    return (*dashboard, *_push_outputs(plan, args, redactor))


def _push_outputs(plan: Plan, args: RunArgs, redactor: Redactor) -> tuple[Watcher, ...]:
    """--out and the plan's publish-metrics as watchers. A run split over processes has
    none yet: the CLI refuses --out there, and says the plan's are not sent."""
    if args.split.workers == 1 and not args.split.dask:
        return output_watchers(plan, args.outs, redactor)
    if plan.live_outputs:
        click.echo(
            "warning: config.plugins.publish-metrics is not sent from a run split with "
            "--workers or --dask (not supported yet)",
            err=True,
        )
    return ()


def _tell_output_errors(summary: Summary) -> None:
    """The push outputs' failures, in one line even under -q: the run's numbers are
    whole, but what a dashboard got from them is not."""
    failed = summary.counter(OUTPUT_ERRORS)
    if failed:
        click.echo(
            f"warning: the live outputs failed {failed} time{'s' if failed > 1 else ''} "
            f"({OUTPUT_ERRORS}); the run and its report are not affected",
            err=True,
        )


def _running(plan: Plan, split: Split, redactor: Redactor) -> str:
    phases = f"{len(plan.phases)} phase{'' if len(plan.phases) == 1 else 's'}"
    shards = f", {counted(split.workers, 'worker')}" if split.workers > 1 else ""
    segment = f", segment {split.segment.label}" if split.segment.count > 1 else ""
    target = redactor.url(plan.target)
    over = f", {transport_choice(plan)} transport"
    return f"Running {plan.source} against {target} ({phases}{shards}{segment}{over})"


def _raise_if_stopped_by_a_bug(result: RunResult, debug: bool) -> None:
    """A bug in yamlload cut the run short: the report already written holds what was
    measured, and the exit code (70) says a bug, not the target, stopped it."""
    if result.internal_error is None:
        return
    if debug:
        click.echo(result.internal_error, err=True)
    last = result.internal_error.strip().splitlines()[-1]
    hint = "" if debug else " (run with --debug for the traceback)"
    raise InternalError(f"the run was stopped by a bug: {last}{hint}")


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP for the whole of a run. Before the load they end the
    command at once (`StoppedEarly`: nothing was sent); during it the engine's own
    handlers stop the load, and hand these back; after it they are held while the report
    is written, and the exit code says the first one."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self.holding = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _: Any) -> None:
        self.signal = self.signal or signal.Signals(signum).name
        if not self.holding:
            raise StoppedEarly(self.signal)

    def hold(self) -> None:
        """From now on a signal is remembered, never raised: the load has begun."""
        self.holding = True

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                signum = getattr(signal, name)
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
