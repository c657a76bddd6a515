"""`yamlload trend --html`: a self-contained page in the HTML report's look, drawn with
its chart code: a chart per metric over the runs (x: each run's date and revision), the
grade bands shaded behind, then the runs' table and the regression checks.

Plan names and revisions come from reports, which are untrusted: everything is escaped,
and the page runs no script at all, which its Content-Security-Policy holds it to."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..checks.parse import ERROR_RATE, REQUEST_RATE, SHORTHANDS
from ..checks.trend import TrendOutcome
from ..results.grading import Bands
from ..units import format_count
from .html import MAX_DOTS, Band, Series, Tick, esc, line_chart, page
from .trend import (
    CHECK_HEADERS,
    TABLE_HEADERS,
    TrendRun,
    check_rows,
    grade_bands,
    grade_ranges,
    row_cells,
)

# Each chart: (title, the metric, its unit, what a value is multiplied by to be drawn).
CHARTS = (
    ("p50 latency", SHORTHANDS["p50"], "ms", 1.0),
    ("p95 latency", SHORTHANDS["p95"], "ms", 1.0),
    ("p99 latency", SHORTHANDS["p99"], "ms", 1.0),
    ("request rate", REQUEST_RATE, "req/s", 1.0),
    ("error rate", ERROR_RATE, "%", 100.0),  # a fraction, drawn (and graded) in %
)
# No script, nothing fetched: styles inline, the bar patterns' data in the page.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
.band { stroke: none; } .band-name { font-size: 11px; font-weight: 700; fill: var(--muted); }
.band-a { fill: #2da44e; fill-opacity: .12; } .band-b { fill: #2da44e; fill-opacity: .05; }
.band-c { fill: #bf8700; fill-opacity: .10; } .band-d { fill: #d1242f; fill-opacity: .08; }
.band-f { fill: #d1242f; fill-opacity: .18; }
td.failed, td.invalid { color: var(--c1); font-weight: 650; }
"""


def render_trend_html(
    runs: Sequence[TrendRun], judged: Sequence[TrendOutcome], heading: str | None = None
) -> str:
    """The page for `runs` (oldest first) and the regression checks on the newest:
    `heading` says what they were judged against, or why they were not (no checks)."""
    ticks = [Tick(i + 0.5, run.label) for i, run in enumerate(runs)]
    bands = grade_bands(runs[-1])
    charts = [
        line_chart(
            f"{title} ({metric})",
            [
                Series(
                    title,
                    [
                        (t.x, _scaled(run.value(metric), scale))
                        for t, run in zip(ticks, runs, strict=True)
                    ],
                )
            ],
            len(runs),
            [],
            unit,
            dots=len(runs) <= MAX_DOTS,
            ticks=ticks,
            bands=_bands(bands.get(metric), unit, scale),
        )
        for title, metric, unit, scale in CHARTS
    ]
    plans = ", ".join(sorted({run.plan for run in runs}))
    body = f"""
<header><h1>yamlload trend</h1>
<p class="meta"><strong>{esc(plans)}</strong> · {esc(_runs_text(runs))}</p></header>
{_checks(judged, heading)}
<section><h2>Over the runs</h2>
<p class="hint">Shaded: the grade bands{esc(_bands_source(runs[-1]))}.</p>
{"".join(charts)}</section>
<section><h2>Runs</h2>{_runs_table(runs)}</section>
"""
    return page(f"yamlload trend: {plans}", body, script="", policy=POLICY, css=_CSS)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def _runs_text(runs: Sequence[TrendRun]) -> str:
    first, last = runs[0].label[0], runs[-1].label[0]
    return f"{len(runs)} runs, {first} to {last}" if len(runs) > 1 else f"1 run, {first}"


def _bands_source(newest: TrendRun) -> str:
    if newest.grade_table is not None:
        return " of the newest report's grade table"
    return " of the default grade table (p95 and error rate)"


def _bands(graded: Bands | None, unit: str, scale: float) -> list[Band]:
    """The grade bands in the unit the chart draws (a rate's fractions as %)."""
    if graded is None:
        return []
    return [
        Band(g, low * scale, high * scale, f"grade {g}: {_range(low * scale, high * scale, unit)}")
        for g, low, high in grade_ranges(graded)
    ]


def _range(low: float, high: float, unit: str) -> str:
    def number(value: float) -> str:
        return f"{format_count(value)} {unit}".replace(" %", "%")

    if math.isinf(low):
        return f"below {number(high)}"
    if math.isinf(high):
        return f"{number(low)} or more"
    return f"{number(low)} to {number(high)}"


def _runs_table(runs: Sequence[TrendRun]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in TABLE_HEADERS)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{esc(cell)}</td>" for cell in cells[:-1])
        + f'<td class="{esc(cells[-1])}">{esc(cells[-1])}</td></tr>'
        for cells in (row_cells(run) for run in runs)
    )
    table = f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    return f'<div class="scroll">{table}</div>'


def _checks(judged: Sequence[TrendOutcome], heading: str | None) -> str:
    """The regression checks' verdict and table, under what they were judged against
    (or why they were not judged, when `judged` is empty)."""
    if heading is None:
        return ""
    if not judged:
        return f'<p class="verdict none">{esc(heading)}</p>'
    failed = [j for j in judged if not j.outcome.ok]
    verdict = (
        f'<p class="verdict fail">Regression: {len(failed)} of {len(judged)} checks failed</p>'
        if failed
        else f'<p class="verdict pass">No regression: {len(judged)} checks passed</p>'
    )
    head = "".join(f"<th>{esc(h)}</th>" for h in CHECK_HEADERS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in cells) + "</tr>"
        for cells in check_rows(judged)
    )
    table = f'<table id="checks"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    hint = f'<p class="hint">{esc(heading)}</p>'
    return f"<section><h2>Regression checks</h2>{verdict}{hint}{table}</section>"
