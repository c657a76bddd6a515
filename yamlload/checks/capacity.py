"""The capacity search (issue 22), pure: given the steps measured so far, the rate to
try next, or that the search is done and why. No I/O, no clock: `yamlload capacity`
runs each step and asks again.

Up from `start` by GROWTH until a step breaks an SLO or `limit` is reached; then halves
the gap between the highest good rate below the lowest bad one and that bad rate until
the gap is within `precision` (a fraction of the good rate). A first step that breaks
already searches down by GROWTH, to MIN_RATE at least. An invalid step (the generator
fell behind) ends the search: nothing above it can be trusted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..results.capacity import StepVerdict, search_bounds

# Each step up multiplies the rate by this (vegeta's and k6's stress ramps double too).
GROWTH = 2.0
# Below this many arrivals per second a target that breaks is broken at any load.
MIN_RATE = 0.1
# A search never takes more steps than this, whatever its numbers (a safety net: the
# rules above end far sooner, see the property tests).
MAX_STEPS = 60
# Rates are tried rounded to a tenth of the precision's gap at their magnitude (a step's
# rate is shown and reported: 31.0, not 30.98774), never above the highest rate, so that
# halving a gap wider than the precision always tries a new rate.
ROUNDING_SHARE = 0.1

Ending = Literal["converged", "never-broke", "broke-at-start", "invalid", "step-limit"]


@dataclass(frozen=True)
class SearchSettings:
    """--from, --to and --precision (a fraction: 5% is 0.05); `floor`: the lowest rate a
    step can measure (a search down stops above it: no data is never good)."""

    start: float
    limit: float
    precision: float
    floor: float = MIN_RATE

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start >= MIN_RATE):
            raise ValueError(f"the first rate must be at least {MIN_RATE}/s")
        if not (math.isfinite(self.limit) and self.limit >= self.start):
            raise ValueError("the highest rate must be at least the first")
        if not (0 < self.precision < 1):
            raise ValueError("the precision must be between 0% and 100%, such as 5%")


@dataclass(frozen=True)
class Tried:
    """A step as the search sees it: its rate and verdict."""

    rate: float
    verdict: StepVerdict


@dataclass(frozen=True)
class Next:
    """Try this rate next."""

    rate: float


@dataclass(frozen=True)
class Done:
    """The search is over: the highest good rate below the lowest bad one (None: no
    rate was good), that bad rate (None: none broke), and why it ended."""

    max_rate: float | None
    broke_at: float | None
    ending: Ending


def next_step(steps: Sequence[Tried], settings: SearchSettings) -> Next | Done:
    """What to do after `steps` (in the order they ran)."""

    def tried(rate: float) -> float:
        return _rounded(rate, settings)

    if not steps:
        return Next(settings.start)  # --from and --to are tried as written
    good, bad = search_bounds(steps)
    if steps[-1].verdict == "invalid":
        return Done(good, bad, "invalid")
    if len(steps) >= MAX_STEPS:
        return Done(good, bad, "step-limit")
    if bad is None:
        assert good is not None, "a step that is neither invalid nor bad is good"
        if good >= settings.limit:
            return Done(good, None, "never-broke")
        up = good * GROWTH
        return Next(settings.limit if up >= settings.limit else tried(up))
    if good is None:
        lower = tried(bad / GROWTH)
        floor = max(settings.floor, MIN_RATE)
        return Done(None, bad, "broke-at-start") if lower < floor else Next(lower)
    if bad - good <= settings.precision * good:
        return Done(good, bad, "converged")
    middle = tried((good + bad) / 2)
    if middle <= good or middle >= bad:  # the gap is below the rounding: as close as it gets
        return Done(good, bad, "converged")
    return Next(middle)


def _rounded(rate: float, settings: SearchSettings) -> float:
    """`rate` to a tenth of the precision's gap at its magnitude, never above --to."""
    exponent = math.floor(math.log10(rate * settings.precision * ROUNDING_SHARE))
    quantum = 10.0**exponent
    digits = max(0, -exponent)
    rounded = round(round(rate / quantum) * quantum, digits)
    if rounded > settings.limit:
        rounded = round(math.floor(settings.limit / quantum) * quantum, digits)
    return rounded
