"""Sources of config.monitor (issue 17): what the run's sampling loop asks, every
interval, for the system under test's metrics.

A `Source` has a `name`, the `metrics` it gives, and an async `sample()` returning each
metric's value (None when it has none this time) or a `SampleError` value when the
source could not be sampled: never an exception, so an unreachable source is counted and
the run goes on. Call `sample` one at a time per source, and `close` at the end.

- `PrometheusSource` scrapes a Prometheus text endpoint over HTTP (aiohttp, imported on
  the first scrape), within a timeout, reading at most MAX_BODY_BYTES. The body is parsed,
  and the selectors evaluated, in the run's monitor worker process (worker.py, through
  evaluator.py), within EVALUATE_TIMEOUT_SECONDS: never in the process that makes the
  load, where a catastrophic regex would hold the GIL, and so everything, for good. The
  worker keeps the previous good scrape for rate().
- `ProcessSource` samples a local process through psutil, off the event loop (psutil
  reads /proc).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import evaluator, exposition
from .process import PROCESS_METRICS, ProcessSampler
from .selector import Expr
from .values import Reading, SampleError
from .worker import Request

# A scrape that has not answered (body included) within this long has failed.
SCRAPE_TIMEOUT_SECONDS = 5.0
# Selectors still evaluating this long after the body went to the worker are given up
# (an error value) and the worker is killed; a sample waits for the worker to be free
# (another source's page) at most this long too.
EVALUATE_TIMEOUT_SECONDS = 2.0
# A larger body is an error value, not read further: the parser's own cap.
MAX_BODY_BYTES = exposition.MAX_EXPOSITION_BYTES
# A body is read in pieces of up to this size: a big page costs the run's loop fewer
# turns (64 KiB pieces took twice the CPU of these for a 15 MB page).
READ_CHUNK_BYTES = 1024 * 1024
# The part of a failure's text kept in its message.
MESSAGE_CHARS = 200
ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# Each source's own key in the worker (two sources of one name must not share a rate()).
_KEYS = itertools.count(1)


class Source:
    """Something sampled while a run goes on."""

    name: str
    metrics: tuple[str, ...]

    async def sample(self) -> Reading:
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of what the source holds (a connection); it may not be sampled after."""


class PrometheusSource(Source):
    """A Prometheus text endpoint at `url`, each metric a selector (`metrics`)."""

    def __init__(
        self,
        name: str,
        url: str,
        metrics: Mapping[str, Expr],
        timeout: float = SCRAPE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.url = url
        self.selectors = dict(metrics)
        self.metrics = tuple(self.selectors)
        self.timeout = timeout
        self.clock = clock
        self.keep = frozenset().union(*(e.metric_names for e in self.selectors.values()))
        self._session: Any = None  # an aiohttp.ClientSession, made on the first scrape
        self._key = f"{name}#{next(_KEYS)}"
        self._texts = tuple((metric, e.text) for metric, e in self.selectors.items())
        self._evaluator: evaluator.Evaluator | None = None  # the run's, at the first scrape

    async def sample(self) -> Reading:
        at = self.clock()
        body = await self._fetch()
        if isinstance(body, SampleError):
            return body
        if self._evaluator is None or self._evaluator.closed:
            self._evaluator = evaluator.shared()
            self._evaluator.join(self)
        request = Request(self._key, self._texts, body, at)
        reply = await self._evaluator.evaluate(request, EVALUATE_TIMEOUT_SECONDS)
        return SampleError(_one_line(reply)) if isinstance(reply, str) else reply

    async def close(self) -> None:
        try:
            if self._session is not None:
                await self._session.close()
                self._session = None
        finally:
            if self._evaluator is not None:
                done, self._evaluator = self._evaluator, None
                await done.leave(self)  # the last source to leave kills the worker

    async def _fetch(self) -> bytes | SampleError:
        """The endpoint's body, or why there is none: within the timeout, at most
        MAX_BODY_BYTES."""
        import aiohttp  # only a run that monitors an endpoint loads it

        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        try:
            return await asyncio.wait_for(self._get(self._session), self.timeout)
        except asyncio.TimeoutError:
            return SampleError(f"no answer within {self.timeout:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            said = _describe(exc, aiohttp).replace(self.url, "the URL")
            return SampleError(_one_line(said))

    async def _get(self, session: Any) -> bytes | SampleError:
        async with session.get(self.url, headers={"Accept": ACCEPT}) as response:
            if response.status != 200:
                return SampleError(_one_line(f"HTTP {response.status}"))
            length = response.content_length
            if length is not None and length > MAX_BODY_BYTES:
                return _too_big()
            chunks: list[bytes] = []
            size = 0
            while chunk := await response.content.read(READ_CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    return _too_big()
                chunks.append(chunk)
            return b"".join(chunks)


class ProcessSource(Source):
    """A local process by `pid`, or the processes named `process` (process.py)."""

    def __init__(self, name: str, pid: int | None = None, process: str | None = None) -> None:
        self.name = name
        self.metrics = PROCESS_METRICS
        self.sampler = ProcessSampler(pid=pid, name=process)
        # a cancelled sample's thread may still run: the next waits for it
        self._lock = threading.Lock()

    async def sample(self) -> Reading:
        return await asyncio.to_thread(self._sample)

    def _sample(self) -> Reading:
        with self._lock:
            return self.sampler.sample()


def _describe(exc: Exception, aiohttp: Any) -> str:
    """A failed scrape in a line, without the URL (it may hold a password)."""
    if isinstance(exc, (aiohttp.InvalidURL, ValueError)):
        return "not a URL"
    if isinstance(exc, getattr(aiohttp, "NonHttpUrlClientError", ())):
        return "not an http:// or https:// URL"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or exc.os_error
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _too_big() -> SampleError:
    return SampleError(f"the body is larger than {MAX_BODY_BYTES} bytes")


def _one_line(text: str) -> str:
    """A failure's text fit for a line of the console: no control characters, cut."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= MESSAGE_CHARS else flat[: MESSAGE_CHARS - 1] + "…"
