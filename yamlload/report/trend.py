"""The runs `yamlload trend` reads, and the table and CSV that show them. Every number is
`checks.measure`'s, the one definition `--ensure` and `compare` read, so a row and a
check on the same run never disagree.

A report's grade is the Summary's (`results/grading.py` reads it, and refuses one of the
wrong shape); its revision (`run.revision`), which the Summary does not keep, is read
here from the report's JSON, defensively: a report is untrusted input."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from tabulate import tabulate

from ..checks.grades import DEFAULT_TABLE
from ..checks.measure import measure
from ..checks.outcome import describe_limit, describe_value
from ..checks.parse import ERROR_RATE, REQUEST_RATE, SHORTHANDS, Check
from ..checks.trend import TrendOutcome, invalid_reasons
from ..errors import UsageError
from ..results.grading import GRADES, HIGHER, Bands
from ..results.summary import Summary
from ..text import one_line
from ..units import NO_VALUE, format_millis
from .outputs import write_with

P95 = SHORTHANDS["p95"]
# Each number of a row: (its column, the metric `measure` reads).
METRICS = (
    ("p50", SHORTHANDS["p50"]),
    ("p95", P95),
    ("p99", SHORTHANDS["p99"]),
    ("rps", REQUEST_RATE),
    ("error_rate", ERROR_RATE),
)
CSV_COLUMNS = (
    "date",
    "plan",
    "revision",
    "grade",
    *(name for name, _ in METRICS),
    "verdict",
    "report",
)
TABLE_HEADERS = (
    "started (UTC)",
    "plan",
    "revision",
    "grade",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "rps",
    "error rate",
    "verdict",
)
CHECK_HEADERS = ("check", "baseline", "newest", "change", "limit", "result")
# How a revision shows: a hex commit hash as git's short form; any other name cut here.
SHORT_HASH_CHARS, MAX_REVISION_CHARS = 7, 16
_HEX_HASH = re.compile(r"[0-9a-f]{8,64}")
# How a spreadsheet tells a formula (OWASP's list for CSV injection). Some spreadsheets
# skip leading blanks first, so a cell starting with any whitespace is neutralised too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# How a run's start shows: to the second, in UTC whatever zone its report wrote.
LABEL_TIME = "%Y-%m-%d %H:%M:%SZ"


def grade_ranges(bands: Bands) -> list[tuple[str, float, float]]:
    """Each grade's range of values, (grade, low, high), A first."""
    edges = [-math.inf, *bands.limits, math.inf]
    if bands.better == HIGHER:
        edges = [math.inf, *bands.limits, -math.inf]
    ranges = [(edges[i], edges[i + 1]) for i in range(len(GRADES))]
    return [(g, min(a, b), max(a, b)) for g, (a, b) in zip(GRADES, ranges, strict=True)]


# The bands of the grades when the newest report has no grade table: the default table
# of checks/grades.py (a rate as a fraction, as measure() gives it).
DEFAULT_GRADE_TABLE = {bands.key: bands for bands in DEFAULT_TABLE}


@dataclass(frozen=True)
class TrendRun:
    """One report as `trend` reads it."""

    path: str
    summary: Summary
    started: datetime
    revision: str | None

    @property
    def grade(self) -> str | None:
        graded = self.summary.grade
        return graded.overall if graded is not None else None

    @property
    def grade_table(self) -> dict[str, Bands] | None:
        """The report's own grade table, by full metric name (None: no grades)."""
        graded = self.summary.grade
        if graded is None:
            return None
        return {SHORTHANDS.get(bands.key, bands.key): bands for bands in graded.table}

    @property
    def plan(self) -> str:
        return plan_name(self.summary.source)

    def value(self, metric: str) -> float | None:
        return measure(self.summary, metric)

    @property
    def verdict(self) -> str | None:
        """invalid, failed or passed, as the run's own checks said; None without checks."""
        judged = self.summary.verdict
        if invalid_reasons(self.summary) is not None:
            return "invalid"
        results = [check.get("result") for check in judged.get("checks", [])]
        if not results:
            return None
        return "failed" if "fail" in results else "passed"

    @property
    def label(self) -> tuple[str, str]:
        """Its start (UTC, to the second) and revision, as an axis and the table show
        them: two runs of one minute apart, or a runner in another zone, stay apart."""
        started = self.started.astimezone(timezone.utc).strftime(LABEL_TIME)
        return started, short_revision(self.revision)


def plan_name(source: str) -> str:
    """What makes two runs the same plan: the plan file's name. Its folder is where CI
    checked the code out, which changes from one runner to the next, and its content
    changes as the plan is tuned; the name is what a team keeps."""
    return PurePosixPath(source.replace("\\", "/")).name or source


def read_run(path: str, data: Mapping[str, Any]) -> TrendRun:
    """A run from a report's JSON (already checked against the report schema)."""
    summary = Summary.from_json(data, path)
    revision = data.get("run", {}).get("revision")
    return TrendRun(
        path=path,
        summary=summary,
        started=_started(path, summary.started_at),
        revision=revision if isinstance(revision, str) and revision else None,
    )


def _started(path: str, text: str) -> datetime:
    try:  # Python 3.10 reads no "Z"
        started = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text))
    except ValueError:
        raise UsageError(f"{path}: run.startedAt is not a date and time: {text!r}") from None
    # a time without a zone is the UTC yamlload writes; it must compare with zoned ones
    return started if started.tzinfo else started.replace(tzinfo=timezone.utc)


def grade_bands(newest: TrendRun) -> dict[str, Bands]:
    """The bands the charts shade: the newest report's table, else the defaults."""
    if newest.grade_table is not None:
        return newest.grade_table
    return DEFAULT_GRADE_TABLE


def short_revision(revision: str | None) -> str:
    if revision is None:
        return NO_VALUE
    if _HEX_HASH.fullmatch(revision):
        return revision[:SHORT_HASH_CHARS]
    text = one_line(revision)
    return text if len(text) <= MAX_REVISION_CHARS else text[: MAX_REVISION_CHARS - 1] + "…"


# --------------------------------------------------------------------------- outputs


def format_trend(runs: Sequence[TrendRun]) -> str:
    """The runs as the console shows them, oldest first."""
    rows = [row_cells(run) for run in runs]
    return tabulate(rows, headers=TABLE_HEADERS, tablefmt="simple", disable_numparse=True)


def row_cells(run: TrendRun) -> list[str]:
    """A run's cells under TABLE_HEADERS, on one line each (the HTML escapes them)."""
    date, revision = run.label
    cells = [date, one_line(run.plan), revision, one_line(run.grade or NO_VALUE)]
    for name, metric in METRICS:
        cells.append(metric_text(name, run.value(metric)))
    return [*cells, run.verdict or NO_VALUE]


def trend_markdown(
    runs: Sequence[TrendRun], judged: Sequence[TrendOutcome], heading: str | None
) -> str:
    """The runs and the checks as GitHub's job summary shows them."""
    plans = ", ".join(sorted({run.plan for run in runs}))
    parts = [
        f"## yamlload trend: {_md(plans)} ({len(runs)} run{'s' if len(runs) > 1 else ''})",
        _md_table(TABLE_HEADERS, [row_cells(run) for run in runs]),
    ]
    if judged:
        parts += [_md(heading or ""), _md_table(CHECK_HEADERS, check_rows(judged))]
    return "\n\n".join(parts) + "\n"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return tabulate(
        [[_md(cell) for cell in row] for row in rows],
        headers=list(headers),
        tablefmt="github",
        disable_numparse=True,
    )


def _md(text: str) -> str:
    """A report's text made inert in Markdown: a `|` would end its cell, and HTML in a
    job summary is rendered."""
    return (
        one_line(text)
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def format_trend_checks(judged: Sequence[TrendOutcome]) -> str:
    """Each limit on the change as `compare`'s table says it, with the baseline (a
    median) and the newest value it was judged from."""
    rows = check_rows(judged)
    return tabulate(rows, headers=CHECK_HEADERS, tablefmt="simple", disable_numparse=True)


def check_rows(judged: Sequence[TrendOutcome]) -> list[list[str]]:
    """Cells under CHECK_HEADERS: the check, the baseline, the newest value, the change,
    the limit, and ok or fail."""
    return [
        [
            one_line(j.outcome.check.source),
            describe_value(_absolute(j.outcome.check), j.baseline),
            _newest(j),
            describe_value(j.outcome.check, j.outcome.value),
            describe_limit(j.outcome.check),
            j.outcome.verdict,
        ]
        for j in judged
    ]


def _newest(judged: TrendOutcome) -> str:
    """The newest value; when it has none, why, if the run says (an interrupted search)."""
    if judged.newest is None and judged.newest_note:
        return judged.newest_note
    return describe_value(_absolute(judged.outcome.check), judged.newest)


def baseline_words(newest: TrendRun, count: int, plan: str | None = None) -> str:
    """What the newest run is judged against: `Newest run 2026-01-06 10:00:00Z (abc1234)
    against the median of the 5 runs before it`; `plan` names the plan those runs are of
    (with --mixed, only the newest run's plan is its baseline); an invalid run says why
    each limit fails."""
    date, revision = newest.label
    of = "the 1 run" if count == 1 else f"the {count} runs"
    of += f" of {one_line(plan)}" if plan else ""
    words = f"Newest run {date} ({revision}) against the median of {of} before it"
    if count == 0:  # only an invalid run is judged with nothing before it
        words = f"Newest run {date} ({revision}), with no earlier valid run to compare"
    reasons = invalid_reasons(newest.summary)
    if reasons is not None:
        why = one_line("; ".join(reasons)) or "its report says so"
        words += f"; it is an invalid run ({why}): each limit fails"
    return words


def _absolute(check: Check) -> Check:
    """The check's metric as an absolute value is shown (`640.2 ms`, `0.02%`)."""
    return Check(check.source, check.metric, scope=check.scope)


def metric_text(name: str, value: float | None) -> str:
    """A row's number as the table shows it (ms, requests/s, %)."""
    if value is None:
        return NO_VALUE
    if name == "rps":
        return f"{value:,.1f}/s"
    if name == "error_rate":
        return f"{value * 100:.2f}%"
    return format_millis(value, 1)


def write_trend_csv(runs: Sequence[TrendRun], path: str) -> Path:
    """A row per run, oldest first, numbers as measured (error_rate a fraction); an
    empty cell where a run has no value. OutputError (exit 4) when it cannot be written."""
    return write_with(path, lambda out: _write_rows(runs, out), "the trend CSV")


def _write_rows(runs: Sequence[TrendRun], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        values = [run.value(metric) for _, metric in METRICS]
        texts = [run.summary.started_at, run.summary.source, run.revision, run.grade]
        writer.writerow(
            [
                *(_inert(text or "") for text in texts),
                *("" if v is None else v for v in values),
                run.verdict or "",
                _inert(run.path),
            ]
        )


def _inert(text: str) -> str:
    """Text from a report as a spreadsheet takes it as text, never a formula: a cell
    that starts as one (`=HYPERLINK(...)` as a revision, or ` =1+1`: blanks first) gets
    a leading apostrophe."""
    risky = text.startswith(FORMULA_STARTS) or text[:1].isspace()
    return f"'{text}" if risky else text
