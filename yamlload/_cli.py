"""The `yamlload` command. The only module that reads flags, the environment and the clock."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ._compile import load_plan
from ._describe import describe
from ._errors import EXIT_USAGE, InternalError, PlanError, YamlloadError
from ._load import PlanOptions
from ._schema import build_schema
from ._version import __version__

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns every yamlload error into its message and exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except YamlloadError as exc:
            click.echo(exc.show(), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: say so plainly, with enough to report it
            error = InternalError(f"{type(exc).__name__}: {exc}")
            click.echo(error.show(), err=True)
            ctx.exit(error.exit_code)


def plan_options(command: F) -> F:
    """The options that shape a plan, shared by `validate` and `run` (as in Artillery)."""
    decorators = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="A config file whose `config` (and scenarios) the plan is layered on.",
        ),
        click.option("-e", "--environment", help="Use config.environments.NAME."),
        click.option("-t", "--target", help="Override config.target."),
        click.option(
            "-p",
            "--payload",
            type=click.Path(dir_okay=False),
            help="CSV file for a payload that has no `path`.",
        ),
        click.option("--overrides", metavar="JSON", help="JSON merged over the whole plan."),
        click.option(
            "-v", "--variables", metavar="JSON", help="JSON merged into config.variables."
        ),
        click.option(
            "--dotenv",
            type=click.Path(dir_okay=False),
            help="KEY=VALUE file laid over the environment for $env / $processEnvironment.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def options_from(kwargs: dict[str, Any]) -> PlanOptions:
    return PlanOptions(
        config_file=kwargs.get("config_file"),
        environment=kwargs.get("environment"),
        target=kwargs.get("target"),
        payload=kwargs.get("payload"),
        overrides=kwargs.get("overrides"),
        variables=kwargs.get("variables"),
        dotenv=kwargs.get("dotenv"),
        env=tuple(sorted(os.environ.items())),
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="yamlload")
def cli() -> None:
    """Load testing from a declarative YAML plan (Artillery-compatible)."""


@cli.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path())
@plan_options
def validate(plans: tuple[str, ...], **kwargs: Any) -> None:
    """Check PLANS against the schema and compile them; print what would run.

    Every problem is reported as FILE:LINE:COL: message. Exit 0 when all plans are
    valid, 2 otherwise.
    """
    options = options_from(kwargs)
    failed = 0
    for plan_path in plans:
        try:
            plan = load_plan(plan_path, options)
        except PlanError as exc:
            failed += 1
            click.echo(exc.show(), err=True)
            click.echo(f"invalid: {plan_path} ({_count(len(exc.problems), 'problem')})", err=True)
            continue
        except YamlloadError as exc:
            failed += 1
            click.echo(exc.show(), err=True)
            continue
        for warning in plan.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"ok: {plan_path}")
        for line in describe(plan):
            click.echo(line)
    if failed:
        sys.exit(EXIT_USAGE)


@cli.command()
def schema() -> None:
    """Print the plan's JSON Schema (for editors and other tools)."""
    click.echo(json.dumps(build_schema(), indent=2))


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def main() -> None:
    cli(prog_name="yamlload")
