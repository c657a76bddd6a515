"""What `yamlload capacity` found (issue 22): each step it measured, the highest rate
that met every SLO, where it broke and by which SLO, and how long the target took to
recover. The report's `capacity` section; the search that chose the rates is
checks/capacity.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

StepVerdict = Literal["good", "bad", "invalid"]
VERDICTS: tuple[StepVerdict, ...] = ("good", "bad", "invalid")

# How `Capacity.ended` starts when a signal stopped the search (cli/capacity.py).
INTERRUPTED = "stopped by "

# The curve's consistency: a step's p95 under this share of a lower rate's, and lower by
# at least this many ms, means the target changed while the search ran (a warm-up, a
# leak, other load): more load does not make a fixed target faster. The gap ignores a
# fast target whose p95 halves from 8 to 3 ms: noise, not a changed target.
CURVE_P95_RATIO = 0.5
CURVE_P95_MIN_GAP_MS = 50.0
# ... unless the faster step failed this much more of its requests (fractions): a target
# that sheds load answers 503s at once, and its p95 is then the errors' speed.
CURVE_ERROR_RATE_RISE = 0.10
CURVE_ADVICE = (
    "the target changed during the search (a warm-up, a leak, other load); rerun, or look "
    "at drift with a long `yamlload run`"
)
NOT_MONOTONIC = "the curve is not monotonic"


class Judged(Protocol):
    """A step as the search sees it: its rate and verdict (a CapacityStep, or
    checks/capacity.py's Tried)."""

    @property
    def rate(self) -> float: ...
    @property
    def verdict(self) -> StepVerdict: ...


def search_bounds(steps: Iterable[Judged]) -> tuple[float | None, float | None]:
    """The lowest bad rate, and the highest good rate below it. A good rate above a bad
    one (a target that was briefly slow) does not count: the lower bad step did break."""
    steps = list(steps)
    bad = min((s.rate for s in steps if s.verdict == "bad"), default=None)
    good_rates = [s.rate for s in steps if s.verdict == "good" and (bad is None or s.rate < bad)]
    return max(good_rates, default=None), bad


@dataclass(frozen=True)
class SloResult:
    """One SLO judged on one step: as written, the value measured (None: no data), held."""

    slo: str
    value: float | None
    ok: bool
    measured: str = ""  # the value as the checks tables show it: "512.3 ms", "2.10%"


@dataclass(frozen=True)
class CapacityStep:
    """One step of the search: the offered rate, what the step measured after its
    settle period, and its verdict."""

    rate: float  # offered: users (scenario arrivals) a second, as arrivalRate
    verdict: StepVerdict
    seconds: float  # how long its statistics cover (the step less its settle period)
    requests: int
    # answered req/s: HTTP responses (any status) a second, timeouts and refusals not,
    # over the scheduled measured part (settle to the end of arrivals, no drain)
    throughput: float
    p50: float | None
    p95: float | None
    p99: float | None
    error_rate: float | None  # None: no request was sent in the window
    lag_p99: float | None
    slos: tuple[SloResult, ...] = ()
    reason: str | None = None  # why the step is invalid

    def first_broken(self) -> SloResult | None:
        return next((s for s in self.slos if not s.ok), None)


@dataclass
class Capacity:
    """The search's answer, rates in users/s. `max_rate` None: no rate met every SLO;
    `broke_at` None: nothing broke up to the highest rate tried. `broke_by`: the first
    SLO the breaking step broke; `broke_by_rule`: the rule that made it bad when no SLO
    broke (most requests failed, served below the rate)."""

    slos: tuple[str, ...]
    steps: list[CapacityStep] = field(default_factory=list)
    max_rate: float | None = None
    broke_at: float | None = None
    broke_by: SloResult | None = None
    broke_by_rule: str | None = None
    ended: str = ""  # why the search stopped, in words
    elapsed_seconds: float | None = None  # the search's wall clock: cool-downs included
    recovery_seconds: float | None = None
    recovery_limit: float | None = None  # --recovery; None: not measured
    recovery_rate: float | None = None
    recovered: bool | None = None  # None: not measured
    # What the command warned of before the search (cli/capacity.py's search_warnings).
    warnings: list[str] = field(default_factory=list)

    @property
    def max_rate_is_lower_bound(self) -> bool:
        """Whether the capacity is at least `max_rate`, not found: no step above it broke
        (never broke up to --to), or the generator stopped the search (an invalid step)."""
        if self.max_rate is None:
            return False
        return self.broke_at is None or any(s.verdict == "invalid" for s in self.steps)

    @property
    def curve_warning(self) -> str | None:
        """Why the curve cannot be one target's (see `curve_warning`); None: it can."""
        return curve_warning(self.steps)

    def why_no_rate(self) -> str | None:
        """Why `max_rate` is None, when it is not that every rate broke an SLO: the
        search was interrupted, or no step could be judged. None otherwise."""
        if self.ended.startswith(INTERRUPTED):
            good, _ = search_bounds(self.steps)
            before = f"; {good:g} users/s met every SLO before it" if good is not None else ""
            return f"not found (the search was interrupted{before})"
        if any(s.verdict != "invalid" for s in self.steps):
            return None
        reason = next((s.reason for s in self.steps if s.reason), None)
        return f"not found (no step could be judged{f': {reason}' if reason else ''})"

    @property
    def max_request_rate(self) -> float | None:
        """The requests answered a second at `max_rate` (its step's throughput)."""
        sustained = (s for s in self.steps if s.rate == self.max_rate and s.verdict == "good")
        return next((s.throughput for s in sustained), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_rate": self.max_rate,
            "max_rate_is_lower_bound": self.max_rate_is_lower_bound,
            "max_request_rate": self.max_request_rate,
            "broke_at": self.broke_at,
            "broke_by": asdict(self.broke_by) if self.broke_by is not None else None,
            "broke_by_rule": self.broke_by_rule,
            "slos": list(self.slos),
            "ended": self.ended,
            "elapsed_seconds": self.elapsed_seconds,
            "steps": [_step_json(step) for step in self.steps],
            "recovery_seconds": self.recovery_seconds,
            "recovery": {
                "limit": self.recovery_limit,
                "rate": self.recovery_rate,
                "recovered": self.recovered,
            },
            "warnings": list(self.warnings),
            "curve_warning": self.curve_warning,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capacity:
        """The report's section; KeyError, TypeError or ValueError when it is not one
        (the report reader turns those into its message)."""
        slos = tuple(str(s) for s in data.get("slos", []))
        broke_by = _slo_from_json(data["broke_by"]) if data.get("broke_by") else None
        rule = data.get("broke_by_rule")
        if broke_by is not None and broke_by.slo not in slos:
            # a report before broke_by_rule held the rule's words as broke_by's slo
            rule, broke_by = broke_by.slo, None
        recovery = data.get("recovery") or {}
        return cls(
            slos=slos,
            steps=[_step_from_json(step) for step in data["steps"]],
            max_rate=_number(data.get("max_rate")),
            broke_at=_number(data.get("broke_at")),
            broke_by=broke_by,
            broke_by_rule=None if rule is None else str(rule),
            ended=str(data.get("ended", "")),
            elapsed_seconds=_number(data.get("elapsed_seconds")),
            recovery_seconds=_number(data.get("recovery_seconds")),
            recovery_limit=_number(recovery.get("limit")),
            recovery_rate=_number(recovery.get("rate")),
            recovered=None if recovery.get("recovered") is None else bool(recovery["recovered"]),
            warnings=[str(w) for w in data.get("warnings", [])],
        )


def curve_warning(steps: Sequence[CapacityStep]) -> str | None:
    """Whether the judged steps could come from one target that did not change: none
    met every SLO above a rate that broke one, and none was much faster (CURVE_P95_*)
    at a higher rate. The search trusts each step as it comes; a target that slowed
    while it ran gets a confident answer from a curve that runs backwards."""
    judged = sorted((s for s in steps if s.verdict != "invalid"), key=lambda s: s.rate)
    good_above_bad = _good_above_bad(judged)
    if good_above_bad is not None:
        return good_above_bad
    pairs = [(low, high) for low in judged for high in judged if high.rate > low.rate]
    backwards = [(lo, hi) for lo, hi in pairs if _much_faster(lo, hi)]
    if not backwards:
        return None
    low, high = min(backwards, key=lambda pair: (pair[1].p95 or 0.0) / (pair[0].p95 or 1.0))
    return (
        f"{NOT_MONOTONIC}: p95 was {low.p95:,.0f} ms at {low.rate:g} users/s but "
        f"{high.p95:,.0f} ms at {high.rate:g} users/s: {CURVE_ADVICE}"
    )


def _good_above_bad(judged: Sequence[CapacityStep]) -> str | None:
    """The highest good rate above the lowest bad one, in words; None when none is."""
    for low in (s for s in judged if s.verdict == "bad"):
        above = [s for s in judged if s.rate > low.rate and s.verdict == "good"]
        if above:
            return (
                f"{NOT_MONOTONIC}: {above[-1].rate:g} users/s met every SLO but "
                f"{low.rate:g} users/s did not: {CURVE_ADVICE}"
            )
    return None


def _much_faster(lower: CapacityStep, higher: CapacityStep) -> bool:
    """Whether `higher` (a higher rate) was much faster than `lower`, by its own
    answers rather than by failing fast."""
    if lower.p95 is None or higher.p95 is None:
        return False
    shed = (higher.error_rate or 0.0) - (lower.error_rate or 0.0) > CURVE_ERROR_RATE_RISE
    gap = lower.p95 - higher.p95
    return not shed and higher.p95 < lower.p95 * CURVE_P95_RATIO and gap >= CURVE_P95_MIN_GAP_MS


def _step_json(step: CapacityStep) -> dict[str, Any]:
    data = asdict(step)
    data["slos"] = [asdict(s) for s in step.slos]
    return data


def _step_from_json(data: Mapping[str, Any]) -> CapacityStep:
    verdict = data["verdict"]
    if verdict not in VERDICTS:
        raise ValueError(f"capacity step verdict {verdict!r} is not one of {VERDICTS}")
    return CapacityStep(
        rate=float(data["rate"]),
        verdict=verdict,
        seconds=float(data["seconds"]),
        requests=int(data["requests"]),
        throughput=float(data["throughput"]),
        p50=_number(data.get("p50")),
        p95=_number(data.get("p95")),
        p99=_number(data.get("p99")),
        error_rate=_number(data.get("error_rate")),
        lag_p99=_number(data.get("lag_p99")),
        slos=tuple(_slo_from_json(s) for s in data.get("slos", [])),
        reason=data.get("reason"),
    )


def _slo_from_json(data: Mapping[str, Any]) -> SloResult:
    return SloResult(
        slo=str(data["slo"]),
        value=_number(data.get("value")),
        ok=bool(data["ok"]),
        measured=str(data.get("measured", "")),
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, not {value!r}")
    return float(value)
