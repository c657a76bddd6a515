"""Which transport runs a plan: the one config.http.transport names (plan/ir.py; the
YAMLLOAD_TRANSPORT variable sets the default, which is fast). Both send every request
the plan format can express. Each is imported only when chosen (the fast one still
loads aiohttp for its cookie jar, before any traffic: see fast_transport.py)."""

from __future__ import annotations

from collections.abc import Callable

from ...plan.ir import Plan
from ..options import RunOptions
from .transport import Transport

FAST = "fast"
AIOHTTP = "aiohttp"


def transport_choice(plan: Plan) -> str:
    """The name of the transport that runs the plan."""
    return plan.http.transport


def make_transport(
    plan: Plan, options: RunOptions, observe: Callable[[str, float], None]
) -> Transport:
    if transport_choice(plan) == FAST:
        from .fast_transport import FastTransport

        return FastTransport(plan, options, observe)
    from .aiohttp_transport import AiohttpTransport

    return AiohttpTransport(plan, options, observe)
