"""Commands about plans: `validate` and `schema`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ..checks.grades import checks_and_table
from ..errors import EXIT_USAGE, PlanError, YamlloadError
from ..plan.compile import load_plan
from ..plan.ir import Plan
from ..plan.schema import build_report_schema, build_schema
from ..plan.secrets import Redactor
from ..plan.source import PlanOptions
from ..report.describe import describe
from ..report.outputs import stdout_failed
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

    try:
        failed = _validate_each(plans, options_from(kwargs), capacity_warnings)
    except BrokenPipeError:
        raise  # the reader left (`| head`): app.py's stdout makes that a normal end
    except OSError as exc:  # stdout cannot be written (/dev/full): not a bug in yamlload
        raise stdout_failed(exc) from None
    if failed:
        sys.exit(EXIT_USAGE)


def _validate_each(
    plans: tuple[str, ...], options: PlanOptions, capacity_warnings: Callable[[Plan], list[str]]
) -> int:
    """Check and describe each plan; the number that were invalid."""
    failed = 0
    for plan_path in plans:
        try:
            plan = load_plan(plan_path, options)
            checks_and_table(plan, plan_only=True)  # what `run` checks before traffic
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
    sys.stdout.flush()  # a write that fails fails here, inside the handler above
    return failed


@click.command(short_help="Print the plan's (or report's) JSON Schema.")
@click.option("--report", is_flag=True, help="Print the JSON report's schema instead.")
def schema(report: bool) -> None:
    """Print the plan's JSON Schema (for editors and other tools)."""
    text = json.dumps(build_report_schema() if report else build_schema(), indent=2)
    try:
        click.echo(text)
    except BrokenPipeError:
        raise  # the reader left (`| head`): app.py's stdout makes that a normal end
    except OSError as exc:  # stdout cannot be written (/dev/full): not a bug in yamlload
        raise stdout_failed(exc) from None
