"""The `yamlload` command. The only module that reads flags, the environment and the clock."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._checks import (
    DEFAULT_MAX_LAG_MS,
    Check,
    Outcome,
    check_compare_names,
    check_names,
    checks_from_plan,
    deltas,
    describe_limit,
    describe_outcome,
    evaluate,
    evaluate_relative,
    failed,
    invalid_reasons,
    parse_ensure,
)
from ._compile import compile_document, load_plan
from ._describe import describe, plural
from ._engine import (
    STOP_SIGNALS,
    WHOLE_RUN,
    Engine,
    RunOptions,
    RunResult,
    capacity_warnings,
    ensure_file_limit,
    run_on_uvloop,
)
from ._errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_RUN,
    EXIT_OUTPUT_FAILED,
    EXIT_SIGNAL,
    EXIT_USAGE,
    InternalError,
    PlanError,
    Problem,
    StoppedEarly,
    UsageError,
    YamlloadError,
)
from ._load import PlanOptions, located_from_data
from ._outputs import Input, Output, OutputError, check_outputs
from ._plan import Plan
from ._redact import Redactor
from ._report.console import ConsoleObserver, format_checks, format_deltas, format_summary
from ._report.json import read_json, write_json
from ._report.junit import write_text
from ._report.markdown import markdown_summary
from ._schema import build_report_schema, build_schema
from ._shard import (
    merge_summaries,
    parse_segment,
    parse_start_at,
    run_on_dask,
    run_workers,
    worker_count,
    worker_health,
)
from ._summary import Summary, summarize
from ._version import __version__

# A checkpoint at most once a day: larger values are surely a mistake in units.
MAX_CHECKPOINT_SECONDS = 86_400.0
DEMO_TARGET_START_SECONDS = 30.0

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns every yamlload error into its message and exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except YamlloadError as exc:
            click.echo(exc.show(), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: say so plainly, with enough to report it
            error = InternalError(f"{type(exc).__name__}: {exc}")
            click.echo(error.show(), err=True)
            ctx.exit(error.exit_code)


def plan_options(command: F) -> F:
    """The options that shape a plan, shared by `validate` and `run` (as in Artillery)."""
    decorators = [
        click.option(
            "-c",
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="A config file whose `config` (and scenarios) the plan is layered on.",
        ),
        click.option("-e", "--environment", help="Use config.environments.NAME."),
        click.option("-t", "--target", help="Override config.target."),
        click.option(
            "-p",
            "--payload",
            type=click.Path(dir_okay=False),
            help="CSV file for a payload that has no `path`.",
        ),
        click.option("--overrides", metavar="JSON", help="JSON merged over the whole plan."),
        click.option(
            "-v", "--variables", metavar="JSON", help="JSON merged into config.variables."
        ),
        click.option(
            "--dotenv",
            type=click.Path(dir_okay=False),
            help="KEY=VALUE file laid over the environment for $env / $processEnvironment.",
        ),
        click.option(
            "--allow-path",
            "allow_paths",
            multiple=True,
            metavar="DIR",
            type=click.Path(file_okay=False, exists=True),
            help="A folder whose files the plan may read besides its own and the current "
            "folder (payloads, -p, formData files, processor, --config, --dotenv). "
            "Repeatable; it must exist.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older clicks cannot subscript it
    _FloatParam = click.ParamType[float, Any]
else:
    _FloatParam = click.ParamType


class FiniteFloat(_FloatParam):
    """A number that is finite and within [low, high]: nan and inf would quietly turn a
    check off (--max-lag nan) or a feature (--checkpoint nan)."""

    name = "number"

    def __init__(self, low: float, high: float = 1e12) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            self.fail(f"{value!r} must be between {self.low:g} and {self.high:g}", param, ctx)
        return number


def lag_options(command: F) -> F:
    """--max-lag and --allow-lag: when a run (or a merged one) is judged invalid."""
    command = click.option(
        "--allow-lag", is_flag=True, help="Only warn when the generator fell behind."
    )(command)
    return click.option(
        "--max-lag",
        type=FiniteFloat(0.0),
        default=DEFAULT_MAX_LAG_MS,
        show_default=True,
        metavar="MS",
        help="The run is invalid (exit 3) when arrival lag p99 exceeds this.",
    )(command)


def options_from(kwargs: dict[str, Any]) -> PlanOptions:
    return PlanOptions(
        allow_paths=tuple(kwargs.get("allow_paths") or ()),
        config_file=kwargs.get("config_file"),
        environment=kwargs.get("environment"),
        target=kwargs.get("target"),
        payload=kwargs.get("payload"),
        overrides=kwargs.get("overrides"),
        variables=kwargs.get("variables"),
        dotenv=kwargs.get("dotenv"),
        env=tuple(sorted(os.environ.items())),
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="yamlload")
def cli() -> None:
    """Load testing from a declarative YAML plan (Artillery-compatible)."""


@cli.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path())
@plan_options
def validate(plans: tuple[str, ...], **kwargs: Any) -> None:
    """Check PLANS against the schema and compile them; print what would run.

    Every problem is reported as FILE:LINE:COL: message. Exit 0 when all plans are
    valid, 2 otherwise.
    """
    options = options_from(kwargs)
    failed = 0
    for plan_path in plans:
        try:
            plan = load_plan(plan_path, options)
            check_names(checks_from_plan(plan), plan)  # what `run` checks before traffic
        except PlanError as exc:
            failed += 1
            click.echo(exc.show(), err=True)
            click.echo(f"invalid: {plan_path} ({plural(len(exc.problems), 'problem')})", err=True)
            continue
        except YamlloadError as exc:
            failed += 1
            click.echo(exc.show(), err=True)
            continue
        redactor = Redactor.for_plan(plan)
        for warning in plan.warnings:
            click.echo(f"warning: {redactor.text(str(warning))}", err=True)
        for advice in capacity_warnings(plan):
            click.echo(f"warning: {advice}", err=True)
        click.echo(f"ok: {plan_path}")
        for line in describe(plan):
            click.echo(line)
    if failed:
        sys.exit(EXIT_USAGE)


@cli.command()
@click.option("--report", is_flag=True, help="Print the JSON report's schema instead.")
def schema(report: bool) -> None:
    """Print the plan's JSON Schema (for editors and other tools)."""
    click.echo(json.dumps(build_report_schema() if report else build_schema(), indent=2))


@cli.command()
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
    help="Start the bundled demo API on a free port and aim the plan at it.",
)
@click.option(
    "--ensure",
    "ensure",
    multiple=True,
    metavar="EXPR",
    help="A check such as 'p95<500' or 'error_rate<1%'; repeatable.",
)
@lag_options
@click.option(
    "--checkpoint",
    "checkpoint_seconds",
    type=FiniteFloat(1.0, MAX_CHECKPOINT_SECONDS),
    metavar="SECONDS",
    help="Write the report so far every SECONDS (atomically), so a killed run leaves one.",
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
    "(pip install 'yamlload[dask]').",
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
    gate = _Gate(kwargs)
    split = _Split(kwargs)
    with _DemoTarget(kwargs.pop("demo_target")) as demo_url:
        if demo_url:
            kwargs["target"] = demo_url
        plan = load_plan(plan_path, options_from(kwargs))
        redactor = Redactor.for_plan(plan)
        for warning in plan.warnings:
            click.echo(f"warning: {redactor.text(str(warning))}", err=True)
        gate.prepare(plan)  # bad checks stop here, before any traffic
        gate.check_outputs(plan, kwargs, plan_path)  # and bad output paths
        split.check_start(plan)
        for advice in capacity_warnings(plan, split.workers):
            click.echo(f"warning: {advice}", err=True)
        limit = ensure_file_limit(plan)
        if limit:
            click.echo(f"warning: {limit}", err=True)
        summary = _run_and_report(plan, kwargs, gate, split)
    sys.exit(gate.exit_code(summary))


class _Split:
    """How the load is split: one process, N local workers, or one segment by hand."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.workers = worker_count(str(kwargs.pop("workers", "1")))
        self.dask: str | None = kwargs.pop("dask_address", None)
        segment, start_at = kwargs.pop("segment", None), kwargs.pop("start_at", None)
        if self.dask and (segment or self.workers > 1):
            raise UsageError("--dask decides the shards itself: leave out --workers and --segment")
        if segment and self.workers > 1:
            raise UsageError("--workers and --segment do not go together: a segment is one worker")
        if start_at and not segment:
            raise UsageError("--start-at goes with --segment")
        self.checkpoint_seconds: float | None = kwargs.pop("checkpoint_seconds", None)
        if self.checkpoint_seconds and (self.dask or self.workers > 1):
            raise UsageError(
                "--checkpoint needs the run in one process: leave out --workers and --dask "
                "(or run each --segment with its own --checkpoint and -o)"
            )
        self.segment = parse_segment(segment) if segment else WHOLE_RUN
        self.start_at = parse_start_at(start_at) if start_at else None

    def check_start(self, plan: Plan) -> None:
        """A --start-at so far past that the whole plan would already be over would fire
        every user at once: refused, before any traffic."""
        if self.start_at is None:
            return
        late = time.time() - self.start_at
        planned = sum(phase.duration for phase in plan.phases)
        if late > planned:
            raise UsageError(
                f"--start-at is {late:,.0f} s in the past, longer than the plan lasts "
                f"({planned:,.0f} s): every user would start at once; give a time to come"
            )

    def run(
        self,
        plan: Plan,
        kwargs: dict[str, Any],
        options: RunOptions,
        observer: ConsoleObserver,
        on_checkpoint: Callable[[RunResult], None],
        stops: _StopSignals,
    ) -> tuple[RunResult, list[dict[str, Any]], list[str]]:
        if self.dask or self.workers > 1:
            stops.hold()  # the coordinator forwards signals to its workers from here
        if self.dask:
            sharded = run_on_dask(self.dask, plan.source, options_from(kwargs), options)
            return sharded.result, sharded.workers, sharded.lost
        if self.workers > 1:
            sharded = run_workers(
                plan.source,
                options_from(kwargs),
                options,
                self.workers,
                observer.period_done,
                observer.log,
                observer.tick,
            )
            return sharded.result, sharded.workers, sharded.lost
        options = replace(
            options,
            segment=self.segment,
            start_at=self.start_at,
            checkpoint_seconds=self.checkpoint_seconds,
        )
        engine = Engine(plan, options, observer, on_checkpoint)
        stops.hold()  # the engine stops the load from here: a signal is not an exception
        result = run_on_uvloop(engine.run_until_signalled(lambda: stops.signal))
        workers = [worker_health(self.segment, result)] if self.segment.count > 1 else []
        return result, workers, []


class _Gate:
    """The CI verdict: checks, the run's validity, and where to report them."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.expressions: tuple[str, ...] = kwargs.pop("ensure", ())
        self.max_lag: float = kwargs.pop("max_lag", DEFAULT_MAX_LAG_MS)
        self.allow_lag: bool = kwargs.pop("allow_lag", False)
        self.junit: str | None = kwargs.pop("junit", None)
        self.summary_md: str | None = kwargs.pop("summary_md", None)
        self.html: str | None = kwargs.pop("html_path", None)
        self.csv: str | None = kwargs.pop("csv_prefix", None)
        self.checks: list[Check] = []
        self.outcomes: list[Outcome] = []
        self.invalid: list[str] = []
        self.output_failed = False

    def prepare(self, plan: Plan) -> None:
        problems: list[Problem] = []
        checks = checks_from_plan(plan)
        for expression in self.expressions:
            try:
                checks.append(parse_ensure(expression))
            except PlanError as exc:
                problems.extend(exc.problems)
        try:
            check_names(checks, plan)
        except PlanError as exc:
            problems.extend(exc.problems)
        if problems:
            raise PlanError(problems)
        self.checks = checks

    def judge(self, summary: Summary, lost: list[str] | None = None) -> None:
        self.outcomes = evaluate(self.checks, summary)
        reasons = [*(lost or []), *invalid_reasons(summary, self.max_lag)]
        if self.allow_lag:
            lagging = [r for r in reasons if r.startswith("the generator fell behind")]
            for reason in lagging:
                click.echo(f"warning: {reason} (allowed by --allow-lag)", err=True)
            reasons = [r for r in reasons if r not in lagging]
        self.invalid = reasons

    def show(self) -> None:
        if self.outcomes:
            click.echo("\n" + format_checks(self.outcomes))
        for reason in self.invalid:
            click.echo(f"invalid run: {reason}", err=True)

    def verdict(self) -> dict[str, Any]:
        return {
            "checks": [
                {
                    "check": o.check.source,
                    "value": o.value,
                    "measured": describe_outcome(o),
                    "limit": describe_limit(o.check),
                    "result": o.verdict,
                }
                for o in self.outcomes
            ],
            "validity": {"valid": not self.invalid, "reasons": self.invalid},
        }

    def check_outputs(self, plan: Plan, kwargs: dict[str, Any], plan_path: str | None) -> None:
        """Every output path, before any traffic (docs/reliability.md, "Output paths"):
        never an input of the run, never anything but a regular file replaced, a folder
        that takes a file, no two outputs the same. Sets the default `-o` path."""
        kwargs["output"] = kwargs.get("output") or _default_report_path(plan.source)
        outputs = [Output("-o", kwargs["output"])]
        if self.html:
            outputs.append(Output("--html", self.html))
        if self.csv:
            from ._report.csvfiles import csv_paths

            outputs += [Output("--csv", str(path)) for path in csv_paths(self.csv)]
        if self.junit:
            outputs.append(Output("--junit", self.junit))
        if self.summary_md:
            outputs.append(Output("--summary-md", self.summary_md))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            outputs.append(Output("GITHUB_STEP_SUMMARY", step_summary, append=True))
        inputs = [Input(plan_path, "the plan")] if plan_path else []
        if kwargs.get("config_file"):
            inputs.append(Input(kwargs["config_file"], "the --config file"))
        if kwargs.get("dotenv"):
            inputs.append(Input(kwargs["dotenv"], "the --dotenv file"))
        if kwargs.get("payload"):
            inputs.append(Input(kwargs["payload"], "a payload file"))
        inputs += [Input(payload.path, "a payload file") for payload in plan.payloads]
        if plan.processor:
            inputs.append(Input(plan.processor, "the processor"))
        check_outputs(outputs, inputs)

    def attempt(self, write: Callable[[], object]) -> bool:
        """One output: a failure is said on one line and remembered (exit 4), and the
        other outputs are still written."""
        try:
            write()
        except OutputError as exc:
            click.echo(exc.show(), err=True)
            self.output_failed = True
            return False
        return True

    def write_ci_files(self, summary: Summary) -> None:
        if self.html:
            from ._report.html import render_html  # optional outputs load on demand: start-up

            html = self.html
            if self.attempt(lambda: write_text(html, render_html(summary), what="the HTML report")):
                click.echo(f"HTML report: {html}")
        if self.csv:
            from ._report.csvfiles import write_csv

            prefix = self.csv
            written: list[Path] = []
            if self.attempt(lambda: written.extend(write_csv(summary, prefix))):
                for path in written:
                    click.echo(f"CSV: {path}")
        if self.junit:
            from ._report.junit import junit_xml

            junit = self.junit
            self.attempt(
                lambda: write_text(
                    junit, junit_xml(summary, self.outcomes, self.invalid), what="the JUnit file"
                )
            )
        markdown = markdown_summary(summary, self.outcomes, self.invalid)
        summary_md = self.summary_md
        if summary_md:
            self.attempt(lambda: write_text(summary_md, markdown, what="the Markdown summary"))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            self.attempt(
                lambda: write_text(
                    step_summary, markdown, append=True, what="the GITHUB_STEP_SUMMARY file"
                )
            )

    def exit_code(self, summary: Summary) -> int:
        if summary.stopped_by in EXIT_SIGNAL:
            return EXIT_SIGNAL[summary.stopped_by]
        if self.output_failed:  # CI must not trust a run whose report is missing
            return EXIT_OUTPUT_FAILED
        if self.invalid:
            return EXIT_INVALID_RUN
        return EXIT_CHECK_FAILED if failed(self.outcomes) else 0


def _run_and_report(
    plan: Plan, kwargs: dict[str, Any], gate: _Gate | None = None, split: _Split | None = None
) -> Summary:
    options = RunOptions(
        seed=kwargs.get("seed"),
        insecure=bool(kwargs.get("insecure")),
        scenario_name=kwargs.get("scenario_name"),
        solo=bool(kwargs.get("solo")),
        debug=bool(kwargs.get("debug")),
    )
    quiet = bool(kwargs.get("quiet"))
    split = split or _Split({})
    observer = ConsoleObserver(
        sys.stdout, live=sys.stdout.isatty() and split.workers == 1, quiet=quiet
    )
    with _StopSignals() as stops:
        result, summary = _run_then_report(plan, kwargs, options, gate, split, stops, observer)
    if stops.signal is not None and summary.stopped_by is None:
        sys.exit(EXIT_SIGNAL[stops.signal])
    if result.internal_error is not None:
        # A bug in yamlload cut the run short: the report above holds what was measured.
        if options.debug:
            click.echo(result.internal_error, err=True)
        last = result.internal_error.strip().splitlines()[-1]
        hint = "" if options.debug else " (run with --debug for the traceback)"
        raise InternalError(f"the run was stopped by a bug: {last}{hint}")
    return summary


def _run_then_report(
    plan: Plan,
    kwargs: dict[str, Any],
    options: RunOptions,
    gate: _Gate | None,
    split: _Split,
    stops: _StopSignals,
    observer: ConsoleObserver,
) -> tuple[RunResult, Summary]:
    redactor = Redactor.for_plan(plan)
    if not observer.quiet:
        phases = f"{len(plan.phases)} phase{'' if len(plan.phases) == 1 else 's'}"
        shards = f", {split.workers} workers" if split.workers > 1 else ""
        segment = f", segment {split.segment.label}" if split.segment.count > 1 else ""
        target = redactor.url(plan.target)
        click.echo(f"Running {plan.source} against {target} ({phases}{shards}{segment})")
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    gate = gate or _Gate({})
    path = kwargs.get("output") or _default_report_path(plan.source)
    checkpoint = _Checkpoint(plan, started_at, path, observer, redactor)
    result, workers, lost = split.run(plan, kwargs, options, observer, checkpoint.write, stops)
    checkpoint.close()
    observer.finish()
    # From here a signal is held (see _StopSignals): it must not lose the report.
    summary = summarize(plan, result, started_at, workers, redactor)
    click.echo(format_summary(summary))
    gate.judge(summary, lost)
    gate.show()
    summary.verdict = gate.verdict()
    # Each output on its own: one that fails is named and never stops the others.
    wrote_json = gate.attempt(lambda: write_json(summary, path))
    gate.write_ci_files(summary)
    if wrote_json:
        click.echo(f"Report: {path}")
    return result, summary


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP for the whole of `run`. Before the load they end the
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

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                signum = getattr(signal, name)
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class _Checkpoint:
    """--checkpoint: the report so far, written where the final one will go. A failed
    write is said once and the run goes on: the load matters more than the file.

    `write` runs on a thread of the engine's; `close` waits for a write in progress and
    stops later ones, so a checkpoint can never land on top of the final report."""

    def __init__(
        self,
        plan: Plan,
        started_at: str,
        path: str,
        observer: ConsoleObserver,
        redactor: Redactor,
    ) -> None:
        self.plan, self.started_at, self.path = plan, started_at, path
        self.observer, self.redactor = observer, redactor
        self.failed = False
        self.closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self.closed = True

    def write(self, result: RunResult) -> None:
        with self._lock:
            if not self.closed:
                self._write(result)

    def _write(self, result: RunResult) -> None:
        partial = summarize(self.plan, result, self.started_at, redactor=self.redactor)
        partial.checkpoint = True
        try:
            write_json(partial, self.path, what="the checkpoint")
        except OutputError as exc:  # its temporary file is already removed
            if not self.failed:
                message = f"warning: checkpoint not written: {exc}"
                if self.observer.quiet:
                    click.echo(message, err=True)
                else:
                    self.observer.log(message)
            self.failed = True


def _default_report_path(source: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem) or "plan"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"yamlload-report-{stem}-{stamp}.json"


class _DemoTarget:
    """Start `yamlload target` in its own process, so it never competes with the
    generator's event loop, and stop it afterwards."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str | None:
        if not self.wanted:
            return None
        command = [sys.executable, "-m", "yamlload", "target", "--host", "127.0.0.1", "--port", "0"]
        # Its own session: a Ctrl-C meant for the run must not kill the target first.
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"(http://\S+)", line)
        if not found:
            self.__exit__()
            raise UsageError("the demo target did not start")
        return found.group(1)

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=int, help="Port (0 picks a free one)."
)
def target(host: str, port: int) -> None:
    """Serve the bundled demo API (a small shop) until stopped.

    Endpoints: POST /auth/login, GET /products, GET /products/{id}, GET /search?q=,
    POST /orders, GET /orders/{id}, POST /admin/reset, GET /health, and for tests
    GET /delay/{ms}, /status/{code}, /bytes/{n}, /echo, /cookies/set.
    """
    run_on_uvloop(_serve_demo(host, port))


async def _serve_demo(host: str, port: int) -> None:
    from ._target import start_demo_target

    runner, url = await start_demo_target(host, port)
    print(f"yamlload demo target listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    await stop.wait()
    await runner.cleanup()


@cli.command()
@click.argument("url")
@click.option("-c", "--count", default=10, show_default=True, help="Virtual users to start.")
@click.option("-n", "--num", default=10, show_default=True, help="Requests each user sends.")
@click.option("-r", "--rate", type=float, help="Start users at this rate per second instead.")
@click.option(
    "-d", "--duration", default="10s", show_default=True, help="How long to keep the rate."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON report."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or period lines.")
@click.option("-k", "--insecure", is_flag=True, help="Accept invalid TLS certificates.")
def quick(url: str, count: int, num: int, rate: float | None, duration: str, **kwargs: Any) -> None:
    """Load URL without writing a plan: COUNT users each send NUM GET requests."""
    found = re.match(r"^(https?://[^/]+)(.*)$", url)
    if not found:
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    origin, path = found.group(1), found.group(2) or "/"
    phase = (
        {"duration": duration, "arrivalRate": rate}
        if rate
        else {"duration": 1, "arrivalCount": count}
    )
    document = {
        "config": {"target": origin, "phases": [phase]},
        "scenarios": [
            {"name": "quick", "flow": [{"loop": [{"get": {"url": path}}], "count": num}]}
        ],
    }
    plan = compile_document(located_from_data(document, "quick"), "quick", PlanOptions())
    gate = _Gate({})
    gate.check_outputs(plan, kwargs, None)
    summary = _run_and_report(plan, kwargs, gate)
    sys.exit(gate.exit_code(summary))


@cli.command()
@click.argument("baseline", type=click.Path(dir_okay=False))
@click.argument("current", type=click.Path(dir_okay=False))
@click.option(
    "--ensure",
    "ensure",
    multiple=True,
    metavar="EXPR",
    help="A limit on the change, such as 'p95<+10%', 'error_rate<+0.5pp' or 'p99<+50ms'.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write an HTML page with both runs overlaid.",
)
def compare(baseline: str, current: str, ensure: tuple[str, ...], html_path: str | None) -> None:
    """Compare two JSON reports metric by metric and endpoint by endpoint.

    Exit 1 when an --ensure limit on the change is broken, 2 for a bad report, limit or
    output path, 4 when the HTML page could not be written.
    """
    if html_path:
        check_outputs(
            [Output("--html", html_path)],
            [Input(baseline, "a report"), Input(current, "a report")],
            "this command",
        )
    before, after = read_json(baseline), read_json(current)
    problems: list[Problem] = []
    checks: list[Check] = []
    for expression in ensure:
        try:
            checks.append(parse_ensure(expression, relative=True))
        except PlanError as exc:
            problems.extend(exc.problems)
    try:
        check_compare_names(checks, before, after)
    except PlanError as exc:
        problems.extend(exc.problems)
    if problems:
        raise PlanError(problems)
    click.echo(f"Comparing {baseline} (baseline) with {current}")
    for path, summary in ((baseline, before), (current, after)):
        if summary.checkpoint:
            click.echo(f"warning: {path} is a checkpoint: its run was still going", err=True)
    rows = deltas(before, after)
    click.echo(format_deltas(rows))
    if html_path:
        from ._report.html import render_compare_html

        gate = _Gate({})
        page = render_compare_html(before, after, rows)
        if gate.attempt(lambda: write_text(html_path, page, what="the HTML page")):
            click.echo(f"HTML: {html_path}")
        html_failed = gate.output_failed
    else:
        html_failed = False
    outcomes = evaluate_relative(checks, before, after)
    if outcomes:
        click.echo("\n" + format_checks(outcomes))
    if html_failed:
        sys.exit(EXIT_OUTPUT_FAILED)
    sys.exit(EXIT_CHECK_FAILED if failed(outcomes) else 0)


@cli.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="The merged JSON report."
)
@lag_options
def merge(reports: tuple[str, ...], output: str, max_lag: float, allow_lag: bool) -> None:
    """Merge the JSON reports of shards (`run --segment I/N`) into one, exactly.

    The reports must be segments 1..N of one run, each once: a segment given twice, or
    segments of different splits, are refused (exit 2). A missing segment is merged
    without: the merged run is marked incomplete, which makes it invalid (exit 3), as a
    lost worker, a shard that started late, or a lagging generator does.
    """
    check_outputs(
        [Output("-o", output)], [Input(path, "a report") for path in reports], "this command"
    )
    summary = merge_summaries([read_json(path) for path in reports], list(reports))
    click.echo(format_summary(summary))
    # The merged run is judged as `run` judges one, lost workers included; the shards'
    # own checks are not carried over (each judged its share, not the whole).
    lost = [str(w["lost"]) for w in summary.workers if "lost" in w and not w.get("missing")]
    gate = _Gate({"max_lag": max_lag, "allow_lag": allow_lag})
    gate.judge(summary, lost)
    gate.show()
    summary.verdict = {"validity": gate.verdict()["validity"]}
    if gate.attempt(lambda: write_json(summary, output, what="the merged report")):
        click.echo(f"Merged {len(reports)} reports: {output}")
    if gate.output_failed:
        sys.exit(EXIT_OUTPUT_FAILED)
    sys.exit(EXIT_INVALID_RUN if gate.invalid else 0)


@cli.command()
@click.argument("report_path", metavar="REPORT", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="The HTML file (default: REPORT with .html).",
)
def report(report_path: str, output: str | None) -> None:
    """Render a JSON report (from `run`, or merged) as a self-contained HTML page.

    Exit 2 for a bad report or output path (the report itself is never written over),
    4 when the page could not be written.
    """
    target = output or str(Path(report_path).with_suffix(".html"))
    check_outputs([Output("-o", target)], [Input(report_path, "a report")], "this command")
    summary = read_json(report_path)
    from ._report.html import render_html

    write_text(target, render_html(summary), what="the HTML report")
    click.echo(f"HTML report: {target}")


class _ReaderGone:
    """stdout for `yamlload … | head`: once the reader closes the pipe, what is printed
    goes nowhere, and the run goes on to write its report and exit as it would have.
    (A BrokenPipeError would otherwise end the run as if yamlload had a bug.)"""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return int(self._stream.write(text))
            except BrokenPipeError:
                self._lose_the_reader()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._lose_the_reader()

    def _lose_the_reader(self) -> None:
        self.gone = True
        # Python flushes stdout again at exit: point the descriptor at /dev/null first.
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    if sys.stdout is not None:
        sys.stdout = _ReaderGone(sys.stdout)
    cli(prog_name="yamlload")
