"""`--out jsonl=FILE`: each second's points (points.py) as JSON lines, in the shape of
k6's `--out json`: a `Metric` line the first time a metric appears, then a `Point` line
per metric (and tag set) per second.

    {"type":"Metric","metric":"http.requests","data":{"type":"counter"}}
    {"type":"Point","metric":"http.requests","data":{"time":"2026-01-01T12:00:01.002Z",
     "value":12,"tags":{"endpoint":"GET /a","code":"200"}}}

Counter values are the second's deltas (they add up to the report's totals); gauges are
the second's statistics in ms. The file is opened (and emptied) before any traffic: one
that cannot be is exit 2. Lines go through a buffer flushed once a second, so the loop
never waits on the disk for more than a second's few kilobytes; a write that fails after
the start is counted (yamlload.output_errors) and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import TextIO

from ..errors import UsageError
from ..metrics.live import LiveSeries
from ..plan.ir import LiveOutput
from ..results.run import Progress
from .failures import OutputFailed
from .points import second_points, wanted

# The file's buffer: a busy second's lines fit, so each second is one write to the disk.
BUFFER_BYTES = 256 * 1024


class JsonlOutput:
    """A Watcher (runtime/options.py) that appends each second to a file."""

    def __init__(self, output: LiveOutput, mask: Callable[[str], str]) -> None:
        self.output = output
        self.path = output.target
        self.mask = mask
        # The prefix and the tags, keys too, are the command line's: a secret may be in them.
        self.prefix = mask(output.prefix or "")
        self.tags = {mask(key): mask(value) for key, value in output.tags}
        self.file: TextIO | None = None
        self.declared: set[str] = set()  # metrics whose Metric line was written

    async def start(self) -> None:
        try:
            self.file = open(self.path, "w", encoding="utf-8", buffering=BUFFER_BYTES)  # noqa: SIM115
        except OSError as exc:
            where = self.output.origin or f"--out jsonl={self.path}"
            raise UsageError(f"{where}: cannot write {self.path}: {exc.strerror or exc}") from None

    def second(self, live: LiveSeries, progress: Progress) -> None:
        try:
            self.write(live, progress)
        except OSError as exc:  # a full disk, a file gone read-only: counted by the ticker
            raise OutputFailed(f"jsonl {self.path}: {exc.strerror or exc}") from None

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        if self.file is None:
            return
        try:
            self.second(live, progress)
        finally:
            try:
                self.file.close()
            except OSError as exc:
                raise OutputFailed(f"jsonl {self.path}: {exc.strerror or exc}") from None

    def write(self, live: LiveSeries, progress: Progress) -> None:
        if self.file is None or not live.seconds:
            return
        time = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        time = time.replace("+00:00", "Z")
        lines: list[str] = []
        for point in second_points(live.seconds[-1], progress.active, self.mask):
            if not wanted(point.metric, self.output.include, self.output.exclude):
                continue
            metric = self.prefix + point.metric
            if metric not in self.declared:
                self.declared.add(metric)
                lines.append(_line("Metric", metric, {"type": point.kind}))
            data = {"time": time, "value": point.value, "tags": {**self.tags, **dict(point.tags)}}
            lines.append(_line("Point", metric, data))
        self.file.write("".join(lines))
        self.file.flush()


def _line(kind: str, metric: str, data: dict[str, object]) -> str:
    return json.dumps({"type": kind, "metric": metric, "data": data}, separators=(",", ":")) + "\n"
