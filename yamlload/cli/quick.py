"""`yamlload quick URL`: load a URL without writing a plan, through `run`'s own path."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from ..errors import UsageError
from ..plan.compile import compile_document
from ..plan.secrets import Redactor, mask_userinfo
from ..plan.source import PlanOptions, located_from_data
from .args import RunArgs
from .options import FiniteFloat
from .run import execute, outputs_checked

QUICK = "quick"  # the plan's source and its scenario's name


@click.command()
@click.argument("url")
@click.option("-c", "--count", default=10, show_default=True, help="Virtual users to start.")
@click.option("-n", "--num", default=10, show_default=True, help="Requests each user sends.")
@click.option(
    "-r",
    "--rate",
    type=FiniteFloat(0.001, 1_000_000),
    help="Start users at this rate per second instead.",
)
@click.option(
    "-d", "--duration", default="10s", show_default=True, help="How long to keep the rate."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON report."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or period lines.")
@click.option("-k", "--insecure", is_flag=True, help="Accept invalid TLS certificates.")
def quick(url: str, count: int, num: int, rate: float | None, duration: str, **kwargs: Any) -> None:
    """Load URL without writing a plan: COUNT users each send NUM GET requests."""
    found = re.match(r"^(https?://[^/]+)(.*)$", url)
    if not found:
        raise UsageError(f"{mask_userinfo(url)!r} is not an http:// or https:// URL")
    origin, path = found.group(1), found.group(2) or "/"
    phase = (
        {"duration": duration, "arrivalRate": rate}
        if rate is not None
        else {"duration": 1, "arrivalCount": count}
    )
    document = {
        "config": {"target": origin, "phases": [phase]},
        "scenarios": [{"name": QUICK, "flow": [{"loop": [{"get": {"url": path}}], "count": num}]}],
    }
    plan = compile_document(located_from_data(document, QUICK), QUICK, PlanOptions())
    args = outputs_checked(RunArgs.from_click(None, kwargs), plan)
    sys.exit(execute(plan, args, [], Redactor.for_plan(plan)))
