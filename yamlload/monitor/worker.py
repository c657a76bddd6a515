"""The monitor's worker process: Prometheus pages parsed, and their selectors evaluated,
away from the process that makes the load (config.monitor, issue 17).

Why a process and not a thread: Python's `re` holds the GIL for as long as one match
runs, so a catastrophic regex in a label matcher (`(a|a)*b` against a long label value)
froze the whole run, its signal handling included, and parsing a page of many MB took
the GIL from the load. Here a stuck match stops only this process, which the run kills
(evaluator.py), and a big page costs this process's memory, capped at MEMORY_LIMIT_BYTES.

Run as `python -m yamlload.monitor.worker`, one per run for all its Prometheus sources.
Requests come on stdin and replies go on stdout, one at a time, in frames: a length
(FRAME) then that many bytes. A `Request` is two frames, a pickle of all but its page
(`request_head`), then the page as it came; the reply is one frame, a pickle of each
metric's value or of why there is none, in a line (`Reply`). Both ends are this package,
so pickle is safe; the page, from a server we do not control, is only ever bytes.
The worker keeps each source's previous good scrape, and when it was taken, for rate().

It ignores SIGINT (a Ctrl-C at a terminal reaches the whole process group; the run
decides), ends when its stdin closes (the run is gone), and gives a request up by itself
after SELF_LIMIT_SECONDS: a worker whose run was SIGKILLed in the middle of a regex
ends too, rather than burn a CPU with nobody to kill it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
from types import FrameType
from typing import BinaryIO, NamedTuple, TypeAlias

from . import exposition
from .selector import Expr, Samples, parse

MODULE = "yamlload.monitor.worker"
# The worker's address space: a page that needs more is an error value (MemoryError),
# never memory taken from the load. A 15 MB page of 85,000 series of ten labels each
# takes about 250 MB to parse, and 140 MB kept for a source that uses rate().
MEMORY_LIMIT_BYTES = 1 << 30
# The run gives a request up after EVALUATE_TIMEOUT_SECONDS (source.py) and kills the
# worker; this is for a worker that outlived its run.
SELF_LIMIT_SECONDS = 10.0
# The worker's CPU priority below the run's (os.nice): on a machine with fewer free
# cores than busy processes, the load comes first, the pages after.
NICENESS = 10
# Each frame: its length, then its bytes (a pickle, or a page). A longer frame than
# MAX_FRAME_BYTES is a broken stream.
FRAME = struct.Struct(">I")
MAX_FRAME_BYTES = 2 * exposition.MAX_EXPOSITION_BYTES


class Request(NamedTuple):
    """One scrape to evaluate: whose (`key`, one per source), each metric's selector
    text, the page, and when it was fetched (seconds on the run's monotonic clock)."""

    key: str
    selectors: tuple[tuple[str, str], ...]
    body: bytes
    at: float


# Each metric's value (None when it has none this time), or why there is none at all.
Reply: TypeAlias = "dict[str, float | None] | str"


class _Overtime(Exception):
    """SELF_LIMIT_SECONDS passed (raised by SIGALRM's handler, even inside `re`)."""


class Worker:
    """What the worker keeps between requests: parsed selectors, previous scrapes."""

    def __init__(self, memory_limit: int | None = None) -> None:
        self.memory_limit = memory_limit  # what _cap_memory set, for the message
        self.parsed: dict[str, Expr] = {}
        self.previous: dict[str, tuple[Samples, float]] = {}

    def answer(self, request: Request) -> Reply:
        """The reply to one request; never raises (a bug of ours is an error value)."""
        _alarm(SELF_LIMIT_SECONDS)
        try:
            return self._evaluate(request)
        except MemoryError:
            self.previous.pop(request.key, None)  # whatever memory it held, let it go
            limit = f" ({self.memory_limit >> 20} MiB)" if self.memory_limit else ""
            return f"the page needs more memory than the monitor worker may take{limit}"
        except _Overtime:
            return f"its selectors took longer than {SELF_LIMIT_SECONDS:g}s to evaluate"
        except Exception as exc:
            return f"the monitor worker failed: {type(exc).__name__}: {exc}"
        finally:
            _alarm(0)

    def _evaluate(self, request: Request) -> Reply:
        exprs = {name: self._parsed(text) for name, text in request.selectors}
        keep = frozenset().union(*(e.metric_names for e in exprs.values()))
        page = exposition.parse_exposition(request.body, keep)
        if page.truncated:
            return f"more than {exposition.MAX_SAMPLES} samples of the metrics asked for"
        if page.lines and page.malformed == page.lines:
            return f"not Prometheus text: none of its {page.lines} lines is a sample"
        now = page.by_name()
        before, before_at = self.previous.get(request.key, (None, 0.0))
        seconds = request.at - before_at if before is not None else None
        values = {name: e.evaluate(now, before, seconds) for name, e in exprs.items()}
        # only rate() reads the previous scrape: a source without one keeps no page
        kept = now if any(e.uses_rate for e in exprs.values()) else {}
        self.previous[request.key] = (kept, request.at)
        return values

    def _parsed(self, text: str) -> Expr:
        """A selector parsed once (the plan's compiler has checked it already)."""
        if text not in self.parsed:
            self.parsed[text] = parse(text)
        return self.parsed[text]


def request_head(request: Request) -> bytes:
    """What goes before a request's page: the rest of it, then the page's frame length."""
    head = pickle.dumps((request.key, request.selectors, request.at), pickle.HIGHEST_PROTOCOL)
    return framed(head) + FRAME.pack(len(request.body))


def read_request(stream: BinaryIO) -> Request | None:
    """The next request, or None at the end of the stream."""
    head = read_frame(stream)
    body = read_frame(stream) if head is not None else None
    if head is None or body is None:
        return None
    key, selectors, at = pickle.loads(head)
    return Request(key, selectors, body, at)


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame's bytes, or None at the end of the stream."""
    header = stream.read(FRAME.size)
    if len(header) < FRAME.size:
        return None
    (size,) = FRAME.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {size} bytes")
    data = stream.read(size)
    return data if len(data) == size else None


def framed(data: bytes) -> bytes:
    return FRAME.pack(len(data)) + data


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _overtime)
    limit = _cap_memory(MEMORY_LIMIT_BYTES)
    _lower_priority(NICENESS)
    requests = sys.stdin.buffer
    # The protocol has stdout's descriptor to itself: a stray print goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    worker = Worker(limit)
    while (request := read_request(requests)) is not None:
        replies.write(framed(pickle.dumps(worker.answer(request), pickle.HIGHEST_PROTOCOL)))
        replies.flush()


def _cap_memory(limit: int) -> int | None:
    """Lower the address-space limit to `limit` (never raise it); the limit now, None
    where there is none (not POSIX: the run's time limit still bounds a page)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (ValueError, OSError):  # refused here: the run's time limit still bounds a page
        return None if soft == resource.RLIM_INFINITY else soft
    return wanted


def _lower_priority(increment: int) -> None:
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # a worker at its lowest already
            os.nice(increment)


def _alarm(seconds: float) -> None:
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, seconds)


def _overtime(signum: int, stack: FrameType | None) -> None:
    raise _Overtime


if __name__ == "__main__":
    main()
