"""A run's grades in words, the same on the console, in Markdown, HTML and JUnit
(issue 18): `Grade B: p95 640.2 ms (B), error rate 0.02% (A)`, the readiness line, and
each row's value and bands as the checks tables write values and limits."""

from __future__ import annotations

from collections.abc import Sequence

from ..checks.grades import label
from ..checks.measure import holds
from ..checks.outcome import describe_limit, describe_value
from ..checks.parse import Check, is_grade
from ..results.grading import GRADES, LOWER, Bands, Grading, MetricGrade, score


def value_text(grading: Grading, graded: MetricGrade) -> str:
    """A graded value in its unit ("640.2 ms", "0.02%"); "no data" when none."""
    return describe_value(Check(graded.key, _metric_of(grading, graded.key)), graded.value)


def band_texts(bands: Bands) -> list[str]:
    """What each of A, B, C and D needs: "< 500 ms", "< 0.1%", "> 200"."""
    op = "<" if bands.better == LOWER else ">"
    return [describe_limit(Check(bands.key, bands.metric, op, limit)) for limit in bands.limits]


def grade_line(grading: Grading) -> str:
    """`Grade B: p95 640.2 ms (B), error rate 0.02% (A)`."""
    parts = [f"{label(m.key)} {value_text(grading, m)} ({m.grade})" for m in grading.by_metric]
    return f"Grade {grading.overall}: " + ", ".join(parts)


def readiness_line(grading: Grading) -> str:
    """`Readiness: ready (every graded metric is B or better and error rate 0.02% < 1%)`."""
    return f"Readiness: {grading.verdict} ({grading.rule})"


def rows(grading: Grading) -> list[tuple[MetricGrade, list[str]]]:
    """Each graded metric with the texts of its bands, in the table's order."""
    bands = {b.key: b for b in grading.table}
    return [
        (m, band_texts(bands[m.key]) if m.key in bands else [""] * (len(GRADES) - 1))
        for m in grading.by_metric
    ]


def gate_holds(graded: MetricGrade, gates: Sequence[Check]) -> bool:
    """Whether one metric's grade meets every `grade>=B` gate (JUnit fails the metrics
    that pull the run below it)."""
    return all(holds(float(score(graded.grade)), g.op, g.limit) for g in gates if is_grade(g))


def _metric_of(grading: Grading, key: str) -> str:
    found = next((b for b in grading.table if b.key == key), None)
    return found.metric if found is not None else key
