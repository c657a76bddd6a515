"""`--out prometheus-push=URL` (and publish-metrics' prometheus): the run so far, in
Prometheus' text format (exposition.py), PUT to a Pushgateway once a period and once
at the end, from the run's loop.

The group is `URL/metrics/job/yamlload/instance/<host>-<pid>`, with the output's tags
as more grouping labels (a `job` or `instance` tag replaces ours). PUT replaces the
whole group each time: every push is the whole run so far. At most one push is in
flight: when the previous one has not finished by the next period, that period's is
skipped and counted. A push that fails or takes longer than PUSH_TIMEOUT_SECONDS is
counted (yamlload.output_errors) and the run goes on. aiohttp is imported only when
such an output starts.
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
# The run's end waits at most this long for the last push (and one still going).
FINAL_PUSH_TIMEOUT_SECONDS = 3.0
DEFAULT_JOB = "yamlload"
# The part of the server's answer kept in a failure's message.
ANSWER_CHARS = 200
_NAME_PREFIX = re.compile(r"^(# (?:HELP|TYPE) )?yamlload_", re.MULTILINE)
_PLAIN_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")


class PushgatewayOutput:
    """A Watcher (runtime/options.py) that pushes the run so far every period."""

    def __init__(
        self, output: LiveOutput, methods: Mapping[str, str], mask: Callable[[str], str]
    ) -> None:
        self.output = output
        self.url = group_url(output.target, output.tags)
        self.methods = methods
        self.mask = mask
        self.failures = Failures(f"prometheus-push {mask(output.target)}")
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
        try:
            if self.pushing is not None and not self.pushing.done():
                await asyncio.wait([self.pushing], timeout=FINAL_PUSH_TIMEOUT_SECONDS)
                if not self.pushing.done():
                    self.pushing.cancel()
                    self.failures.add("a push did not finish before the run's end")
            final = asyncio.ensure_future(self.push(self.body(live, progress)))
            await asyncio.wait([final], timeout=FINAL_PUSH_TIMEOUT_SECONDS)
            if not final.done():
                final.cancel()
                self.failures.add(f"the last push took over {FINAL_PUSH_TIMEOUT_SECONDS:g} s")
        finally:
            if self.session is not None:
                await self.session.close()
        self.failures.raise_any()

    def body(self, live: LiveSeries, progress: Progress) -> bytes:
        text = exposition(
            Snapshot(live.total, progress.active, progress.elapsed, self.methods, (), self.mask)
        )
        if self.output.prefix is not None:
            text = _NAME_PREFIX.sub(rf"\g<1>{self.output.prefix}_", text)
        return text.encode("utf-8")

    async def push(self, body: bytes) -> None:
        """One PUT; what goes wrong is kept for the next second, never raised here."""
        try:
            headers = {"Content-Type": CONTENT_TYPE}
            async with self.session.put(self.url, data=body, headers=headers) as answer:
                if answer.status >= 300:
                    text = (await answer.text(errors="replace"))[:ANSWER_CHARS].strip()
                    self.failures.add(f"HTTP {answer.status}: {self.mask(text)}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiohttp's ClientError, a timeout, OSError...
            why = str(exc) or "no answer in time"
            self.failures.add(self.mask(f"{type(exc).__name__}: {why}"))


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


def _pair(name: str, value: str) -> str:
    """A grouping label as path segments: a value that is not plain (a slash, a space,
    empty) is base64, as the Pushgateway reads `name@base64/...`."""
    name = _LABEL_NAME.sub("_", name)
    if name[:1].isdigit():
        name = "_" + name
    if _PLAIN_LABEL_VALUE.match(value):
        return f"{name}/{quote(value)}"
    encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii") or "="
    return f"{name}@base64/{encoded}"
