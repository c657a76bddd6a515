"""`--out prometheus-push=URL` (and publish-metrics' prometheus): the run so far, in
Prometheus' text format (exposition.py), PUT to a Pushgateway once a period and once
at the end, from the run's loop.

The group is `URL/metrics/job/yamlload/instance/<host>-<pid>`, with the output's tags
as more grouping labels (a `job` or `instance` tag replaces ours). PUT replaces the
whole group each time: every push is the whole run so far. At most one push is in
flight: when the previous one has not finished by the next period, that period's is
skipped and counted. A push that fails, answers an error status or a redirect (never
followed), or takes longer than PUSH_TIMEOUT_SECONDS is counted
(yamlload.output_errors) and the run goes on; of an error answer only ANSWER_BYTES are
read. The run's end waits FINAL_PUSH_TIMEOUT_SECONDS at most, in all. aiohttp is
imported only when such an output starts.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from ..errors import UsageError
from ..metrics.live import LiveSeries
from ..metrics.periods import PERIOD_SECONDS
from ..plan.ir import LiveOutput
from ..results.run import Progress
from .exposition import CONTENT_TYPE, Snapshot, exposition
from .failures import Failures

# A push slower than this has failed: well under a period, so one is never still going
# when the next is due unless the gateway hangs.
PUSH_TIMEOUT_SECONDS = 5.0
# The run's end waits at most this long in all, for a push still going and the last
# one together: a gateway that hangs never holds up the exit after a signal.
FINAL_PUSH_TIMEOUT_SECONDS = 3.0
# The share of FINAL_PUSH_TIMEOUT_SECONDS a push still going at the end may take before
# it is cut (its numbers are older than the last push's); the rest is the last push's.
STILL_GOING_SHARE = 0.5
# How long a cut push is given to unwind (its connection closed) before the session is.
CUT_PUSH_SECONDS = 0.1
DEFAULT_JOB = "yamlload"
# At most this much of an error answer's body is read: what answers at the gateway's
# address may send gigabytes, and the rest is never read (the connection is dropped).
ANSWER_BYTES = 512
# The part of that answer quoted in the failure's line, cut after it is masked, so that
# a secret across the cut is masked whole.
ANSWER_CHARS = 200
_NAME_PREFIX = re.compile(r"^(# (?:HELP|TYPE) )?yamlload_", re.MULTILINE)
_PLAIN_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")
_RESERVED_START = re.compile(r"^__+")


class PushgatewayOutput:
    """A Watcher (runtime/options.py) that pushes the run so far every period."""

    def __init__(
        self, output: LiveOutput, methods: Mapping[str, str], mask: Callable[[str], str]
    ) -> None:
        self.output = output
        # Grouping labels are in the URL the gateway logs and shows: masked, names too.
        self.url = group_url(output.target, tuple((mask(k), mask(v)) for k, v in output.tags))
        self.methods = methods
        self.mask = mask
        # A secret in the prefix is masked, and its `***` made a name's characters.
        self.prefix = None if output.prefix is None else _masked_name(output.prefix, mask)
        self.failures = Failures(f"prometheus-push {mask(output.target)}")
        self.name = self.failures.name
        self.session: Any = None  # an aiohttp.ClientSession, made in start()
        self.pushing: asyncio.Task[None] | None = None
        self.period = 0  # the last period pushed (none is pushed during the first)

    async def start(self) -> None:
        """Check the Pushgateway's address can be had (its port, its host name looked
        up once), so a typo is exit 2 before any traffic, as live.md says."""
        import aiohttp  # only a run that pushes loads it
        from yarl import URL

        where = self.output.origin or "prometheus-push"
        try:
            url = URL(self.output.target)
            host, port = url.host, url.port
        except ValueError as exc:
            raise UsageError(f"{self.mask(where)}: not a URL: {exc}") from None
        if not host:
            raise UsageError(f"{self.mask(where)}: the URL has no host")
        try:
            await asyncio.get_running_loop().getaddrinfo(host, port)
        except OSError as exc:
            raise UsageError(
                f"{self.mask(where)}: cannot reach {host}: {exc.strerror or exc}"
            ) from None

        timeout = aiohttp.ClientTimeout(total=PUSH_TIMEOUT_SECONDS)
        self.session = aiohttp.ClientSession(timeout=timeout)

    def second(self, live: LiveSeries, progress: Progress) -> None:
        period = int(progress.elapsed // PERIOD_SECONDS)
        if period > self.period:
            self.period = period
            if self.pushing is not None and not self.pushing.done():
                self.failures.add("the previous push is still going; this one was skipped")
            else:
                self.pushing = asyncio.ensure_future(self.push(self.body(live, progress)))
        self.failures.raise_any()

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        """The last push, and one still going, within FINAL_PUSH_TIMEOUT_SECONDS in all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINAL_PUSH_TIMEOUT_SECONDS
        try:
            going = self.pushing
            if going is not None and not going.done():
                await asyncio.wait([going], timeout=FINAL_PUSH_TIMEOUT_SECONDS * STILL_GOING_SHARE)
                if not going.done():
                    await _cut(going)
                    self.failures.add("a push did not finish before the run's end")
            final = asyncio.ensure_future(self.push(self.body(live, progress)))
            await asyncio.wait([final], timeout=max(0.0, deadline - loop.time()))
            if not final.done():
                await _cut(final)
                self.failures.add(f"the last push took over {FINAL_PUSH_TIMEOUT_SECONDS:g} s")
        finally:
            if self.session is not None:
                await self.session.close()
        self.failures.raise_any()

    def body(self, live: LiveSeries, progress: Progress) -> bytes:
        text = exposition(
            Snapshot(live.total, progress.active, progress.elapsed, self.methods, (), self.mask)
        )
        if self.prefix is not None:
            text = _NAME_PREFIX.sub(rf"\g<1>{self.prefix}_", text)
        return text.encode("utf-8")

    async def push(self, body: bytes) -> None:
        """One PUT; what goes wrong is kept for the next second, never raised here. A
        redirect is not followed (each push would be sent again, up to ten times): a 3xx
        is a failure that names it."""
        try:
            headers = {"Content-Type": CONTENT_TYPE}
            async with self.session.put(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                if 300 <= answer.status < 400:
                    where = self.mask(answer.headers.get("Location", "")) or "nowhere"
                    self.failures.add(
                        f"HTTP {answer.status}: a redirect to {where[:ANSWER_CHARS]}, not "
                        "followed; give the Pushgateway's own URL"
                    )
                elif answer.status >= 400:
                    head = await _head(answer)
                    answer.close()  # the rest is never read: the connection goes
                    text = self.mask(head.decode("utf-8", "replace"))[:ANSWER_CHARS]
                    self.failures.add(f"HTTP {answer.status}: {text.strip()}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiohttp's ClientError, a timeout, OSError...
            # A connection that failed: the OS's words, without aiohttp's "ssl:default".
            cause = getattr(exc, "os_error", None)
            exc = cause if isinstance(cause, OSError) else exc
            why = str(exc) or "no answer in time"
            self.failures.add(self.mask(f"{type(exc).__name__}: {why}"))


async def _head(answer: Any) -> bytes:
    """At most ANSWER_BYTES of an answer's body (aiohttp's ClientResponse)."""
    head = b""
    while len(head) < ANSWER_BYTES:
        chunk = await answer.content.read(ANSWER_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head


async def _cut(push: asyncio.Task[None]) -> None:
    """Cancel a push, and give it CUT_PUSH_SECONDS to unwind."""
    push.cancel()
    await asyncio.wait([push], timeout=CUT_PUSH_SECONDS)


def group_url(base: str, tags: tuple[tuple[str, str], ...]) -> str:
    """The Pushgateway URL of this run's group: `base` may already name the group
    (`.../metrics/job/NAME...`), else job and instance are ours unless a tag names them."""
    labels = dict(tags)
    url = base.rstrip("/")
    if "/metrics/job/" not in url:
        job = labels.pop("job", DEFAULT_JOB)
        instance = labels.pop("instance", f"{socket.gethostname()}-{os.getpid()}")
        url += f"/metrics/{_pair('job', job)}/{_pair('instance', instance)}"
    for name, value in labels.items():
        url += "/" + _pair(name, value)
    return url


def _masked_name(name: str, mask: Callable[[str], str]) -> str:
    masked = mask(name)
    return name if masked == name else _LABEL_NAME.sub("_", masked)


def _pair(name: str, value: str) -> str:
    """A grouping label as path segments: a value that is not plain (a slash, a space,
    empty) is base64, as the Pushgateway reads `name@base64/...`."""
    name = _LABEL_NAME.sub("_", name)
    if name[:1].isdigit():
        name = "_" + name
    # A name starting `__` is Prometheus' own (a masked `***` would make one): refused.
    name = _RESERVED_START.sub("_", name)
    if _PLAIN_LABEL_VALUE.match(value):
        return f"{name}/{quote(value)}"
    encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii") or "="
    return f"{name}@base64/{encoded}"
