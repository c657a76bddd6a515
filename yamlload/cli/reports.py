"""Commands that read JSON reports: `report`, `compare` and `merge`. They import nothing
of the runtime (tests/test_imports.py holds them to it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..checks.compare import deltas, evaluate_relative, relative_checks
from ..checks.outcome import failed
from ..errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_RUN,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
)
from ..report.console import format_checks, format_deltas, format_summary
from ..report.json import read_json, write_json
from ..report.junit import write_text
from ..report.outputs import Input, Output, check_outputs
from ..scale.merge import merge_summaries
from .options import lag_options
from .outputs import Writer, show_verdict
from .verdict import judge


@click.command(short_help="Compare two reports; gate on regressions.")
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
    checks = relative_checks(ensure, before, after)
    click.echo(f"Comparing {baseline} (baseline) with {current}")
    for path, summary in ((baseline, before), (current, after)):
        if summary.checkpoint:
            click.echo(f"warning: {path} is a checkpoint: its run was still going", err=True)
    rows = deltas(before, after)
    click.echo(format_deltas(rows))
    writer = Writer()
    if html_path:
        from ..report.html import render_compare_html

        page = render_compare_html(before, after, rows)
        if writer.attempt(lambda: write_text(html_path, page, what="the HTML page")):
            click.echo(f"HTML: {html_path}")
    outcomes = evaluate_relative(checks, before, after)
    if outcomes:
        click.echo("\n" + format_checks(outcomes))
    if writer.output_failed:
        sys.exit(EXIT_OUTPUT_FAILED)
    sys.exit(EXIT_CHECK_FAILED if failed(outcomes) else EXIT_OK)


@click.command(short_help="Merge shard reports into one, exactly.")
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
    verdict = judge([], summary, lost, max_lag, allow_lag)
    show_verdict(verdict)
    summary.verdict = verdict.validity_json()
    writer = Writer()
    if writer.attempt(lambda: write_json(summary, output, what="the merged report")):
        click.echo(f"Merged {len(reports)} reports: {output}")
    if writer.output_failed:
        sys.exit(EXIT_OUTPUT_FAILED)
    sys.exit(EXIT_INVALID_RUN if verdict.invalid else EXIT_OK)


@click.command(short_help="Render a JSON report as an HTML page.")
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
    replaced = Path(target).is_file()
    check_outputs(
        [Output("-o" if output else "-o (by default)", target)],
        [Input(report_path, "a report")],
        "this command",
    )
    summary = read_json(report_path)
    from ..report.html import render_html

    write_text(target, render_html(summary), what="the HTML report")
    click.echo(
        f"HTML report: {target}" + (" (replaced the file that was there)" if replaced else "")
    )
