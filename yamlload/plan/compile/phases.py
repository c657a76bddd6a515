"""config.phases → `Phase`s: open-model rates, ramps and counts, pauses, and the
closed model's users, with every number resolved and checked against the limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...units import format_count
from ..ir import Phase
from ..source import Path
from .context import MAX_USERS, Context

# Beyond this one plan is surely a typo; --workers and many machines share bigger loads.
MAX_ARRIVAL_RATE = 1_000_000


def compile_phases(cx: Context) -> tuple[Phase, ...]:
    raw = cx.config.get("phases")
    if not isinstance(raw, list) or not raw:
        # Artillery runs a single virtual user when a plan has no phases.
        return (Phase(index=0, name="one user", kind="count", duration=0.0, arrival_count=1),)
    mode = cx.config.get("mode", "uniform")
    phases: list[Phase] = []
    for index, spec in enumerate(raw):
        path = ("config", "phases", index)
        if cx.healthy(path) and isinstance(spec, dict):
            phase = _phase(cx, path, index, spec, mode)
            if phase is not None:
                phases.append(phase)
    return tuple(phases)


def _phase(cx: Context, path: Path, index: int, spec: dict[str, Any], mode: str) -> Phase | None:
    kinds = [k for k in ("pause", "arrivalCount", "arrivalRate", "rampTo", "users") if k in spec]
    families = {"rampTo": "arrivalRate"}
    distinct = sorted({families.get(k, k) for k in kinds})
    name = str(spec.get("name") or f"phase {index + 1}")
    if not kinds:
        if path not in cx.misspelled:
            cx.error(path, "a phase needs one of arrivalRate, rampTo, arrivalCount, pause or users")
        return None
    if len(distinct) > 1:
        cx.error(path, f"a phase is one kind; it has both '{distinct[0]}' and '{distinct[1]}'")
        return None
    closed_keys = [k for k in ("spawnRate", "rampUsers", "gracefulStop") if k in spec]
    if closed_keys and "users" not in spec:
        cx.error((*path, closed_keys[0]), "goes only with 'users' (the closed model)")
        return None
    base = Phase(index=index, name=name, kind="pause", duration=0.0, pos=cx.doc.pos(path))
    if "pause" in spec:
        seconds = cx.duration((*path, "pause"), spec["pause"])
        return None if seconds is None else replace(base, duration=seconds)
    if "duration" not in spec:
        cx.error(path, "missing required key 'duration'")
        return None
    duration = cx.duration((*path, "duration"), spec["duration"])
    if duration is None:
        return None
    max_vusers = cx.optional_count(path, spec, "maxVusers")
    if "users" in spec:
        return _closed_phase(cx, path, spec, replace(base, duration=duration))
    return _open_phase(cx, path, spec, replace(base, duration=duration), mode, max_vusers)


def _open_phase(
    cx: Context, path: Path, spec: dict[str, Any], base: Phase, mode: str, max_vusers: int | None
) -> Phase | None:
    """An arrivalCount, arrivalRate or rampTo phase; `base` has its duration."""
    duration = base.duration
    if "arrivalCount" in spec:
        count = cx.number((*path, "arrivalCount"), spec["arrivalCount"], integer=True)
        if count is None or not _within(
            cx, path, "arrivalCount", count, MAX_ARRIVAL_RATE * max(duration, 1)
        ):
            return None
        return replace(
            base,
            kind="count",
            duration=duration,
            arrival_count=int(count),
            max_vusers=max_vusers,
        )
    rate = cx.number((*path, "arrivalRate"), spec.get("arrivalRate", 0))
    ramp_to = cx.number((*path, "rampTo"), spec["rampTo"]) if "rampTo" in spec else None
    if rate is None or ("rampTo" in spec and ramp_to is None):
        return None
    busiest = "rampTo" if (ramp_to or 0) > rate else "arrivalRate"
    if not _within(cx, path, busiest, max(rate, ramp_to or 0), MAX_ARRIVAL_RATE):
        return None
    phase_mode = spec.get("mode", mode)
    if ramp_to is not None:
        return replace(
            base,
            kind="ramp",
            duration=duration,
            arrival_rate=rate,
            ramp_to=ramp_to,
            max_vusers=max_vusers,
            mode=phase_mode,
        )
    if rate == 0:
        return replace(base, duration=duration)  # Artillery: a zero rate is a pause
    return replace(
        base,
        kind="rate",
        duration=duration,
        arrival_rate=rate,
        max_vusers=max_vusers,
        mode=phase_mode,
    )


def _closed_phase(cx: Context, path: Path, spec: dict[str, Any], base: Phase) -> Phase | None:
    users = cx.number((*path, "users"), spec["users"], integer=True, positive=True)
    if users is None or not _within(cx, path, "users", users, MAX_USERS):
        return None
    spawn_rate: float | None = None
    if "spawnRate" in spec and "rampUsers" in spec:
        cx.error(path, "give either 'spawnRate' or 'rampUsers', not both")
        return None
    if "spawnRate" in spec:
        spawn_rate = cx.number(
            (*path, "spawnRate"), spec["spawnRate"], positive=True, most=MAX_ARRIVAL_RATE
        )
        if spawn_rate is None:
            return None
    elif "rampUsers" in spec:
        ramp = cx.duration((*path, "rampUsers"), spec["rampUsers"])
        if ramp is None:
            return None
        spawn_rate = users / ramp if ramp > 0 else None
    graceful_stop = base.graceful_stop
    if "gracefulStop" in spec:
        seconds = cx.duration((*path, "gracefulStop"), spec["gracefulStop"])
        if seconds is None:
            return None
        graceful_stop = seconds
    return replace(
        base,
        kind="users",
        users=int(users),
        spawn_rate=spawn_rate,
        graceful_stop=graceful_stop,
    )


def _within(cx: Context, path: Path, key: str, value: float, limit: float) -> bool:
    if value > limit:
        cx.error(
            (*path, key),
            f"{format_count(value)} is more than one plan can run (limit "
            f"{format_count(limit)}); "
            "split the load across machines instead",
        )
        return False
    return True
