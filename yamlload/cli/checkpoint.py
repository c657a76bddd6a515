"""--checkpoint: the report so far, written where the final one will go, so a killed
run still leaves one."""

from __future__ import annotations

import threading

import click

from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..report.console import ConsoleObserver
from ..report.json import write_json
from ..report.outputs import OutputError
from ..results.run import RunResult
from ..results.summary import summarize

# A checkpoint at most once a day: larger values are surely a mistake in units.
MAX_CHECKPOINT_SECONDS = 86_400.0


class Checkpoint:
    """A failed write is said once and the run goes on: the load matters more than the
    file.

    `write` runs on a thread of the engine's; `close` waits for a write in progress and
    stops later ones, so a checkpoint can never land on top of the final report."""

    def __init__(
        self,
        plan: Plan,
        started_at: str,
        path: str,
        observer: ConsoleObserver,
        redactor: Redactor,
        revision: str | None = None,
    ) -> None:
        self.plan, self.started_at, self.path = plan, started_at, path
        self.revision = revision
        self.observer, self.redactor = observer, redactor
        self.failed = False
        self.closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self.closed = True

    def write(self, result: RunResult) -> None:
        with self._lock:
            if not self.closed:
                self._write(result)

    def _write(self, result: RunResult) -> None:
        partial = summarize(self.plan, result, self.started_at, redactor=self.redactor)
        partial.checkpoint = True
        partial.revision = self.revision  # not graded: the run is not over
        try:
            write_json(partial, self.path, what="the checkpoint", compact=True)
        except OutputError as exc:  # its temporary file is already removed
            if not self.failed:
                message = f"warning: checkpoint not written: {exc}"
                if self.observer.quiet:
                    click.echo(message, err=True)
                else:
                    self.observer.log(message)
            self.failed = True
