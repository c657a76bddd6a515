"""Arrival math: when each virtual user starts. Pure functions of the phases.

Open-model phases follow Artillery's scheduler exactly, so that a plan makes the same
number of users under yamlload as under Artillery:

- `arrivalRate` (uniform): one arrival every 1/rate seconds, the first one interval
  after the phase starts, the last on its end: floor(rate × duration) arrivals.
- `rampTo`: per-second buckets. Second i of n gets ((to − from)/(n − 1))·i + from
  arrivals, computed in doubles in that order and rounded as JavaScript's Math.round
  rounds that double (so 1.4999999999999998 is 1), spread evenly in that second; a
  one-second ramp uses the mean rate. (n − 1 is Artillery's duration − 1 for
  whole-second durations; a fractional duration keeps its last, partial second and
  ramps to `rampTo` across the whole seconds, where Artillery would overshoot.)
- `arrivalCount`: the count spread evenly, first one interval after the start.
- `pause`: nothing. `mode: poisson`: exponential gaps with the same mean rate.

Closed-model phases (`users`) start their users at `spawnRate` per second (the first at
once) and the users loop until the phase ends.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..plan.ir import Phase

# Floating-point slack when a product like 0.1 × 30 should be exactly 3.
_EPSILON = 1e-9


def ramp_bucket_counts(phase: Phase) -> list[int]:
    """Arrivals in each whole second of a ramp (the last bucket may be partial).

    The arithmetic is Artillery's createRamp, operation for operation, so that the
    doubles (and so the rounding) are the same: (difference / (duration − 1)) · i + from.
    """
    periods = max(1, math.ceil(phase.duration - _EPSILON))
    start, end = phase.arrival_rate, phase.ramp_to
    if periods == 1:
        return [_arrivals((end + start) / 2)]
    difference = end - start
    return [_arrivals((difference / (periods - 1)) * i + start) for i in range(periods)]


def js_round(value: float) -> int:
    """JavaScript's Math.round of a double: the nearest integer, ties toward +∞.

    Exact for every double: floor(x + 0.5) is not, since x + 0.5 is itself rounded
    (0.49999999999999994 + 0.5 == 1.0, and past 2**52 odd numbers gain one).
    """
    whole = math.floor(value)
    return whole + (1 if value - whole >= 0.5 else 0)  # value − floor(value) is exact


def _arrivals(raw: float) -> int:
    """One second's arrivals from its raw rate, as Artillery's adjustArrivalsByWorker
    gives them to a single worker: floor, plus one when Math.round(fraction) is 1; that
    is Math.round(raw). A raw rate a rounding error below 0 makes no arrivals."""
    return max(0, js_round(raw))


def arrival_count(phase: Phase) -> int:
    """Exactly how many users the phase starts (the expected count for poisson)."""
    if phase.kind == "pause":
        return 0
    if phase.kind == "count":
        return phase.arrival_count
    if phase.kind == "users":
        return phase.users
    if phase.kind == "ramp":
        return sum(ramp_bucket_counts(phase))
    return math.floor(phase.arrival_rate * phase.duration + _EPSILON)


def arrival_offsets(phase: Phase, rng: random.Random | None = None) -> Iterator[float]:
    """Seconds from the phase start at which each user arrives, in order."""
    if phase.kind == "pause":
        return iter(())
    if phase.kind == "count":
        return _evenly(phase.arrival_count, phase.duration)
    if phase.kind == "users":
        return _spawns(phase)
    if phase.kind == "ramp":
        return _ramp(phase)
    if phase.mode == "poisson":
        return _poisson(phase.arrival_rate, phase.duration, rng or random.Random())
    return _evenly(arrival_count(phase), phase.duration)


def _evenly(count: int, duration: float) -> Iterator[float]:
    if count <= 0:
        return
    interval = duration / count
    for k in range(1, count + 1):
        yield k * interval


def _ramp(phase: Phase) -> Iterator[float]:
    for second, count in enumerate(ramp_bucket_counts(phase)):
        length = min(1.0, phase.duration - second) if phase.duration > second else 1.0
        for k in range(1, count + 1):
            yield second + k * length / count


def _poisson(rate: float, duration: float, rng: random.Random) -> Iterator[float]:
    if rate <= 0:
        return
    t = rng.expovariate(rate)
    while t <= duration:
        yield t
        t += rng.expovariate(rate)


def _spawns(phase: Phase) -> Iterator[float]:
    if phase.spawn_rate is None or phase.spawn_rate <= 0:
        for _ in range(phase.users):
            yield 0.0
        return
    for k in range(phase.users):
        yield min(k / phase.spawn_rate, phase.duration)


@dataclass(frozen=True)
class Arrival:
    """One scheduled user: when (seconds from the run start), in which phase, and its
    index among all the run's arrivals (the same in every shard)."""

    at: float
    phase: int
    index: int = 0


@dataclass(frozen=True)
class Segment:
    """Shard `index` (0-based) of `count`: it owns every arrival whose global index is
    `index` modulo `count`. The shards' union is exactly the whole schedule, and over any
    stretch of time each owns its fair share of arrivals to within one."""

    index: int = 0
    count: int = 1

    def owns(self, arrival_index: int) -> bool:
        return arrival_index % self.count == self.index

    def share(self, total: int) -> int:
        """This shard's part of a whole number split as evenly as possible."""
        return total // self.count + (1 if self.index < total % self.count else 0)

    @property
    def label(self) -> str:
        return f"{self.index + 1}/{self.count}"


def phase_starts(phases: Sequence[Phase]) -> list[float]:
    """The second at which each phase starts; phases run one after another."""
    starts: list[float] = []
    clock = 0.0
    for phase in phases:
        starts.append(clock)
        clock += phase.duration
    return starts


def total_duration(phases: Sequence[Phase]) -> float:
    return sum(phase.duration for phase in phases)


def schedule(
    phases: Sequence[Phase], rng: random.Random | None = None, segment: Segment | None = None
) -> Iterator[Arrival]:
    """Every arrival of the run in time order, or a segment's share of them.

    For poisson phases, give every shard an rng seeded alike: each then draws the same
    global schedule and keeps its own stripe of it.
    """
    index = 0
    for start, phase in zip(phase_starts(phases), phases, strict=True):
        for offset in arrival_offsets(phase, rng):
            if segment is None or segment.owns(index):
                yield Arrival(start + offset, phase.index, index)
            index += 1


def phase_at(phases: Sequence[Phase], t: float) -> Phase | None:
    """The phase running at second `t` of the run, or None before/after."""
    for start, phase in zip(phase_starts(phases), phases, strict=True):
        if start <= t < start + phase.duration:
            return phase
    return None


# The whole schedule: one segment of one (no --segment, no --workers).
WHOLE_RUN = Segment(0, 1)
