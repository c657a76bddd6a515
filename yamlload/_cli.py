"""The `yamlload` command. The only module that reads flags, the environment and the clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._compile import compile_document, load_plan
from ._describe import describe
from ._engine import Engine, RunOptions, RunResult, run_on_uvloop
from ._errors import EXIT_USAGE, InternalError, PlanError, UsageError, YamlloadError
from ._load import PlanOptions, located_from_data
from ._plan import Plan
from ._report.console import ConsoleObserver, format_summary
from ._report.json import write_json
from ._schema import build_report_schema, build_schema
from ._summary import Summary, summarize
from ._version import __version__

EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
DEMO_TARGET_START_SECONDS = 30.0

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
@click.option("--report", is_flag=True, help="Print the JSON report's schema instead.")
def schema(report: bool) -> None:
    """Print the plan's JSON Schema (for editors and other tools)."""
    click.echo(json.dumps(build_report_schema() if report else build_schema(), indent=2))


@cli.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path())
@plan_options
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON report."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress or period lines; the summary and report only."
)
@click.option("-k", "--insecure", is_flag=True, help="Accept invalid TLS certificates.")
@click.option("--scenario-name", help="Run only the scenario with this name.")
@click.option(
    "--seed", type=int, help="Seed the random choices (scenarios, variables, payload rows)."
)
@click.option("--solo", is_flag=True, help="Run one virtual user once, whatever the phases say.")
@click.option(
    "--demo-target",
    is_flag=True,
    help="Start the bundled demo API on a free port and aim the plan at it.",
)
def run(plan_path: str, **kwargs: Any) -> None:
    """Run PLAN: make the load, show progress, print a summary, write a JSON report.

    Exit 0 when the run completed, 2 for a bad plan (nothing is sent), 130 or 143 when
    interrupted by Ctrl-C or SIGTERM (the report of what was measured is still written).
    """
    with _DemoTarget(kwargs.pop("demo_target")) as demo_url:
        if demo_url:
            kwargs["target"] = demo_url
        plan = load_plan(plan_path, options_from(kwargs))
        for warning in plan.warnings:
            click.echo(f"warning: {warning}", err=True)
        summary = _run_and_report(plan, kwargs)
    if summary.stopped_by in EXIT_SIGNAL:
        sys.exit(EXIT_SIGNAL[summary.stopped_by])


def _run_and_report(plan: Plan, kwargs: dict[str, Any]) -> Summary:
    options = RunOptions(
        seed=kwargs.get("seed"),
        insecure=bool(kwargs.get("insecure")),
        scenario_name=kwargs.get("scenario_name"),
        solo=bool(kwargs.get("solo")),
    )
    quiet = bool(kwargs.get("quiet"))
    observer = ConsoleObserver(sys.stdout, live=sys.stdout.isatty(), quiet=quiet)
    engine = Engine(plan, options, observer)
    if not quiet:
        phases = f"{len(plan.phases)} phase{'' if len(plan.phases) == 1 else 's'}"
        click.echo(f"Running {plan.source} against {plan.target} ({phases})")
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    result = run_on_uvloop(_with_signals(engine))
    observer.finish()
    summary = summarize(plan, result, started_at)
    click.echo(format_summary(summary))
    path = kwargs.get("output") or _default_report_path(plan.source)
    written = write_json(summary, path)
    click.echo(f"Report: {written}")
    return summary


async def _with_signals(engine: Engine) -> RunResult:
    loop = asyncio.get_running_loop()
    for name in EXIT_SIGNAL:
        loop.add_signal_handler(getattr(signal, name), engine.stop, name)
    try:
        return await engine.run()
    finally:
        for name in EXIT_SIGNAL:
            loop.remove_signal_handler(getattr(signal, name))


def _default_report_path(source: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem) or "plan"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"yamlload-report-{stem}-{stamp}.json"


class _DemoTarget:
    """Start `yamlload target` in its own process, so it never competes with the
    generator's event loop, and stop it afterwards."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str | None:
        if not self.wanted:
            return None
        command = [sys.executable, "-m", "yamlload", "target", "--host", "127.0.0.1", "--port", "0"]
        # Its own session: a Ctrl-C meant for the run must not kill the target first.
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"(http://\S+)", line)
        if not found:
            self.__exit__()
            raise UsageError("the demo target did not start")
        return found.group(1)

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=int, help="Port (0 picks a free one)."
)
def target(host: str, port: int) -> None:
    """Serve the bundled demo API (a small shop) until stopped.

    Endpoints: POST /auth/login, GET /products, GET /products/{id}, GET /search?q=,
    POST /orders, GET /orders/{id}, POST /admin/reset, GET /health, and for tests
    GET /delay/{ms}, /status/{code}, /bytes/{n}, /echo, /cookies/set.
    """
    run_on_uvloop(_serve_demo(host, port))


async def _serve_demo(host: str, port: int) -> None:
    from ._target import start_demo_target

    runner, url = await start_demo_target(host, port)
    print(f"yamlload demo target listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    await stop.wait()
    await runner.cleanup()


@cli.command()
@click.argument("url")
@click.option("-c", "--count", default=10, show_default=True, help="Virtual users to start.")
@click.option("-n", "--num", default=10, show_default=True, help="Requests each user sends.")
@click.option("-r", "--rate", type=float, help="Start users at this rate per second instead.")
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
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    origin, path = found.group(1), found.group(2) or "/"
    phase = (
        {"duration": duration, "arrivalRate": rate}
        if rate
        else {"duration": 1, "arrivalCount": count}
    )
    document = {
        "config": {"target": origin, "phases": [phase]},
        "scenarios": [
            {"name": "quick", "flow": [{"loop": [{"get": {"url": path}}], "count": num}]}
        ],
    }
    plan = compile_document(located_from_data(document, "quick"), "quick", PlanOptions())
    summary = _run_and_report(plan, kwargs)
    if summary.stopped_by in EXIT_SIGNAL:
        sys.exit(EXIT_SIGNAL[summary.stopped_by])


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def main() -> None:
    cli(prog_name="yamlload")
