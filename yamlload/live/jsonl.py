"""`--out jsonl=FILE`: each second's points (points.py) as JSON lines, in the shape of
k6's `--out json`: a `Metric` line the first time a metric appears, then a `Point` line
per metric (and tag set) per second.

    {"type":"Metric","metric":"http.requests","data":{"type":"counter"}}
    {"type":"Point","metric":"http.requests","data":{"time":"2026-01-01T12:00:01.002Z",
     "value":12,"tags":{"endpoint":"GET /a","code":"200"}}}

Counter values are the second's deltas (they add up to the report's totals); gauges are
the second's statistics in ms.

The file is written only if it is a regular file (or a new one), checked and emptied
before any traffic; anything else is exit 2: a FIFO or a socket (its reader, or the lack
of one, would hold up the run), a device, and the file behind this process's standard
output or error (the console's lines and the JSON lines would be mixed). The file is
opened where it is and never replaced by a rename.

The loop never writes: each second's lines go to a writer thread through a queue of at
most MAX_QUEUED_SECONDS seconds; when it is full (a disk that stalls), the second's lines
are dropped and counted (yamlload.output_errors) rather than waited for. A write that
fails is counted too, and the run goes on. The run's end waits at most
CLOSE_TIMEOUT_SECONDS for the file to be written and closed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import queue
import stat
import threading
from collections.abc import Callable
from typing import TextIO

from ..errors import UsageError
from ..metrics.live import LiveSeries
from ..plan.ir import LiveOutput
from ..results.run import Progress
from .failures import Failures
from .points import second_points, wanted

# The file's buffer: a busy second's lines fit, so each second is one write to the disk.
BUFFER_BYTES = 256 * 1024
# Seconds of lines waiting for the writer thread, at most: past it a second's lines are
# dropped and counted, never waited for, so a stalled disk holds neither the run nor
# more than this much memory.
MAX_QUEUED_SECONDS = 30
# The run's end waits at most this long for the writer to write what is queued and
# close the file; a writer still stuck after it is left behind (and counted).
CLOSE_TIMEOUT_SECONDS = 1.0
# What each kind of file that is not a regular one is called in the refusal.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)
# This process's own streams: a path that is the file behind one is refused.
_STREAMS = ((1, "output"), (2, "error"))


class JsonlOutput:
    """A Watcher (runtime/options.py) that appends each second to a file, from a thread."""

    def __init__(self, output: LiveOutput, mask: Callable[[str], str]) -> None:
        self.output = output
        self.path = output.target
        self.mask = mask
        # The prefix and the tags, keys too, are the command line's: a secret may be in them.
        self.prefix = mask(output.prefix or "")
        self.tags = {mask(key): mask(value) for key, value in output.tags}
        self.failures = Failures(f"jsonl {mask(self.path)}")
        self.name = self.failures.name
        self.writer: _Writer | None = None
        self.declared: set[str] = set()  # metrics whose Metric line was written

    async def start(self) -> None:
        where = self.mask(self.output.origin or f"--out jsonl={self.path}")
        fd = open_regular(self.path, where)
        try:
            file = os.fdopen(fd, "w", encoding="utf-8", buffering=BUFFER_BYTES)
        except BaseException:
            os.close(fd)
            raise
        self.writer = _Writer(file, f"jsonl {self.mask(self.path)}")
        self.writer.start()

    def second(self, live: LiveSeries, progress: Progress) -> None:
        self.write(live, progress)
        self.raise_any()

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        writer = self.writer
        if writer is None:
            return
        self.write(live, progress)
        writer.close()
        await asyncio.to_thread(writer.join, CLOSE_TIMEOUT_SECONDS)
        if writer.is_alive():
            self.failures.add(f"the file took over {CLOSE_TIMEOUT_SECONDS:g} s to be written")
        self.raise_any()

    def raise_any(self) -> None:
        if self.writer is not None:
            for why in self.writer.failed():
                self.failures.add(why)
        self.failures.raise_any()

    def write(self, live: LiveSeries, progress: Progress) -> None:
        """The newest second's lines, to the writer; dropped and counted when it is
        MAX_QUEUED_SECONDS behind."""
        if self.writer is None or not live.seconds:
            return
        time = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        time = time.replace("+00:00", "Z")
        lines: list[str] = []
        declared: list[str] = []
        for point in second_points(live.seconds[-1], progress.active, self.mask):
            if not wanted(point.metric, self.output.include, self.output.exclude):
                continue
            metric = self.prefix + point.metric
            if metric not in self.declared:
                self.declared.add(metric)
                declared.append(metric)
                lines.append(_line("Metric", metric, {"type": point.kind}))
            data = {"time": time, "value": point.value, "tags": {**self.tags, **dict(point.tags)}}
            lines.append(_line("Point", metric, data))
        if not self.writer.offer("".join(lines)):
            self.declared.difference_update(declared)  # declared again with the next point
            self.failures.add("the file is not keeping up; a second's lines were dropped")


class _Writer(threading.Thread):
    """Writes each chunk it is offered to `file`, flushed, then closes it."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(name=f"yamlload {name}", daemon=True)
        self.file = file
        # Unbounded as a queue, so that close() always gets in; offer() bounds it.
        self.chunks: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.errors: queue.SimpleQueue[str] = queue.SimpleQueue()

    def offer(self, chunk: str) -> bool:
        """Queue `chunk`; False (and nothing queued) when MAX_QUEUED_SECONDS are queued.
        Only the loop offers, so the size cannot grow between the look and the put."""
        if self.chunks.qsize() >= MAX_QUEUED_SECONDS:
            return False
        self.chunks.put(chunk)
        return True

    def close(self) -> None:
        self.chunks.put(None)

    def failed(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                out.append(self.errors.get_nowait())
            except queue.Empty:
                return out

    def run(self) -> None:
        try:
            while (chunk := self.chunks.get()) is not None:
                try:
                    _write_chunk(self.file, chunk)
                except OSError as exc:  # a full disk, a file gone read-only: counted
                    self.errors.put(str(exc.strerror or exc))
        finally:
            try:
                self.file.close()
            except OSError as exc:
                self.errors.put(str(exc.strerror or exc))


def _write_chunk(file: TextIO, chunk: str) -> None:
    file.write(chunk)
    file.flush()


def open_regular(path: str, where: str) -> int:
    """A descriptor open for writing on `path`, a regular file (created when missing)
    emptied; UsageError for anything else (see the module). Opened without O_TRUNC and
    with O_NONBLOCK, so that what is swapped in after the look (a FIFO with no reader)
    is refused rather than waited on, and the console's file is refused before it is
    emptied."""
    try:
        _refuse_unless_regular(os.stat(path), path, where)
    except FileNotFoundError:
        pass  # a new file
    except OSError as exc:
        raise UsageError(f"{where}: cannot write {path}: {exc.strerror or exc}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise UsageError(f"{where}: cannot write {path}: {exc.strerror or exc}") from None
    try:
        _refuse_unless_regular(os.fstat(fd), path, where)
        os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"{where}: cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_unless_regular(info: os.stat_result, path: str, where: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        raise UsageError(
            f"{where}: it is {kind}, not a regular file; JSON lines are written only to a "
            "file (a reader that is slow or missing would hold up the run)"
        )
    for fd, stream in _STREAMS:
        try:
            theirs = os.fstat(fd)
        except OSError:
            continue  # not open
        if (theirs.st_dev, theirs.st_ino) == (info.st_dev, info.st_ino):
            raise UsageError(
                f"{where}: {path} is this process's standard {stream}; the console's "
                "lines would be mixed into the JSON lines: give a file of its own"
            )


def _line(kind: str, metric: str, data: dict[str, object]) -> str:
    return json.dumps({"type": kind, "metric": metric, "data": data}, separators=(",", ":")) + "\n"
