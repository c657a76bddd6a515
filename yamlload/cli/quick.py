"""`yamlload quick URL`: load a URL without writing a plan, through `run`'s own path."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from ..errors import UsageError
from ..plan.compile import MAX_USERS, compile_document
from ..plan.secrets import Redactor, mask_userinfo
from ..plan.source import PlanOptions, located_from_data
from ..schedule.arrivals import arrival_count
from ..units import format_count, parse_duration
from .app import tolerate_lost_stdout
from .args import RunArgs
from .options import FiniteFloat
from .run import execute, outputs_checked

QUICK = "quick"  # the plan's source and its scenario's name
USERS, REQUESTS_EACH, DURATION = 10, 10, "10s"  # the defaults of -c, -n and -d


@click.command(short_help="Load a URL without writing a plan.")
@click.argument("url")
@click.option(
    "-c", "--count", type=int, help=f"Virtual users, started over one second.  [default: {USERS}]"
)
@click.option(
    "-n",
    "--num",
    type=int,
    help=f"Requests each user sends.  [default: {REQUESTS_EACH}; 1 with -r]",
)
@click.option(
    "-r",
    "--rate",
    type=FiniteFloat(0.001, 1_000_000),
    help="Start this many users per second instead (each sends one request unless -n "
    "says more): RATE requests a second.",
)
@click.option(
    "-d",
    "--duration",
    help=f"With -r: how long to keep the rate, e.g. 30s or 2m.  [default: {DURATION}]",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON report."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or period lines.")
@click.option("-k", "--insecure", is_flag=True, help="Accept invalid TLS certificates.")
def quick(
    url: str,
    count: int | None,
    num: int | None,
    rate: float | None,
    duration: str | None,
    **kwargs: Any,
) -> None:
    """Load URL without writing a plan.

    \b
    yamlload quick URL -c 20 -n 50     20 users, each sends 50 GET requests
    yamlload quick URL -r 100 -d 30s   100 users a second for 30 s, one request each
    """
    tolerate_lost_stdout()  # the report is the product: a full stdout is a warning
    found = re.match(r"^(https?://[^/]+)(.*)$", url)
    if not found:
        raise UsageError(f"{mask_userinfo(url)!r} is not an http:// or https:// URL")
    origin, path = found.group(1), found.group(2) or "/"
    phase, num = _phase(count, num, rate, duration)
    document = {
        "config": {"target": origin, "phases": [phase]},
        "scenarios": [{"name": QUICK, "flow": [{"loop": [{"get": {"url": path}}], "count": num}]}],
    }
    # The environment, so that YAMLLOAD_TRANSPORT chooses quick's transport as run's.
    environment = PlanOptions(env=tuple(sorted(os.environ.items())))
    plan = compile_document(located_from_data(document, QUICK), QUICK, environment)
    if rate is not None:
        _check_rate_users(rate, duration or DURATION, arrival_count(plan.phases[0]))
    args = outputs_checked(RunArgs.from_click(None, kwargs), plan)
    sys.exit(execute(plan, args, [], Redactor.for_plan(plan)))


def _phase(
    count: int | None, num: int | None, rate: float | None, duration: str | None
) -> tuple[dict[str, Any], int]:
    """The one phase, and the requests each user sends: -c users over a second, or -r
    users a second for -d; the two ways do not mix. A run that would send nothing is
    refused: it would pass with exit 0 having tested nothing."""
    if num is not None and num == 0:
        raise UsageError("-n 0 sends no requests: nothing would be sent; give -n 1 or more")
    if rate is None:
        if duration is not None:
            raise UsageError("-d goes with -r: it says how long to keep the rate")
        users = USERS if count is None else count
        if users == 0:
            raise UsageError("-c 0 starts no users: nothing would be sent; give -c 1 or more")
        if users > MAX_USERS:
            raise UsageError(
                f"-c {format_count(users)} is more users than one plan can run "
                f"(limit {format_count(MAX_USERS)}); split the load across machines instead"
            )
        return {"duration": 1, "arrivalCount": users}, REQUESTS_EACH if num is None else num
    if count is not None:
        raise UsageError("-c and -r do not go together: -c is a number of users, -r a rate")
    if duration is not None and parse_duration(duration) is None:
        # said as the flag the user gave, not as the plan quick makes of it
        raise UsageError(f"-d {duration!r} is not a duration: give one such as 30, 30s, 5m or 1.5h")
    return {"duration": duration or DURATION, "arrivalRate": rate}, 1 if num is None else num


def _check_rate_users(rate: float, duration: str, users: int) -> None:
    """-r × -d starts `users` users: at least one, and no more than -c may start (the
    plan's MAX_USERS), which a rate would otherwise pass unnoticed."""
    given = f"-r {format_count(rate)} -d {duration}"
    if users == 0:
        raise UsageError(
            f"{given} starts no users (one every {format_count(1 / rate)}s): nothing would "
            "be sent; give a longer -d or a higher -r"
        )
    if users > MAX_USERS:
        raise UsageError(
            f"{given} would start {format_count(users)} users, more than one plan can run "
            f"(limit {format_count(MAX_USERS)}); split the load across machines instead"
        )
