"""What a command writes and says once its work is done: the verdict on the console,
the JSON report and the CI files (HTML, CSV, JUnit, Markdown and the CI job summary).

Each output is written on its own: one that fails is named on one line, remembered
(exit 4), and never stops the others (docs/reliability.md, "Output paths")."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from ..plan.ir import Plan
from ..plan.source import PlanOptions
from ..report.console import format_checks
from ..report.json import write_json
from ..report.junit import write_text
from ..report.markdown import markdown_summary
from ..report.outputs import STDOUT_DASH, Input, Output, OutputError, check_outputs
from ..results.summary import Summary
from .args import ReportFiles
from .verdict import Verdict


class Writer:
    """Writes outputs one at a time and remembers whether any failed."""

    def __init__(self) -> None:
        self.output_failed = False

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

    def run_outputs(self, summary: Summary, verdict: Verdict, files: ReportFiles) -> None:
        """The JSON report at `files.output`, then every CI file asked for."""
        assert files.output is not None, "the report path is named before the run"
        path = files.output
        wrote_json = self.attempt(lambda: write_json(summary, path))
        self._html(summary, files)
        self._csv(summary, files)
        self._junit(summary, verdict, files)
        self._markdown(summary, verdict, files)
        if wrote_json:
            click.echo(f"Report: {'standard output' if path == STDOUT_DASH else path}")

    def _html(self, summary: Summary, files: ReportFiles) -> None:
        html = files.html
        if html:
            from ..report.html import render_html  # optional outputs load on demand: start-up

            if self.attempt(lambda: write_text(html, render_html(summary), what="the HTML report")):
                click.echo(f"HTML report: {html}")

    def _csv(self, summary: Summary, files: ReportFiles) -> None:
        prefix = files.csv
        if prefix:
            from ..report.csvfiles import csv_writers

            written: list[Path] = []
            for write in csv_writers(summary, prefix):  # each on its own, as every output
                if self.attempt(functools.partial(_append, written, write)):
                    click.echo(f"CSV: {written[-1]}")

    def _junit(self, summary: Summary, verdict: Verdict, files: ReportFiles) -> None:
        junit = files.junit
        if junit:
            from ..report.junit import junit_xml

            xml = junit_xml(summary, list(verdict.outcomes), list(verdict.invalid))
            if self.attempt(lambda: write_text(junit, xml, what="the JUnit file")):
                click.echo(f"JUnit: {junit}")

    def _markdown(self, summary: Summary, verdict: Verdict, files: ReportFiles) -> None:
        markdown = markdown_summary(summary, list(verdict.outcomes), list(verdict.invalid))
        summary_md, step_summary = files.summary_md, files.step_summary
        if summary_md and self.attempt(
            lambda: write_text(summary_md, markdown, what="the Markdown summary")
        ):
            click.echo(f"Markdown summary: {summary_md}")
        if step_summary:
            self.attempt(
                lambda: write_text(
                    step_summary, markdown, append=True, what="the GITHUB_STEP_SUMMARY file"
                )
            )


def show_verdict(verdict: Verdict) -> None:
    """Lag that --allow-lag allowed as warnings, the checks table, and why the run is
    invalid, if it is."""
    for reason in verdict.allowed:
        click.echo(f"warning: {reason} (allowed by --allow-lag)", err=True)
    if verdict.outcomes:
        click.echo("\n" + format_checks(list(verdict.outcomes)))
    for reason in verdict.invalid:
        click.echo(f"invalid run: {reason}", err=True)


def check_run_outputs(
    files: ReportFiles,
    plan: Plan,
    plan_path: str | None,
    options: PlanOptions,
    live: Sequence[Output] = (),
) -> None:
    """Every output path, before any traffic (docs/reliability.md, "Output paths"):
    never an input of the run, never anything but a regular file replaced, a folder
    that takes a file, no two outputs the same. `live`: the files written as the run
    goes (--out jsonl=FILE)."""
    assert files.output is not None, "the report path is named before its check"
    outputs = [Output("-o", files.output)]
    if files.html:
        outputs.append(Output("--html", files.html))
    if files.csv:
        from ..report.csvfiles import csv_paths

        outputs += [Output("--csv", str(path)) for path in csv_paths(files.csv)]
    if files.junit:
        outputs.append(Output("--junit", files.junit))
    if files.summary_md:
        outputs.append(Output("--summary-md", files.summary_md))
    if files.step_summary:
        outputs.append(Output("GITHUB_STEP_SUMMARY", files.step_summary, append=True))
    check_outputs([*outputs, *live], _inputs(plan, plan_path, options))


def _inputs(plan: Plan, plan_path: str | None, options: PlanOptions) -> list[Input]:
    inputs = [Input(plan_path, "the plan")] if plan_path else []
    if options.config_file:
        inputs.append(Input(options.config_file, "the --config file"))
    if options.dotenv:
        inputs.append(Input(options.dotenv, "the --dotenv file"))
    if options.payload:
        inputs.append(Input(options.payload, "a payload file"))
    inputs += [Input(payload.path, "a payload file") for payload in plan.payloads]
    if plan.processor:
        inputs.append(Input(plan.processor, "the processor"))
    return inputs


def default_report_path(source: str) -> str:
    """`yamlload-report-<plan>-<local time>.json`, in the current folder."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem) or "plan"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"yamlload-report-{stem}-{stamp}.json"


def _append(into: list[Path], write: Callable[[], Path]) -> None:
    into.append(write())
