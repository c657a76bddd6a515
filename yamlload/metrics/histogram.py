"""The histogram: log-linear (HDR-style), mergeable, exact to 0.4%, and the counters
and histograms of one stretch of time (`Metrics`), with its gauges (`Gauge`: a sampled
value such as a monitored source's CPU, kept as min, mean, max and the latest).

Values are kept in microseconds, exactly below 256 µs and above that in buckets whose
width is at most 1/128 of their value, so a reported percentile is within 0.4% of the
true sample. Merging two histograms adds their bucket counts, so percentiles of merged
runs (several workers, several machines) are exact to that precision: they are computed
after merging, never averaged.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# 8 significant bits: bucket width ≤ value/128, midpoint error ≤ 0.4%.
_SIGNIFICANT_BITS = 8
_EXACT_BELOW = 1 << _SIGNIFICANT_BITS
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.50),
    ("median", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
)


def _bucket_key(micros: int) -> int:
    if micros < _EXACT_BELOW:
        return micros
    shift = micros.bit_length() - _SIGNIFICANT_BITS
    return (shift << _SIGNIFICANT_BITS) | (micros >> shift)


def _bucket_value(key: int) -> float:
    """The midpoint of a bucket, in microseconds."""
    if key < _EXACT_BELOW:
        return float(key)
    shift, mantissa = key >> _SIGNIFICANT_BITS, key & (_EXACT_BELOW - 1)
    low = mantissa << shift
    return low + ((1 << shift) - 1) / 2


class PackedBuckets(Mapping[int, int]):
    """A finished histogram's buckets, read-only: sorted keys and their counts in two
    machine arrays, 8 bytes a bucket (4 for a key, 4 for a count, wider only when a
    value needs it) where a dict of Python ints takes about 100. A long run holds
    hundreds of finished periods, so this is most of its memory."""

    __slots__ = ("_counts", "_keys")

    def __init__(self, buckets: Mapping[int, int]) -> None:
        keys = sorted(buckets)
        counts = [buckets[k] for k in keys]
        self._keys = array(_narrowest(keys), keys)
        self._counts = array(_narrowest(counts), counts)

    def __getitem__(self, key: int) -> int:
        at = bisect.bisect_left(self._keys, key)
        if at == len(self._keys) or self._keys[at] != key:
            raise KeyError(key)
        return self._counts[at]

    def __iter__(self) -> Iterator[int]:  # in key order, which sorted() then keeps
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def items(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        return zip(self._keys, self._counts, strict=True)


def _narrowest(values: list[int]) -> str:
    """The smallest array type code that holds every (non-negative) value."""
    top = max(values, default=0)
    return "I" if top < 2**32 else "Q"


class Histogram:
    """A log-linear histogram of millisecond values (stored as microseconds)."""

    __slots__ = ("buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        # A dict while it is written; PackedBuckets once `pack`ed, for good.
        self.buckets: dict[int, int] | PackedBuckets = {}
        self.count = 0
        self.total = 0.0  # milliseconds
        self.min = math.inf
        self.max = -math.inf

    def pack(self) -> None:
        """Make this histogram read-only and compact (see PackedBuckets). The old dict is
        left as it was, so a reader on another thread that holds it is not disturbed."""
        if isinstance(self.buckets, dict):
            self.buckets = PackedBuckets(self.buckets)

    def record(self, millis: float) -> None:
        micros = int(millis * 1000.0) if millis > 0 else 0
        key = micros if micros < _EXACT_BELOW else _bucket_key(micros)
        buckets = self.buckets
        assert isinstance(buckets, dict), "a packed histogram is never written"
        buckets[key] = buckets.get(key, 0) + 1
        self.count += 1
        self.total += millis
        if millis < self.min:
            self.min = millis
        if millis > self.max:
            self.max = millis

    def merge(self, other: Histogram) -> None:
        buckets = self.buckets
        assert isinstance(buckets, dict), "a packed histogram is never written"
        for key, n in other.buckets.items():
            buckets[key] = buckets.get(key, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile in milliseconds (0 for an empty histogram)."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                value = _bucket_value(key) / 1000.0
                return min(max(value, self.min), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def summary(self) -> dict[str, float]:
        """Artillery's summary shape: min, max, count, mean and percentiles (ms)."""
        if self.count == 0:
            return {"min": 0, "max": 0, "count": 0, "mean": 0, **{k: 0 for k, _ in PERCENTILES}}
        out: dict[str, float] = {
            "min": round(self.min, 3),
            "max": round(self.max, 3),
            "count": self.count,
            "mean": round(self.mean, 3),
        }
        for name, q in PERCENTILES:
            out[name] = round(self.percentile(q), 3)
        return out

    def encode(self) -> dict[str, Any]:
        """Compact and exact: bucket keys delta-encoded, interleaved with counts."""
        flat: list[int] = []
        previous = 0
        for key in sorted(self.buckets):
            flat += [key - previous, self.buckets[key]]
            previous = key
        return {
            "count": self.count,
            "sum": self.total,
            "min": self.min if self.count else 0,
            "max": self.max if self.count else 0,
            "buckets": flat,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Histogram:
        hist = cls()
        flat = list(data.get("buckets", []))
        if len(flat) % 2:
            raise ValueError("histogram buckets must be pairs of key delta and count")
        key = 0
        buckets: dict[int, int] = {}
        for delta, n in zip(flat[::2], flat[1::2], strict=True):
            if not isinstance(delta, int) or not isinstance(n, int) or delta < 0 or n < 0:
                raise ValueError("histogram buckets must be non-negative integers")
            key += delta
            buckets[key] = buckets.get(key, 0) + n
        hist.buckets = buckets
        hist.count = sum(buckets.values())
        if hist.count != data.get("count", hist.count):
            raise ValueError("histogram count does not match its buckets")
        hist.total = float(data.get("sum", 0.0))
        if hist.count:
            hist.min = float(data["min"])
            hist.max = float(data["max"])
        return hist


@dataclass
class Gauge:
    """A sampled value over a stretch of time: how many samples, their sum, min and max,
    and the latest one with its time (seconds from the run's start). Unlike a histogram
    it takes any finite value, negative too, and it keeps the last one. Merging is
    exact: counts and sums add, and the latest sample by time wins, in any order."""

    count: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    last: float = 0.0
    last_at: float = -math.inf

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def record(self, value: float, at: float) -> None:
        self.count += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        if at >= self.last_at:
            self.last, self.last_at = value, at

    def merge(self, other: Gauge) -> None:
        if not other.count:
            return
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if other.last_at > self.last_at:
            self.last, self.last_at = other.last, other.last_at

    def copy(self) -> Gauge:
        twin = Gauge()
        twin.merge(self)
        return twin

    def encode(self) -> dict[str, float]:
        """The report's form: the statistics a reader wants, and what merging needs."""
        if not self.count:
            return {"count": 0}
        return {
            "count": self.count,
            "min": self.min,
            "mean": self.mean,
            "max": self.max,
            "last": self.last,
            "sum": self.total,
            "last_at": self.last_at,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Gauge:
        count = int(data.get("count", 0))
        if count < 0:
            raise ValueError("a gauge's count cannot be negative")
        if not count:
            return cls()
        return cls(
            count=count,
            total=float(data["sum"]),
            min=float(data["min"]),
            max=float(data["max"]),
            last=float(data["last"]),
            last_at=float(data.get("last_at", 0.0)),
        )


@dataclass
class Metrics:
    """Counters, histograms and gauges for one stretch of time."""

    counters: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    gauges: dict[str, Gauge] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def observe(self, name: str, millis: float) -> None:
        hist = self.histograms.get(name)
        if hist is None:
            hist = self.histograms[name] = Histogram()
        hist.record(millis)

    def gauge(self, name: str, value: float, at: float) -> None:
        """A sample of a gauge taken `at` seconds from the run's start."""
        found = self.gauges.get(name)
        if found is None:
            found = self.gauges[name] = Gauge()
        found.record(value, at)

    def merge(self, other: Metrics) -> None:
        for name, n in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + n
        for name, hist in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is None:
                mine = self.histograms[name] = Histogram()
            mine.merge(hist)
        for name, gauge in other.gauges.items():
            own = self.gauges.get(name)
            if own is None:
                own = self.gauges[name] = Gauge()
            own.merge(gauge)

    def renamed(self, rename: Callable[[str], str]) -> Metrics:
        """These metrics under `rename`d names (a mask: a name may hold a secret). The
        histograms are shared, not copied, unless two names become one: those merge into
        a new histogram, and their counters add up."""
        out = Metrics()
        for name, n in self.counters.items():
            key = rename(name)
            out.counters[key] = out.counters.get(key, 0) + n
        for name, hist in self.histograms.items():
            key = rename(name)
            if key in out.histograms:
                twin = Histogram()
                twin.merge(out.histograms[key])
                twin.merge(hist)
                hist = twin
            out.histograms[key] = hist
        for name, gauge in self.gauges.items():
            key = rename(name)
            own = out.gauges.get(key)
            if own is None:
                own = out.gauges[key] = Gauge()
            own.merge(gauge)
        return out

    def pack(self) -> None:
        """Finished: every histogram read-only and compact (Histogram.pack)."""
        for hist in self.histograms.values():
            hist.pack()

    def encode(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "histograms": {k: h.encode() for k, h in sorted(self.histograms.items())},
            "gauges": {k: g.encode() for k, g in sorted(self.gauges.items())},
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Metrics:
        return cls(
            counters={str(k): int(v) for k, v in data.get("counters", {}).items()},
            histograms={str(k): Histogram.decode(v) for k, v in data.get("histograms", {}).items()},
            # reports written before monitoring (issue 17) have no gauges
            gauges={str(k): Gauge.decode(v) for k, v in (data.get("gauges") or {}).items()},
        )


def merge_metrics(parts: Iterable[Metrics]) -> Metrics:
    total = Metrics()
    for part in parts:
        total.merge(part)
    return total
