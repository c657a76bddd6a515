"""The HTML report's capacity section (issue 22): the answer, then p95 and the error
rate against the offered rate (users/s), each SLO on that metric drawn as a line and
the knee (the maximum sustainable rate) marked, drawn with html.py's charts; then the
curve. A point's hover says its rate, never a time: the x axis is no clock; and its value
as the curve's table does (p95 102.7, not 103, beside a p95<100 line)."""

from __future__ import annotations

from collections.abc import Callable

from ..checks.parse import ERROR_RATE, Check, parse_ensure
from ..errors import PlanError
from ..metrics.names import RESPONSE_TIME
from ..results.capacity import Capacity, CapacityStep
from .capacity import CURVE_HEADERS, USERS_PER_SECOND, answer_lines, curve_rows, users
from .html import Series, Tick, esc, line_chart

# The x axis reaches this far past the highest rate, so its point is not on the edge.
X_MARGIN = 1.1
P95 = f"{RESPONSE_TIME}.p95"


def capacity_section(found: Capacity) -> str:
    """The section, or "" for a report without a capacity search."""
    lines = [*answer_lines(found), *(f"Warning: {w}" for w in found.warnings)]
    answer = "".join(f"<li>{esc(line)}</li>" for line in lines)
    charts = _charts(found) if found.steps else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in CURVE_HEADERS)
    body = "".join(
        f'<tr class="{esc(row[1])}">' + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
        for row in curve_rows(found)
    )
    table = (
        f'<table id="capacity-curve"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    return (
        f'<section aria-label="capacity"><h2>Capacity</h2><ul class="capacity">{answer}</ul>'
        f"{charts}{table}</section>"
    )


def _charts(found: Capacity) -> str:
    steps = sorted(found.steps, key=lambda s: s.rate)
    x_max = steps[-1].rate * X_MARGIN
    ticks = [Tick(s.rate, (f"{s.rate:g}",)) for s in steps]
    slos = _parsed(found.slos)
    latency = _chart(
        f"p95 against offered rate ({USERS_PER_SECOND})",
        [("p95 (ms)", lambda s: s.p95), ("p99 (ms)", lambda s: s.p99)],
        steps,
        [(c, c.limit) for c in slos if c.scope is None and c.metric == P95],
        found,
        "ms",
        x_max,
        ticks,
        lambda v: f"{v:,.1f}",  # the table's ms
    )
    errors = _chart(
        f"Error rate against offered rate ({USERS_PER_SECOND})",
        [("error rate (%)", lambda s: None if s.error_rate is None else s.error_rate * 100)],
        steps,
        [(c, c.limit * 100) for c in slos if c.scope is None and c.metric == ERROR_RATE],
        found,
        "%",
        x_max,
        ticks,
        lambda v: f"{v:.2f}",  # the table's errors
    )
    others = [c.source for c in slos if c.scope is not None or c.metric not in (P95, ERROR_RATE)]
    note = (
        f'<p class="hint">Not drawn: {esc(", ".join(others))} (see the table).</p>'
        if others
        else ""
    )
    return latency + errors + note


def _chart(
    title: str,
    lines: list[tuple[str, Callable[[CapacityStep], float | None]]],
    steps: list[CapacityStep],
    limits: list[tuple[Check, float]],
    found: Capacity,
    unit: str,
    x_max: float,
    ticks: list[Tick],
    value_text: Callable[[float], str],
) -> str:
    series = [Series(label, [(s.rate, value(s)) for s in steps]) for label, value in lines]
    series += [
        Series(f"SLO {c.source}", [(0.0, limit), (x_max, limit)], dots=False) for c, limit in limits
    ]
    top = max([v for s in series for _, v in s.points if v is not None] or [1.0])
    if found.max_rate is not None:  # the knee: a line straight up at the sustainable rate
        bound = "at least " if found.max_rate_is_lower_bound else ""
        knee = f"knee: {bound}{users(found.max_rate)} sustained"
        series.append(Series(knee, [(found.max_rate, 0.0), (found.max_rate, top)], dots=False))
    return line_chart(
        title, series, x_max, [], unit, ticks=ticks, x_label=users, y_label=value_text
    )


def _parsed(slos: tuple[str, ...]) -> list[Check]:
    """The SLOs as checks again; one a report holds that this version cannot read is
    left out of the charts (the table still shows it)."""
    parsed = []
    for text in slos:
        try:
            parsed.append(parse_ensure(text))
        except PlanError:
            continue
    return parsed
