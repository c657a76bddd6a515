"""config.drift (issue 22): the shortest steady phase whose drift is reported, and the
threshold of each metric's drift. The schema has checked the shape; here the names of
the thresholds are checked against what drift measures and the plan's monitor series."""

from __future__ import annotations

import difflib
from typing import Any

from ...errors import Problem
from ..ir import DRIFT_MIN_SECONDS, DRIFT_THRESHOLDS, DriftSettings, MonitorSource
from ..source import Path, describe_path
from .context import Context

DRIFT: Path = ("config", "drift")


def compile_drift(cx: Context, monitor: tuple[MonitorSource, ...]) -> DriftSettings:
    """The plan's drift settings, the defaults for what it leaves out."""
    spec = cx.mapping(DRIFT)
    if not spec or not cx.healthy(DRIFT):
        return DriftSettings()
    min_seconds = DRIFT_MIN_SECONDS
    if "minDuration" in spec:
        found = cx.duration((*DRIFT, "minDuration"), spec["minDuration"])
        min_seconds = DRIFT_MIN_SECONDS if found is None else found
    thresholds = dict(DRIFT_THRESHOLDS)
    path = (*DRIFT, "thresholds")
    if cx.healthy(path):
        known = [name for name, _ in DRIFT_THRESHOLDS]
        known += [series for source in monitor for series in source.series]
        for name, raw in cx.mapping(path).items():
            fraction = _threshold(raw)
            if name not in known:
                guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{guess[0]}'?" if guess else f" (known: {', '.join(known)})"
                where = (*path, name)
                message = f"{describe_path(where)}: drift has no metric {name!r}{hint}"
                cx.problems.append(Problem(cx.doc.key_pos(where), message))
            elif fraction is not None:
                thresholds[name] = fraction
    return DriftSettings(min_seconds, tuple(sorted(thresholds.items())))


def _threshold(raw: Any) -> float | None:
    """A threshold in percent (10 or "10%") as a fraction; None if the schema refused it."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) / 100.0
    if isinstance(raw, str):
        try:
            return float(raw.strip().rstrip("%").strip()) / 100.0
        except ValueError:
            return None
    return None
