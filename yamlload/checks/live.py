"""Checks judged while a run goes, on the run so far: the live series' running total as
a Summary (as the dashboard builds it), evaluated like the final report. `AbortJudge`
says when a failing check should stop the run (`--abort-on-fail`, `abortOnFail`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..metrics.histogram import Metrics
from ..metrics.live import LiveSeries
from ..metrics.periods import Period
from ..results.run import PhaseRun, Progress
from ..results.summary import Summary
from .evaluate import evaluate
from .outcome import Outcome, describe_value
from .parse import Check

# `--abort-delay`'s default: the run goes this long before a check may stop it, so that
# the first few (cold) requests do not decide a run's fate. k6's delayAbortEval.
DEFAULT_ABORT_DELAY_SECONDS = 10.0
# How run.stoppedBy begins when a failing check stopped the run.
ABORT_PREFIX = "abort: "
# A summary's width is never taken below this, so a rate over a sliver stays finite.
MIN_WIDTH = 0.05


def summary_so_far(
    total: Metrics,
    elapsed: float,
    source: str = "",
    target: str = "",
    phases: Sequence[PhaseRun] = (),
) -> Summary:
    """The run so far as a Summary of one period: its running total (what the live page
    and the checks judged while the run goes read)."""
    return Summary(
        source=source,
        target=target,
        started_at="",
        duration=max(elapsed, MIN_WIDTH),
        periods=[Period(0, total)],
        phases=list(phases),
        aggregate=total,
    )


def is_failing(outcome: Outcome) -> bool:
    """Whether a check fails now; one with nothing to measure yet does not."""
    return not outcome.ok and (outcome.check.condition is not None or outcome.value is not None)


def failing(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if is_failing(o)]


def abort_reason(outcome: Outcome) -> str:
    """`abort: p95<500 failed (612.0 ms)`: what the report's run.stoppedBy says."""
    measured = describe_value(outcome.check, outcome.value)
    return f"{ABORT_PREFIX}{outcome.check.source} failed ({measured})"


class AbortJudge:
    """Once a second after `delay` seconds of load, the abort checks on the run so far:
    the first failing one is why the run stops (masked by `mask`); None while all hold.
    Built only when there are abort checks."""

    def __init__(self, checks: Sequence[Check], delay: float, mask: Callable[[str], str]) -> None:
        self.checks = list(checks)
        self.delay = delay
        self.mask = mask

    def __call__(self, live: LiveSeries, progress: Progress) -> str | None:
        if progress.elapsed < self.delay:
            return None
        outcomes = evaluate(self.checks, summary_so_far(live.total, progress.elapsed))
        failed = failing(outcomes)
        return self.mask(abort_reason(failed[0])) if failed else None
