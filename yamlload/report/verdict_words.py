"""The verdict in words, the same in the Markdown summary and the HTML page: `--ensure`
and `config.ensure` checks are thresholds; the check every plan with `expect` gets
(`plugins.expect.failed == 0`) is spoken of as expectations, so a plan with only
`expect` never reads "1 of 1 threshold"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..checks.parse import EXPECT_CHECK
from ..units import counted


@dataclass(frozen=True)
class Judged:
    """One check as a report holds it: its source text, `ok`/`fail`/`warn`, and what
    was measured (for the expect check, the number of failed expectations)."""

    source: str
    result: str
    value: float | None


def failure_words(judged: Sequence[Judged]) -> str | None:
    """`1 of 2 thresholds failed; 3 expectations failed`, or None when none failed."""
    thresholds = [j for j in judged if j.source != EXPECT_CHECK]
    failed = [j for j in thresholds if j.result == "fail"]
    expect = _expect(judged)
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {counted(len(thresholds), 'threshold')} failed")
    if expect is not None and expect.result == "fail":
        parts.append(f"{counted(int(expect.value or 0), 'expectation')} failed")
    return "; ".join(parts) or None


def passed_words(judged: Sequence[Judged]) -> str:
    """What passed: `1 threshold`, `2 thresholds and every expectation`,
    `every expectation`."""
    thresholds = [j for j in judged if j.source != EXPECT_CHECK]
    parts = [counted(len(thresholds), "threshold")] if thresholds else []
    if _expect(judged) is not None:
        parts.append("every expectation")
    return " and ".join(parts)


def expectations_words(judged: Sequence[Judged]) -> str | None:
    """The expect check's verdict, shown with the expect results rather than among the
    thresholds: `ok (none failed)`, `fail (10 failed)`; None for a plan without expect."""
    expect = _expect(judged)
    if expect is None:
        return None
    failed = int(expect.value or 0)
    how_many = f"{counted(failed, 'expectation')} failed" if failed else "none failed"
    return f"{expect.result} ({how_many})"


def is_threshold(source: str) -> bool:
    """Whether a check is a threshold (`--ensure`, `config.ensure`) rather than the
    check every plan with `expect` gets."""
    return source != EXPECT_CHECK


def _expect(judged: Sequence[Judged]) -> Judged | None:
    return next((j for j in judged if j.source == EXPECT_CHECK), None)
