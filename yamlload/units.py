"""Units a plan and a report are written in: durations in and out, counts in words."""

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


def counted(n: float, word: str, many: str | None = None) -> str:
    """`1 arrival`, `1,000 arrivals`, `2 of them`: the number with thousands separators
    and the word in the plural unless n is 1. `many` is the plural where it is not
    the word with an s (`counted(2, "this", "these")`)."""
    plural = word if n == 1 else (many or f"{word}s")
    return f"{format_count(n)} {plural}"


def format_count(n: float) -> str:
    """`1000000` → `1,000,000`; `1.5` → `1.5`: a limit or a count, never `1e+06`."""
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,g}"
