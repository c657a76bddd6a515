"""Units a plan and a report are written in: durations in and out, counts in words."""

from __future__ import annotations

import math
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


# Past this, a number's digits tell a reader nothing (1e308 has 309 of them): it is shown
# as a power of ten. Below it every count a run can make is spelled out.
LARGEST_SPELLED_OUT = 1e15
# What a table shows where nothing was measured (an endpoint nothing answered): not
# 0.0, which reads as fast.
NO_VALUE = "—"
# Below this a fraction keeps its significant digits (0.0001 would round to 0).
SMALLEST_FIXED = 0.001


def format_count(n: float) -> str:
    """`1000000` → `1,000,000`; `1.5` → `1.5`; `1e308` → `1×10^308`: a limit or a count,
    never `1e+06`."""
    if not math.isfinite(n):
        return str(n)
    if abs(n) >= LARGEST_SPELLED_OUT:
        mantissa, exponent = f"{n:.3e}".split("e")
        return f"{float(mantissa):g}×10^{int(exponent)}"
    if float(n).is_integer():
        return f"{n:,.0f}"
    if abs(n) < SMALLEST_FIXED:
        return f"{n:g}"
    return f"{n:,.3f}".rstrip("0").rstrip(".")


def format_millis(value: float, count: int) -> str:
    """A latency cell in ms, grouped (`1,234.5`), or NO_VALUE when `count` samples are 0."""
    return f"{value:,.1f}" if count else NO_VALUE
