"""What a run hands over when it ends (or at a checkpoint): its periods, how long it
took, when each phase ran. The runtime writes it; results, checks and reports read it
without importing the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..metrics.live import SecondRow
from ..metrics.periods import Period


@dataclass
class Progress:
    """What the console shows on its live line."""

    elapsed: float
    total: float
    phase: str
    active: int
    created: int
    requests: int
    failed: int  # failed requests: no response, or a status not accepted
    rps: float


@dataclass
class PhaseRun:
    index: int
    name: str
    started: float
    ended: float
    # When the phase's load became constant (a constant arrival rate from its start, or
    # a closed-model phase once all its users are started); None for a ramp or a pause,
    # and in reports written before drift (issue 22). results/drift.py reads it.
    steady_from: float | None = None


@dataclass
class RunResult:
    periods: list[Period]
    duration: float
    phases: list[PhaseRun]
    stopped_by: str | None = None
    # Seconds this shard's schedule started after the shared --start-at (0 when on
    # time): a late start shifts the whole schedule, so arrival lag stays the generator's.
    late_start: float = 0.0
    # A bug in yamlload ended the run early: its traceback (the CLI exits 70).
    internal_error: str | None = None
    # A row per second for the report's charts (metrics/live.py), when the run was
    # short enough and in one process; empty otherwise.
    seconds: list[SecondRow] = field(default_factory=list)
