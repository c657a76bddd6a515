"""The run's side of the monitor's worker process (worker.py): an async client that hands
a Prometheus source's page to the worker and waits for its values, within a time limit,
never raising.

One `Evaluator` per run (per event loop), shared by all its Prometheus sources: `shared()`
gives the running loop's, made at the first scrape; each source `join`s it and `leave`s
it when closed, and the last to leave closes it, killing and reaping the worker. The
worker is started at the first request.

One request at a time goes to the worker (a lock). A request waits for the one before at
most as long as one may take, then is an error value rather than queue up behind a stuck
one. A request the worker has not answered within its limit is an error value, and the
worker is killed: it is stuck in a regex, and nothing but a signal stops that. A worker
that died is an error value too. Either way the next request starts a fresh worker, which
has no previous scrape: each source's next rate() is None once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal

from .._child import python_command
from .values import SampleError
from .worker import FRAME, MAX_FRAME_BYTES, MODULE, Reply, Request, request_head

# A page goes to the worker in pieces of this size, each written before the next: the
# pipe's buffer holds at most one, never another copy of the whole page.
WRITE_CHUNK_BYTES = 256 * 1024
# Killing a worker waits this long for it to be gone (SIGKILL takes effect at once).
REAP_TIMEOUT_SECONDS = 5.0

Worker = asyncio.subprocess.Process
_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows: TerminateProcess either way


class Evaluator:
    """The run's monitor worker: requests in, replies or error values out."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed = False
        self._users: set[object] = set()
        self._lock = asyncio.Lock()
        self._worker: Worker | None = None
        self._exchanges: set[asyncio.Future[Reply | SampleError]] = set()

    def join(self, user: object) -> None:
        self._users.add(user)

    async def leave(self, user: object) -> None:
        """`user` is done with the worker; the last to leave closes it."""
        self._users.discard(user)
        if not self._users:
            await self.close()

    async def evaluate(self, request: Request, timeout: float) -> Reply | SampleError:
        """The worker's reply to `request` within `timeout` of the worker being free, or
        why there is none; waiting for the worker at most `timeout` too."""
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout)
        except asyncio.TimeoutError:
            return SampleError(f"the monitor worker was busy with other pages for {timeout:g}s")
        exchange = asyncio.ensure_future(self._exchange(request, timeout))
        self._exchanges.add(exchange)
        exchange.add_done_callback(self._exchanges.discard)
        # A caller that gives up leaves the exchange to end (within `timeout`): a reply
        # read by nobody would be read as the next request's.
        return await asyncio.shield(exchange)

    async def close(self) -> None:
        """Kill the worker and reap it; a request in flight ends as an error value."""
        global _shared
        self.closed = True
        if _shared is self:
            _shared = None
        await self._kill()
        if self._exchanges:
            await asyncio.wait(self._exchanges, timeout=REAP_TIMEOUT_SECONDS)

    async def _exchange(self, request: Request, timeout: float) -> Reply | SampleError:
        try:
            return await self._ask(request, timeout)
        finally:
            self._lock.release()

    async def _ask(self, request: Request, timeout: float) -> Reply | SampleError:
        worker = self._worker or await self._start()
        if isinstance(worker, SampleError):
            return worker
        try:
            return await asyncio.wait_for(_send(worker, request), timeout)
        except asyncio.TimeoutError:
            await self._kill()
            return SampleError(f"its selectors took longer than {timeout:g}s to evaluate")
        except Exception:  # the worker died, or its stream broke: it is out of step
            return SampleError(_ended(await self._kill()))
        except BaseException:  # the loop is shutting down: no await, only the signal
            _kill_now(worker)
            raise

    async def _start(self) -> Worker | SampleError:
        if self.closed:
            return SampleError("the monitor worker has been closed")
        try:
            worker = await asyncio.create_subprocess_exec(
                *python_command(MODULE),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except Exception as exc:  # no such executable, no more processes, ...
            return SampleError(f"cannot start the monitor worker: {type(exc).__name__}: {exc}")
        if self.closed:  # closed while it started
            await _reap(worker)
            return SampleError("the monitor worker has been closed")
        self._worker = worker
        return worker

    async def _kill(self) -> int | None:
        """Kill the worker, if any, and reap it; its exit code (None: not known)."""
        worker, self._worker = self._worker, None
        return await _reap(worker) if worker is not None else None


_shared: Evaluator | None = None


def shared() -> Evaluator:
    """The running loop's evaluator: the one made at the loop's first scrape, or a new one
    once that has been closed."""
    global _shared
    if _shared is None or _shared.closed or _shared.loop is not asyncio.get_running_loop():
        _shared = Evaluator()
    return _shared


async def _send(worker: Worker, request: Request) -> Reply:
    """One request written, its reply read; raises when the stream is broken."""
    if worker.stdin is None or worker.stdout is None:
        raise ValueError("the worker has no pipes")
    worker.stdin.write(request_head(request))
    page = memoryview(request.body)
    for start in range(0, len(page), WRITE_CHUNK_BYTES):
        worker.stdin.write(page[start : start + WRITE_CHUNK_BYTES])
        await worker.stdin.drain()
    await worker.stdin.drain()
    (size,) = FRAME.unpack(await worker.stdout.readexactly(FRAME.size))
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"a reply of {size} bytes")
    reply = pickle.loads(await worker.stdout.readexactly(size))
    if not isinstance(reply, (dict, str)):
        raise ValueError(f"a reply of type {type(reply).__name__}")
    return reply


async def _reap(worker: Worker) -> int | None:
    _kill_now(worker)
    if worker.stdin is not None:
        worker.stdin.close()
    try:
        return await asyncio.wait_for(worker.wait(), REAP_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return None


def _kill_now(worker: Worker) -> None:
    """SIGKILL, unless the worker is known to be gone. Not `Process.kill()`: it polls
    first, and a poll that reaps a worker that died by itself takes its exit code from
    asyncio's watcher (which then reports 255)."""
    if worker.returncode is None:  # not reaped yet: the pid is still the worker's
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, _SIGKILL)


def _ended(code: int | None) -> str:
    if code is None:
        return "the monitor worker ended"
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return f"the monitor worker ended ({how})"
