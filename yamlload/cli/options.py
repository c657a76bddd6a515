"""Options more than one command takes: what shapes a plan, and when a run is invalid."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..checks.validity import DEFAULT_MAX_LAG_MS
from ..plan.source import PlanOptions
from ..units import format_count

F = TypeVar("F", bound=Callable[..., Any])
# The largest number a FiniteFloat takes unless told otherwise.
FINITE_HIGH = 1e12


def plan_options(command: F) -> F:
    """The options that shape a plan, shared by `validate` and `run` (as in Artillery)."""
    decorators = [
        click.option(
            "-c",
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
        click.option(
            "--allow-path",
            "allow_paths",
            multiple=True,
            metavar="DIR",
            type=click.Path(file_okay=False, exists=True),
            help="A folder whose files the plan may read besides its own and the current "
            "folder (payloads, -p, formData files, processor, --config, --dotenv). "
            "Repeatable; it must exist.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def options_from(kwargs: dict[str, Any]) -> PlanOptions:
    """The plan options `plan_options` collected, with this process's environment."""
    return PlanOptions(
        allow_paths=tuple(kwargs.get("allow_paths") or ()),
        config_file=kwargs.get("config_file"),
        environment=kwargs.get("environment"),
        target=kwargs.get("target"),
        payload=kwargs.get("payload"),
        overrides=kwargs.get("overrides"),
        variables=kwargs.get("variables"),
        dotenv=kwargs.get("dotenv"),
        env=tuple(sorted(os.environ.items())),
    )


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older clicks cannot subscript it
    _FloatParam = click.ParamType[float, Any]
else:
    _FloatParam = click.ParamType


class FiniteFloat(_FloatParam):
    """A number that is finite and within [low, high]: nan and inf would quietly turn a
    check off (--max-lag nan) or a feature (--checkpoint nan)."""

    name = "number"

    def __init__(self, low: float, high: float = FINITE_HIGH) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            low, high = format_count(self.low), format_count(self.high)
            self.fail(f"{value!r} must be between {low} and {high}", param, ctx)
        return number


def lag_options(command: F) -> F:
    """--max-lag and --allow-lag: when a run (or a merged one) is judged invalid."""
    command = click.option(
        "--allow-lag", is_flag=True, help="Only warn when the generator fell behind."
    )(command)
    return click.option(
        "--max-lag",
        type=FiniteFloat(0.0),
        default=DEFAULT_MAX_LAG_MS,
        show_default=True,
        metavar="MS",
        help="The run is invalid (exit 3) when arrival lag p99 exceeds this.",
    )(command)
