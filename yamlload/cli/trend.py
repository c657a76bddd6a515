"""`yamlload trend`: the runs of one plan over time, from their JSON reports, and a gate
on the newest against the median of the runs of its plan before it. Like `report` and
`compare`, it imports nothing of the runtime.

A gate must judge the build's own run, never an older one by mistake: `--newest FILE`
names it. Without it, a set holding the trace of a run that did not finish (a
checkpoint, a damaged report) is refused when there are limits to judge, and a report
dated in the future (a runner's clock ahead) is left out: either would make an older
run "the newest" and pass a build that should fail."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from ..checks.compare import relative_checks
from ..checks.outcome import failed
from ..checks.parse import Check
from ..checks.trend import DEFAULT_BASELINE_RUNS, TrendOutcome, evaluate_trend
from ..errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_OUTPUT_FAILED, UsageError
from ..plan.files import read_bounded
from ..report.json import MAX_REPORT_BYTES, read_report_data
from ..report.outputs import Input, Output, check_outputs, write_text
from ..report.trend import (
    LABEL_TIME,
    TrendRun,
    baseline_words,
    format_trend,
    format_trend_checks,
    read_run,
    trend_markdown,
    write_trend_csv,
)
from ..text import one_line
from .args import STEP_SUMMARY_VARIABLE
from .outputs import Writer

# What `trend` reads in a folder given as an argument.
REPORT_GLOB = "*.json"
# How far past now a run may have started before its runner's clock is taken to be
# wrong: CI clocks differ by seconds; a report dated later would be "the newest" until
# that time came, and hide every real run judged meanwhile.
FUTURE_SLACK = timedelta(minutes=5)
# How many plans the refusal of mixed plans names, with a report of each.
MAX_PLANS_NAMED = 5
UNFINISHED = (
    "the run that wrote it did not finish; name the run to judge with --newest FILE, or remove it"
)


@click.command(short_help="Runs of a plan over time; gate on a regression.")
@click.argument("reports", metavar="REPORT...", nargs=-1, required=True, type=click.Path())
@click.option(
    "--ensure",
    "ensure",
    multiple=True,
    metavar="EXPR",
    help="A limit on the newest run's change from the baseline, as for compare: "
    "'p95<+10%', 'error_rate<+0.5pp', 'p99<+50ms'.",
)
@click.option(
    "--newest",
    "newest_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="The report of the run to judge (this build's): reports that started after it "
    "are left out.",
)
@click.option(
    "--baseline",
    "baseline_runs",
    type=click.IntRange(min=1),
    default=DEFAULT_BASELINE_RUNS,
    show_default=True,
    metavar="N",
    help="The baseline is the median of the N valid runs of its plan before the newest.",
)
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write a chart page.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write a row per run.")
@click.option(
    "--mixed",
    is_flag=True,
    help="Accept reports of different plans (the newest is judged against its own plan's).",
)
def trend(
    reports: tuple[str, ...],
    ensure: tuple[str, ...],
    newest_path: str | None,
    baseline_runs: int,
    html_path: str | None,
    csv_path: str | None,
    mixed: bool,
) -> None:
    """Show the runs of REPORT... (JSON reports, or folders of them) in time order.

    The newest run (or --newest FILE) is judged against the median of the N valid runs
    of its plan before it by each --ensure limit on the change. Exit 1 when one is
    broken or the run judged is invalid, 2 for a bad report, limit or output path,
    reports of different plans without --mixed, or (with --ensure and no --newest) a
    checkpoint or damaged report among them; 4 when a file could not be written. With
    one run there is nothing to judge: a warning, and exit 0.
    """
    files = report_files(reports, newest_path)
    named = (("--html", html_path), ("--csv", csv_path))
    outputs = [Output(flag, path) for flag, path in named if path]
    if outputs:
        inputs = [p for p, _ in files] + ([newest_path] if newest_path else [])
        check_outputs(outputs, [Input(p, "a report") for p in inputs], "this command")
    chosen = read_newest(newest_path) if newest_path else None
    runs = read_runs(files, strict=bool(ensure) and chosen is None)
    if chosen is not None:
        newest_plan_is_theirs(chosen, runs, mixed)
    runs = select_runs(runs, chosen, datetime.now(timezone.utc))
    if not mixed:
        one_plan(runs)
    checks = relative_checks(ensure, *(run.summary for run in runs), where="in any report")
    plans = ", ".join(sorted({one_line(run.plan) for run in runs}))
    click.echo(f"Trend of {len(runs)} run{'s' if len(runs) > 1 else ''}: {plans}")
    click.echo(format_trend(runs))
    judged, heading = judge(checks, runs, baseline_runs)
    writer = Writer()
    if csv_path and writer.attempt(lambda: write_trend_csv(runs, csv_path)):
        click.echo(f"CSV: {csv_path}")
    if html_path:
        _write_html(writer, html_path, runs, judged, heading)
    if judged:
        click.echo(f"\n{heading}\n{format_trend_checks(judged)}")
    step_summary = os.environ.get(STEP_SUMMARY_VARIABLE)
    if step_summary:
        markdown = trend_markdown(runs, judged, heading)
        writer.attempt(
            lambda: write_text(step_summary, markdown, "the GITHUB_STEP_SUMMARY file", True)
        )
    if writer.output_failed:
        sys.exit(EXIT_OUTPUT_FAILED)
    sys.exit(EXIT_CHECK_FAILED if failed(j.outcome for j in judged) else EXIT_OK)


# --------------------------------------------------------------------------- reading


def report_files(arguments: Sequence[str], newest: str | None = None) -> list[tuple[str, bool]]:
    """Each report to read, and whether it was named (rather than found in a folder):
    a folder stands for its *.json files, by name; a file given twice is read once, and
    the --newest report is read apart (strictly), wherever else it is found."""
    found: dict[Path, tuple[str, bool]] = {}
    for argument in arguments:
        folder = Path(argument)
        if folder.is_dir():
            for path in sorted(folder.glob(REPORT_GLOB)):
                if path.is_file():
                    found.setdefault(path.resolve(), (str(path), False))
        else:
            found.setdefault(folder.resolve(), (argument, True))
    if newest is not None:
        found.pop(Path(newest).resolve(), None)
    return list(found.values())


def read_newest(path: str) -> TrendRun:
    """The run --newest names: a finished report, or exit 2 with why."""
    try:
        run = read_run(path, read_report_data(path))
    except UsageError as exc:
        raise UsageError(f"--newest {exc}") from None
    if run.summary.checkpoint:
        raise UsageError(
            f"--newest {path} is a checkpoint (its run was still going): the run that "
            "wrote it did not finish, so there is no run of this build to judge"
        )
    return run


def read_runs(files: Sequence[tuple[str, bool]], strict: bool = False) -> list[TrendRun]:
    """The runs read. A report named that cannot be read is exit 2; a file in a folder
    that is not a report is skipped with a note (a folder of CI artifacts holds other
    JSON). A checkpoint or a damaged report is what a run that did not finish leaves:
    left out with a warning, or, when `strict` (limits to judge and no --newest), exit 2,
    since the newest of the others is then an older run than the build's."""
    runs = []
    for path, named in files:
        try:
            run = read_run(path, read_report_data(path))
        except UsageError as exc:
            if strict and not is_other_json(path):
                raise UsageError(f"{exc}: {UNFINISHED}") from None
            if named:
                raise
            click.echo(f"note: skipped {exc}", err=True)
            continue
        if run.summary.checkpoint:
            why = f"{path} is a checkpoint (its run was still going)"
            if strict:
                raise UsageError(f"{why}: {UNFINISHED}")
            click.echo(f"warning: {why}: left out", err=True)
            continue
        runs.append(run)
    return runs


def is_other_json(path: str) -> bool:
    """Whether a file that is not a readable report is some other tool's JSON (an object
    with no `yamlload` key: a package.json), rather than a report damaged or cut short."""
    try:
        data = json.loads(read_bounded(path, MAX_REPORT_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # ValueError: JSON, UTF-8, a huge int
        return False
    return not isinstance(data, dict) or "yamlload" not in data


# --------------------------------------------------------------------------- choosing


def newest_plan_is_theirs(chosen: TrendRun, others: Sequence[TrendRun], mixed: bool) -> None:
    """The --newest report must be of the others' plan (with --mixed, of one of them),
    else the build's run would be judged against runs of another plan, or nothing."""
    strangers = [run for run in others if run.plan != chosen.plan]
    if not strangers or (mixed and len(strangers) < len(others)):
        return
    other, plan = strangers[0], one_line(chosen.plan)
    if mixed:
        raise UsageError(
            f"--newest {chosen.path} is a report of {plan}, and no other report is (they "
            f"are of {one_line(other.plan)}: {other.path}): it has no earlier run to be "
            "judged against"
        )
    raise UsageError(
        f"--newest {chosen.path} is a report of {plan}, {other.path} of "
        f"{one_line(other.plan)}; a trend follows one plan (--mixed to show others beside it)"
    )


def select_runs(runs: Sequence[TrendRun], chosen: TrendRun | None, now: datetime) -> list[TrendRun]:
    """The runs shown, oldest first, the newest last: each run once; with --newest
    (`chosen`), none that started after it; without, none dated in the future."""
    kept = unique_runs([chosen, *runs] if chosen else runs, chosen)
    if chosen is not None:
        later = [run for run in kept if run.started > chosen.started]
        for run in later:
            click.echo(
                f"note: {run.path} started after the run judged (--newest): left out", err=True
            )
    else:
        later = [run for run in kept if from_the_future(run.started, now)]
        for run in later:
            click.echo(
                f"warning: {run.path} started in the future ({run.label[0]}; now is "
                f"{now.strftime(LABEL_TIME)}), its runner's clock ahead: left out",
                err=True,
            )
    left_out = {id(run) for run in later}
    kept = [run for run in kept if id(run) not in left_out]
    if not kept:
        raise UsageError("no yamlload report to read in the files and folders given")
    # the run judged sorts last among runs that started at the same time
    return sorted(kept, key=lambda run: (run.started, run is chosen, run.path))


def from_the_future(started: datetime, now: datetime) -> bool:
    return started > now + FUTURE_SLACK


def unique_runs(runs: Sequence[TrendRun], chosen: TrendRun | None = None) -> list[TrendRun]:
    """Each run once: a copy of a report under another name (same plan, start and
    counters) would count twice and pull the baseline toward itself. The first of the
    copies in time and name order is kept (the --newest report first of all)."""
    seen: dict[tuple[object, ...], TrendRun] = {}
    kept = []
    for run in sorted(runs, key=lambda run: (run is not chosen, run.started, run.path)):
        key = (run.plan, run.started, tuple(sorted(run.summary.aggregate.counters.items())))
        if key in seen:
            click.echo(f"note: skipped {run.path}: the same run as {seen[key].path}", err=True)
            continue
        seen[key] = run
        kept.append(run)
    return kept


def one_plan(runs: Sequence[TrendRun]) -> None:
    """Refuse runs of more than one plan (`plan_name`: the plan file's name), naming
    each with a report of it."""
    first_of: dict[str, TrendRun] = {}
    for run in runs:
        first_of.setdefault(run.plan, run)
    if len(first_of) < 2:
        return
    named = [f"{one_line(plan)} ({run.path})" for plan, run in first_of.items()]
    more = len(named) - MAX_PLANS_NAMED
    listed = ", ".join(named[:MAX_PLANS_NAMED]) + (f" and {more} more" if more > 0 else "")
    raise UsageError(
        f"these are reports of {len(named)} plans: {listed}; a trend follows one plan "
        "(--mixed to show them together)"
    )


# --------------------------------------------------------------------------- judging


def judge(
    checks: list[Check], runs: Sequence[TrendRun], baseline_runs: int
) -> tuple[list[TrendOutcome], str | None]:
    """The checks judged on the newest run, and what it was judged against; with no
    earlier valid run of its plan, nothing (there is no baseline), said as a warning;
    an invalid newest run is judged all the same: each limit fails."""
    if not checks:
        return [], None
    newest = runs[-1]
    earlier = baseline_of(runs, baseline_runs)
    if not earlier and newest.verdict != "invalid":
        why = (
            "only one run" if len(runs) < 2 else f"no earlier valid run of {one_line(newest.plan)}"
        )
        why += ": the --ensure limits on the change need two or more; not evaluated"
        click.echo(f"warning: {why}", err=True)
        return [], why
    count = len(earlier)
    if 0 < count < baseline_runs:
        click.echo(
            f"note: the baseline is the median of {count} run{'s' if count > 1 else ''} "
            f"(fewer than --baseline {baseline_runs})",
            err=True,
        )
    mixed = len({run.plan for run in runs}) > 1
    judged = evaluate_trend(checks, [run.summary for run in earlier], newest.summary)
    return judged, baseline_words(newest, count, newest.plan if mixed else None)


def baseline_of(runs: Sequence[TrendRun], count: int) -> list[TrendRun]:
    """The up to `count` valid runs of the newest run's plan just before it (`runs` in
    time order). An invalid run (a target it could not reach: 100% errors, no latency)
    measures no service: counted, it would move the median and hide a regression; it
    is left out, with a note."""
    newest, found, invalid = runs[-1], list[TrendRun](), list[TrendRun]()
    for run in reversed(runs[:-1]):
        if len(found) == count:
            break
        if run.plan == newest.plan:
            (invalid if run.verdict == "invalid" else found).append(run)
    for run in reversed(invalid):
        click.echo(f"note: {run.path} is an invalid run: left out of the baseline", err=True)
    return found[::-1]


def _write_html(
    writer: Writer,
    path: str,
    runs: Sequence[TrendRun],
    judged: Sequence[TrendOutcome],
    heading: str | None,
) -> None:
    from ..report.junit import write_text
    from ..report.trend_page import render_trend_html

    page = render_trend_html(runs, judged, heading)
    if writer.attempt(lambda: write_text(path, page, what="the trend page")):
        click.echo(f"HTML: {path}")
