"""The `yamlload` command: the click group, its global options, and every yamlload
error as its message and exit code. The only package that reads flags, the environment
and the clock.

Each command's module is imported only when that command runs (click's LazyGroup
pattern), so `yamlload report`, `compare`, `merge` and `trend` never load the runtime (aiohttp,
uvloop): they start fast and work where the runtime could not load.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
from typing import Any

import click

from .._version import __version__
from ..errors import EXIT_SIGNAL, InternalError, StoppedEarly, YamlloadError

# Each command, and the module of this package that defines it under that name.
COMMANDS = {
    "capacity": "capacity",
    "compare": "reports",
    "convert": "convert",
    "init": "init",
    "merge": "reports",
    "quick": "quick",
    "report": "reports",
    "run": "run",
    "schema": "plans",
    "target": "demo",
    "trend": "trend",
    "validate": "plans",
}


class _Group(click.Group):
    """Loads each command on demand, and turns every yamlload error into its message and
    exit code, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module = importlib.import_module(f"{__package__}.{COMMANDS[cmd_name]}")
        command = getattr(module, cmd_name)
        assert isinstance(command, click.Command), f"{module.__name__}.{cmd_name}"
        return command

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="yamlload")
def cli() -> None:
    """Load testing from a declarative YAML plan (Artillery-compatible)."""


def tolerate_lost_stdout() -> None:
    """For `run` and `quick`: standard output that cannot be written (a full disk) is a
    warning, and the run goes on to write its report (see _ReaderGone)."""
    if isinstance(sys.stdout, _ReaderGone):
        sys.stdout.tolerant = True


class _ReaderGone:
    """stdout for `yamlload … | head`: once the reader closes the pipe, what is printed
    goes nowhere, and the run goes on to write its report and exit as it would have.
    (A BrokenPipeError would otherwise end the run as if yamlload had a bug.) For a
    command whose product is a file (`run`, `quick`: see `tolerate_lost_stdout`), the
    same when standard output cannot be written (a full disk, `> /dev/full`): said once
    on standard error, and the run goes on to its report; for the others (`validate`),
    that error is theirs to report."""

    tolerant = False

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return int(self._stream.write(text))
            except OSError as exc:
                if not (self.tolerant or isinstance(exc, BrokenPipeError)):
                    raise  # the command's to report (validate: exit 4)
                self._lose_the_reader(exc)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as exc:
                if not (self.tolerant or isinstance(exc, BrokenPipeError)):
                    raise  # the command's to report (validate: exit 4)
                self._lose_the_reader(exc)

    def _lose_the_reader(self, exc: OSError) -> None:
        self.gone = True
        if self.tolerant and not isinstance(exc, BrokenPipeError):  # a reader is there
            why = exc.strerror or str(exc)
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"warning: could not write to standard output: {why}\n")
        # Python flushes stdout again at exit: point the descriptor at /dev/null first.
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    _fill_closed_standard_streams()
    _stop_on_signals()
    if sys.stdout is None:  # started with standard output closed (`>&-`)
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (for the process's life)
    sys.stdout = _ReaderGone(sys.stdout)
    try:
        cli(prog_name="yamlload")
    except StoppedEarly as exc:  # while click read the command line
        click.echo(exc.show(), err=True)
        sys.exit(exc.exit_code)


def _fill_closed_standard_streams() -> None:
    """Started with descriptor 0, 1 or 2 closed (`2>&-`), the process would hand that
    number to a socket or the event loop's own pipe, which uvloop then refuses to close
    (an abort, no report): each closed one is /dev/null instead."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one


def _stop_on_signals() -> None:
    """Until a command takes them over (run's StopSignals, the engine), Ctrl-C, SIGTERM
    and SIGHUP end yamlload with their own exit code and one line: a KeyboardInterrupt
    there was a traceback, or click's "Aborted!" and exit 1."""

    def stop(signum: int, _: Any) -> None:
        raise StoppedEarly(signal.Signals(signum).name)

    for name in EXIT_SIGNAL:
        if hasattr(signal, name):  # Windows has no SIGHUP
            signal.signal(getattr(signal, name), stop)
