"""Commands about plans: `validate` and `schema`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..checks.parse import check_names, checks_from_plan
from ..errors import EXIT_USAGE, PlanError, YamlloadError
from ..plan.compile import load_plan
from ..plan.schema import build_report_schema, build_schema
from ..plan.secrets import Redactor
from ..report.describe import describe
from ..units import counted
from .options import options_from, plan_options


@click.command(short_help="Check plans; print what each would run.")
@click.argument("plans", nargs=-1, required=True, type=click.Path())
@plan_options
def validate(plans: tuple[str, ...], **kwargs: Any) -> None:
    """Check PLANS against the schema and compile them; print what would run.

    Every problem is reported as FILE:LINE:COL: message. Exit 0 when all plans are
    valid, 2 otherwise.
    """
    # The runtime's capacity advice is what `run` would warn of; only validate loads it.
    from ..runtime.capacity import capacity_warnings

    options = options_from(kwargs)
    failed = 0
    for plan_path in plans:
        try:
            plan = load_plan(plan_path, options)
            check_names(checks_from_plan(plan), plan)  # what `run` checks before traffic
        except PlanError as exc:
            failed += 1
            click.echo(exc.show(), err=True)
            click.echo(f"invalid: {plan_path} ({counted(len(exc.problems), 'problem')})", err=True)
            continue
        except YamlloadError as exc:
            failed += 1
            click.echo(exc.show(), err=True)
            continue
        redactor = Redactor.for_plan(plan)
        for warning in plan.warnings:
            click.echo(f"warning: {redactor.text(str(warning))}", err=True)
        for advice in capacity_warnings(plan):
            click.echo(f"warning: {advice}", err=True)
        click.echo(f"ok: {plan_path}")
        for line in describe(plan):
            click.echo(line)
    if failed:
        sys.exit(EXIT_USAGE)


@click.command(short_help="Print the plan's (or report's) JSON Schema.")
@click.option("--report", is_flag=True, help="Print the JSON report's schema instead.")
def schema(report: bool) -> None:
    """Print the plan's JSON Schema (for editors and other tools)."""
    click.echo(json.dumps(build_report_schema() if report else build_schema(), indent=2))
