"""Which transport runs a plan: the fast one (fast_transport.py) when the plan asks for
it with config.http.transport: fast and needs nothing it lacks yet; aiohttp otherwise.
The console's header says which, and why not fast (cli/run.py)."""

from __future__ import annotations

from ...plan.ir import Plan

FAST = "fast"
AIOHTTP = "aiohttp"


def transport_choice(plan: Plan) -> tuple[str, str]:
    """The transport's name, and when the plan asked for fast but gets aiohttp, why."""
    if plan.http.transport != FAST:
        return AIOHTTP, ""
    gaps = fast_gaps(plan)
    if gaps:
        return AIOHTTP, "the fast transport does not do " + ", ".join(gaps) + " yet"
    return FAST, ""


def fast_gaps(plan: Plan) -> list[str]:
    """What the plan needs that the fast transport does not do yet."""
    http = plan.http
    gaps = [
        what
        for what, needed in (
            ("https://", not plan.target.lower().startswith("http://")),
            ("config.http.pool", http.pool is not None),
            ("config.http.maxSockets", http.max_sockets is not None),
            ("extendedMetrics", http.extended_metrics),
        )
        if needed
    ]
    return gaps
