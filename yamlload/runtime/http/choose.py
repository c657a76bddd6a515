"""Which transport runs a plan: the one config.http.transport names (plan/ir.py, where
YAMLLOAD_TRANSPORT sets the default). Both send every plan the format can express, so
the choice is the plan's alone; the console's header says which ran (cli/run.py)."""

from __future__ import annotations

from ...plan.ir import Plan

FAST = "fast"
AIOHTTP = "aiohttp"


def transport_choice(plan: Plan) -> tuple[str, str]:
    """The transport's name, and why it is not the one the plan asked for (never, now
    that the fast transport does all the aiohttp one does)."""
    return plan.http.transport, ""
