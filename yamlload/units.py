"""Units a plan and a report are written in: durations in and out."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {
    **dict.fromkeys(("", "s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}


def parse_duration(text: str) -> float | None:
    """`"30"`, `"30s"`, `"0.5 min"`, `"9 seconds"`, `"100ms"` → seconds (None if not one)."""
    m = _DURATION.match(text)
    if m is None:
        return None
    unit = _UNIT_SECONDS.get(m.group(2).lower())
    return None if unit is None else float(m.group(1)) * unit


def format_seconds(seconds: float) -> str:
    """`90` → `1m 30s`; `0.5` → `0.5s`; `3600` → `1h`."""
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return " ".join(p for p in parts if p)
