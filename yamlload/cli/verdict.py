"""The CI verdict, pure: checks and the run's validity judged into one value, and the
exit code it means. Nothing here prints or writes (see `outputs`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..checks.evaluate import evaluate
from ..checks.live import ABORT_PREFIX
from ..checks.outcome import Outcome, describe_limit, describe_outcome, failed
from ..checks.parse import Check
from ..checks.validity import DEFAULT_MAX_LAG_MS, LAG_REASON, invalid_reasons
from ..errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_RUN,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_SIGNAL,
)
from ..results.summary import Summary


@dataclass(frozen=True)
class Verdict:
    """Each check's outcome; why the run is invalid, if it is; and the lag reasons that
    --allow-lag turned into warnings."""

    outcomes: tuple[Outcome, ...] = ()
    invalid: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The report's `checks` and `validity` (docs/report-format.md)."""
        return {
            "checks": [
                {
                    "check": o.check.source,
                    "value": o.value,
                    "measured": describe_outcome(o),
                    "limit": describe_limit(o.check),
                    "result": o.verdict,
                }
                for o in self.outcomes
            ],
            **self.validity_json(),
        }

    def validity_json(self) -> dict[str, Any]:
        return {"validity": {"valid": not self.invalid, "reasons": list(self.invalid)}}


def judge(
    checks: Iterable[Check],
    summary: Summary,
    lost: Iterable[str] = (),
    max_lag_ms: float = DEFAULT_MAX_LAG_MS,
    allow_lag: bool = False,
) -> Verdict:
    """The checks evaluated on `summary`; the run invalid for each lost worker and each
    reason `invalid_reasons` finds, lag aside when it is allowed."""
    reasons = [*lost, *invalid_reasons(summary, max_lag_ms)]
    allowed = [r for r in reasons if r.startswith(LAG_REASON)] if allow_lag else []
    return Verdict(
        outcomes=tuple(evaluate(checks, summary)),
        invalid=tuple(r for r in reasons if r not in allowed),
        allowed=tuple(allowed),
    )


def exit_code(verdict: Verdict, stopped_by: str | None, output_failed: bool) -> int:
    """When several apply: a stopping signal, then a missing output, then an invalid run,
    then a failed check, or a run a failing check stopped early (`yamlload run --help`;
    a bug, 70, is raised before this)."""
    if stopped_by is not None and stopped_by in EXIT_SIGNAL:
        return EXIT_SIGNAL[stopped_by]
    if output_failed:  # CI must not trust a run whose report is missing
        return EXIT_OUTPUT_FAILED
    if verdict.invalid:
        return EXIT_INVALID_RUN
    # A run a failing check stopped failed it, even if the last seconds brought it back.
    aborted = stopped_by is not None and stopped_by.startswith(ABORT_PREFIX)
    return EXIT_CHECK_FAILED if failed(verdict.outcomes) or aborted else EXIT_OK
