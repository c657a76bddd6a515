"""The exception tree: every error a user can see, in one place.

Each error knows its exit code and how to show itself (click's manner), so the CLI
never has to guess. A failed request is *not* an exception: the engine records it as
a value in the results. Only things that stop the tool itself live here.

    YamlloadError            exit 1 unless a subclass says otherwise
    ├── UsageError           exit 2: a flag, a file or a value given on the command line
    ├── PlanError            exit 2: one or more positioned problems in a plan
    ├── StoppedEarly         exit 128 + the signal: stopped before any request was sent
    └── InternalError        exit 70: a bug in yamlload (always a bug, never user input)

    OutputFailed             never an exit: a live output (StatsD, a Pushgateway, JSON
                             lines) could not deliver; counted and told, the run goes on
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _entry

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INVALID_RUN = 3
EXIT_OUTPUT_FAILED = 4  # a report could not be written (report/outputs.py's OutputError)
EXIT_INTERNAL = 70
# A run stopped by a signal exits 128 + its number, as a shell reports it (defined where
# the command's first step can read it without importing anything: _entry.py).
EXIT_SIGNAL = _entry.EXIT_SIGNAL


@dataclass(frozen=True, order=True)
class Pos:
    """A place in a source: `file` is a path or a label such as `--overrides`; 1-based."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a plan, with where it is."""

    pos: Pos
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}"


class YamlloadError(Exception):
    exit_code = 1

    def show(self) -> str:
        """The text a user sees, without a traceback."""
        return f"error: {self}"


class UsageError(YamlloadError):
    exit_code = EXIT_USAGE


class PlanError(YamlloadError):
    """Every problem found in a plan, reported together."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(set(problems), key=_problem_order))
        super().__init__("\n".join(str(p) for p in self.problems))

    def show(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class StoppedEarly(YamlloadError):
    """SIGINT, SIGTERM or SIGHUP before the load began: nothing was sent, nothing to
    report."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = EXIT_SIGNAL.get(signal_name, 1)

    def show(self) -> str:
        return _entry.stopped_early(self.signal_name)


class OutputFailed(Exception):
    """A live output could not deliver (a refused datagram, a failed push, a file that
    would not take a write). Not a YamlloadError: it never ends a run or sets an exit
    code; the ticker counts it (yamlload.output_errors) and tells it once."""


class InternalError(YamlloadError):
    exit_code = EXIT_INTERNAL

    def show(self) -> str:
        return f"internal error (a bug in yamlload, please report it): {self}"


def _problem_order(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.pos.file, problem.pos.line, problem.pos.col, problem.message)
