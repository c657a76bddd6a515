"""A run's grades as the JSON report holds them (issue 18): the table that graded it,
each graded metric's value and letter, the overall letter and the readiness verdict.

Plain values only: `checks/grades.py` works them out from a Summary, every reporter
reads them, and `yamlload report`, `compare` and `trend` read them back from a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Best first: Excellent, Good, Acceptable, Poor, and worse than Poor.
GRADES = ("A", "B", "C", "D", "F")
LOWER = "lower"
HIGHER = "higher"
DIRECTIONS = (LOWER, HIGHER)
READY = "ready"
NEEDS_OPTIMIZATION = "needs optimization"
NOT_READY = "not ready"
VERDICTS = (READY, NEEDS_OPTIMIZATION, NOT_READY)
# A per-endpoint row's key: "GET /products: http.response_time.p95" (the ensure grammar's
# form; the last ':' ends the endpoint, metric names hold none).
SCOPE_SEPARATOR = ": "


def score(grade: str) -> int:
    """A letter as a number, higher better (A 4 … F 0), so `grade>=B` is `score >= 3`."""
    return len(GRADES) - 1 - GRADES.index(grade)


def letter(points: float) -> str:
    """The letter of a score (see `score`)."""
    return GRADES[len(GRADES) - 1 - int(points)]


@dataclass(frozen=True)
class Bands:
    """One row of the grade table: the limits of A, B, C and D for a metric (or an
    endpoint's), in the metric's own unit (ms, a fraction for rates), and which way
    is better."""

    metric: str
    limits: tuple[float, ...]
    better: str = LOWER
    scope: str | None = None

    @property
    def key(self) -> str:
        return f"{self.scope}{SCOPE_SEPARATOR}{self.metric}" if self.scope else self.metric

    @classmethod
    def from_key(cls, key: str, limits: tuple[float, ...], better: str) -> Bands:
        scope, sep, metric = key.rpartition(":")
        if sep and scope.strip():
            return cls(metric.strip(), limits, better, scope.strip())
        return cls(key, limits, better)


@dataclass(frozen=True)
class MetricGrade:
    """A graded metric: its value (None: nothing was measured, which grades F)."""

    key: str
    value: float | None
    grade: str


@dataclass(frozen=True)
class Grading:
    overall: str
    verdict: str
    rule: str
    by_metric: tuple[MetricGrade, ...]
    table: tuple[Bands, ...]

    def to_json(self) -> dict[str, Any]:
        """The report's `grade` (docs/report-format.md)."""
        return {
            "overall": self.overall,
            "readiness": {"verdict": self.verdict, "rule": self.rule},
            "by_metric": {m.key: {"value": m.value, "grade": m.grade} for m in self.by_metric},
            "table": {b.key: {"bands": list(b.limits), "better": b.better} for b in self.table},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Grading:
        """Raises KeyError, TypeError or ValueError for a `grade` not of this shape."""
        readiness = data["readiness"]
        grading = cls(
            overall=_grade(data["overall"]),
            verdict=_one_of(readiness["verdict"], VERDICTS),
            rule=str(readiness["rule"]),
            by_metric=tuple(
                MetricGrade(str(key), _number(entry["value"]), _grade(entry["grade"]))
                for key, entry in data["by_metric"].items()
            ),
            table=tuple(
                Bands.from_key(
                    str(key),
                    tuple(float(limit) for limit in entry["bands"]),
                    _one_of(entry["better"], DIRECTIONS),
                )
                for key, entry in data["table"].items()
            ),
        )
        return grading


def _grade(value: Any) -> str:
    return _one_of(value, GRADES)


def _one_of(value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a graded value is a number or null, not {value!r}")
    return float(value)
