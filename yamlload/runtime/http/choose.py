"""Which transport runs a plan: the fast one (fast_transport.py) when the plan asks for
it with config.http.transport: fast and needs nothing it lacks yet; aiohttp otherwise.
The console's header says which, and why not fast (cli/run.py)."""

from __future__ import annotations

from collections.abc import Iterator

from ...plan.ir import LoopStep, ParallelStep, Plan, Request, Step

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
    flows = (*plan.before, *plan.after, *(step for s in plan.scenarios for step in s.flow))
    requests = list(_requests(iter(flows)))
    gaps = [
        what
        for what, needed in (
            ("cookies", bool(plan.default_cookie.items) or any(r.cookie.items for r in requests)),
            ("formData", any(r.form_data is not None for r in requests)),
        )
        if needed
    ]
    return gaps


def _requests(steps: Iterator[Step]) -> Iterator[Request]:
    for step in steps:
        if isinstance(step, Request):
            yield step
        elif isinstance(step, LoopStep | ParallelStep):
            yield from _requests(iter(step.steps))
