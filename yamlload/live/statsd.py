"""`--out statsd=HOST:PORT` (and publish-metrics' statsd and datadog): each second's
points (points.py) as StatsD lines with DogStatsD tags, over UDP, from the run's loop.

    yamlload.http.requests:12|c|#endpoint:GET /a,code:200
    yamlload.http.response_time.p95:41.2|g

Counters are `|c` deltas; the per-second statistics are `|g` gauges (not `|ms`
timings: the server would compute percentiles of percentiles). Lines are packed into
datagrams of at most MAX_DATAGRAM_BYTES. UDP never waits for the other end: a refused
datagram (nobody listening: the kernel says so on the next send) is counted, never
retried. A plain StatsD server (Etsy's) drops a line with DogStatsD tags as malformed:
`plain` outputs send no tags, every metric under the report's own name, per-endpoint
ones too (`plugins.metrics-by-endpoint.GET /a.codes.200`), as Artillery does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable

from ..errors import UsageError
from ..metrics.live import LiveSeries
from ..plan.ir import LiveOutput
from ..results.run import Progress
from .failures import Failures
from .points import COUNTER, Point, second_points, wanted

# A datagram this size fits one Ethernet frame (1500 bytes less IP and UDP headers, with
# room for tunnels), so it is never fragmented; the DogStatsD and Etsy clients use it.
MAX_DATAGRAM_BYTES = 1432
# DogStatsD cuts tags longer than this; cutting them here keeps a datagram's size known.
MAX_TAG_CHARS = 200
# Datagrams queued in the transport (the kernel's buffer full) past this many bytes are
# dropped and counted rather than held: a backed-up collector never grows our memory.
MAX_QUEUED_BYTES = 1 << 20
DEFAULT_PREFIX = "yamlload."
# Characters with a meaning in a StatsD line: never inside a name or a tag.
_NAME_SPECIAL = re.compile(r"[:|@#,\n\r]")
_TAG_SPECIAL = re.compile(r"[|,#\n\r]")


class StatsdOutput:
    """A Watcher (runtime/options.py) that sends each second over UDP."""

    def __init__(self, output: LiveOutput, mask: Callable[[str], str]) -> None:
        self.host, self.port = parse_host_port(output.target)
        self.output = output
        self.mask = mask
        # The prefix and the tags, keys too, are the plan's or the command line's: a
        # secret may be in them.
        self.prefix = DEFAULT_PREFIX if output.prefix is None else mask(output.prefix)
        self.tags = ",".join(_tag(mask(k), v, mask) for k, v in output.tags)
        self.failures = Failures(f"statsd {mask(output.target)}")
        self.name = self.failures.name
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self.failures), remote_addr=(self.host, self.port)
            )
        except OSError as exc:  # a name that does not resolve, an address we cannot use
            raise UsageError(
                f"{self.output.origin or 'statsd'}: cannot send to {self.output.target}: "
                f"{exc.strerror or exc}"
            ) from None

    def second(self, live: LiveSeries, progress: Progress) -> None:
        self.send(live, progress)
        self.failures.raise_any()

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        try:
            self.send(live, progress)
        finally:
            if self.transport is not None:
                self.transport.close()
        self.failures.raise_any()

    def send(self, live: LiveSeries, progress: Progress) -> None:
        if self.transport is None or not live.seconds:
            return
        plain = self.output.plain
        points = second_points(live.seconds[-1], progress.active, self.mask, not plain)
        lines = [self.line(p) for p in points if wanted(p.metric, *self.filters)]
        for datagram in pack(lines, MAX_DATAGRAM_BYTES):
            if _queued(self.transport) > MAX_QUEUED_BYTES:
                self.failures.add("the collector is not taking datagrams; some were dropped")
                return
            self.transport.sendto(datagram)

    @property
    def filters(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.output.include, self.output.exclude

    def line(self, point: Point) -> str:
        kind = "c" if point.kind == COUNTER else "g"
        tags = [_tag(k, v, str) for k, v in point.tags]  # already masked
        if self.tags and not self.output.plain:
            tags.append(self.tags)
        suffix = f"|#{','.join(tags)}" if tags else ""
        # yamlload's own metrics (yamlload.arrival_lag) are not named yamlload.yamlload...
        metric = point.metric
        name = metric if metric.startswith(self.prefix) else self.prefix + metric
        name = _NAME_SPECIAL.sub("_", name)
        return f"{name}:{_number(point.value)}|{kind}{suffix}"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, failures: Failures) -> None:
        self.failures = failures

    def error_received(self, exc: Exception) -> None:
        # A connected UDP socket hears of an ICMP "port unreachable" on a later send.
        self.failures.add(f"{type(exc).__name__}: {exc}")


def pack(lines: Iterable[str], limit: int) -> list[bytes]:
    """Lines joined by newlines into datagrams of at most `limit` bytes; a longer line
    goes alone."""
    datagrams: list[bytes] = []
    current = bytearray()
    for line in lines:
        data = line.encode("utf-8")
        if current and len(current) + 1 + len(data) > limit:
            datagrams.append(bytes(current))
            current = bytearray()
        if current:
            current += b"\n"
        current += data
    if current:
        datagrams.append(bytes(current))
    return datagrams


def parse_host_port(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` → (host, port); ValueError says what is wrong."""
    found = re.fullmatch(r"\[([^\]\s]+)\]:(\d+)|([^:\s\[\]/]+):(\d+)", text.strip())
    if not found:
        raise ValueError(f"{text!r} is not HOST:PORT")
    host = found.group(1) or found.group(3)
    port = int(found.group(2) or found.group(4))
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: the port must be from 1 to 65535")
    return host, port


def _queued(transport: asyncio.DatagramTransport) -> int:
    # Both asyncio's and uvloop's datagram transports have it; typeshed does not say so.
    size: int = getattr(transport, "get_write_buffer_size", lambda: 0)()
    return size


def _tag(key: str, value: str, mask: Callable[[str], str]) -> str:
    text = f"{key}:{mask(value)}" if value else key
    return _TAG_SPECIAL.sub("_", text)[:MAX_TAG_CHARS]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 3))
