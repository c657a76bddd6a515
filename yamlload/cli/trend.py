"""`yamlload trend`: the runs of one plan over time, from their JSON reports, and a gate
on the newest against the median of the runs before it. Like `report` and `compare`, it
imports nothing of the runtime."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ..checks.compare import relative_checks
from ..checks.outcome import failed
from ..checks.parse import Check
from ..checks.trend import DEFAULT_BASELINE_RUNS, TrendOutcome, baseline_of, evaluate_trend
from ..errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_OUTPUT_FAILED, UsageError
from ..report.json import read_report_data
from ..report.outputs import Input, Output, check_outputs
from ..report.trend import (
    TrendRun,
    baseline_words,
    format_trend,
    format_trend_checks,
    read_run,
    write_trend_csv,
)
from ..text import one_line
from .outputs import Writer

# What `trend` reads in a folder given as an argument.
REPORT_GLOB = "*.json"


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
    "--baseline",
    "baseline_runs",
    type=click.IntRange(min=1),
    default=DEFAULT_BASELINE_RUNS,
    show_default=True,
    metavar="N",
    help="The baseline is the median of the N runs before the newest.",
)
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write a chart page.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write a row per run.")
@click.option("--mixed", is_flag=True, help="Accept reports of different plans.")
def trend(
    reports: tuple[str, ...],
    ensure: tuple[str, ...],
    baseline_runs: int,
    html_path: str | None,
    csv_path: str | None,
    mixed: bool,
) -> None:
    """Show the runs of REPORT... (JSON reports, or folders of them) in time order.

    The newest run is judged against the median of the N runs before it by each --ensure
    limit on the change. Exit 1 when one is broken, 2 for a bad report, limit or output
    path, or reports of different plans without --mixed, 4 when a file could not be
    written. With one run there is nothing to judge: a warning, and exit 0.
    """
    files = report_files(reports)
    named = (("--html", html_path), ("--csv", csv_path))
    outputs = [Output(flag, path) for flag, path in named if path]
    if outputs:
        check_outputs(outputs, [Input(p, "a report") for p, _ in files], "this command")
    runs = read_runs(files)
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
    if writer.output_failed:
        sys.exit(EXIT_OUTPUT_FAILED)
    sys.exit(EXIT_CHECK_FAILED if failed(j.outcome for j in judged) else EXIT_OK)


def report_files(arguments: Sequence[str]) -> list[tuple[str, bool]]:
    """Each report to read, and whether it was named (rather than found in a folder):
    a folder stands for its *.json files, by name; a file given twice is read once."""
    found: dict[Path, tuple[str, bool]] = {}
    for argument in arguments:
        folder = Path(argument)
        if folder.is_dir():
            for path in sorted(folder.glob(REPORT_GLOB)):
                if path.is_file():
                    found.setdefault(path.resolve(), (str(path), False))
        else:
            found.setdefault(folder.resolve(), (argument, True))
    return list(found.values())


def read_runs(files: Sequence[tuple[str, bool]]) -> list[TrendRun]:
    """The runs, oldest first. A report named that cannot be read is exit 2; a file in a
    folder that is not a report is skipped with a note (a folder of CI artifacts holds
    other JSON); a checkpoint is left out with a warning (its run was still going)."""
    runs = []
    for path, named in files:
        try:
            run = read_run(path, read_report_data(path))
        except UsageError as exc:
            if named:
                raise
            click.echo(f"note: skipped {exc}", err=True)
            continue
        if run.summary.checkpoint:
            click.echo(
                f"warning: {path} is a checkpoint (its run was still going): left out", err=True
            )
            continue
        runs.append(run)
    if not runs:
        raise UsageError(
            f"no yamlload report to read in {', '.join(p for p, _ in files) or 'the folders given'}"
        )
    return sorted(runs, key=lambda run: (run.started, run.path))


def one_plan(runs: Sequence[TrendRun]) -> None:
    """Refuse runs of two plans (`plan_name`: the plan file's name), naming both."""
    first = runs[0]
    other = next((run for run in runs if run.plan != first.plan), None)
    if other is not None:
        raise UsageError(
            f"these are reports of two plans: {one_line(first.plan)} ({first.path}) and "
            f"{one_line(other.plan)} ({other.path}); a trend follows one plan "
            "(--mixed to show them together)"
        )


def judge(
    checks: list[Check], runs: Sequence[TrendRun], baseline_runs: int
) -> tuple[list[TrendOutcome], str | None]:
    """The checks judged on the newest run, and what it was judged against; with one
    run, nothing (there is no baseline), said as a warning."""
    if not checks:
        return [], None
    if len(runs) < 2:
        why = "only one run: the --ensure limits on the change need two or more; not evaluated"
        click.echo(f"warning: {why}", err=True)
        return [], why
    summaries = [run.summary for run in runs]
    count = len(baseline_of(summaries, baseline_runs))
    if count < baseline_runs:
        click.echo(
            f"note: the baseline is the median of {count} run{'s' if count > 1 else ''} "
            f"(fewer than --baseline {baseline_runs})",
            err=True,
        )
    return evaluate_trend(checks, summaries, baseline_runs), baseline_words(runs, count)


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
