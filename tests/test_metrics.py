"""The histogram: bounded relative error, exact merge, lossless encoding."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.metrics.histogram import Histogram, Metrics, PackedBuckets, merge_metrics
from yamlload.metrics.names import endpoint_key, split_endpoint_key
from yamlload.metrics.periods import (
    PERIOD_SECONDS,
    Period,
    Recorder,
    merge_periods,
    period_width,
    retained_periods,
    roll_up,
)


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


latencies = st.lists(
    st.floats(min_value=0.0, max_value=120_000.0, allow_nan=False), min_size=1, max_size=400
)


@settings(max_examples=200, deadline=None)
@given(values=latencies, q=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999, 1.0]))
def test_percentiles_are_within_one_percent(values: list[float], q: float) -> None:
    hist = Histogram()
    for v in values:
        hist.record(v)
    want = exact_percentile(values, q)
    got = hist.percentile(q)
    # 1% relative, or 1 µs for tiny values kept exactly in microseconds
    assert abs(got - want) <= max(want * 0.01, 0.001)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(latencies, min_size=1, max_size=5), q=st.sampled_from([0.5, 0.95, 0.99]))
def test_merged_histograms_equal_one_histogram_of_all_samples(
    parts: list[list[float]], q: float
) -> None:
    merged = Histogram()
    whole = Histogram()
    for part in parts:
        piece = Histogram()
        for v in part:
            piece.record(v)
            whole.record(v)
        merged.merge(piece)
    assert merged.buckets == whole.buckets
    assert merged.count == whole.count
    assert merged.percentile(q) == whole.percentile(q)
    assert math.isclose(merged.total, whole.total, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=100, deadline=None)
@given(values=latencies)
def test_encoding_round_trips(values: list[float]) -> None:
    hist = Histogram()
    for v in values:
        hist.record(v)
    again = Histogram.decode(hist.encode())
    assert again.buckets == hist.buckets
    assert (again.count, again.min, again.max) == (hist.count, hist.min, hist.max)
    assert again.summary() == hist.summary()


def test_encoding_is_compact() -> None:
    rng = random.Random(1)
    hist = Histogram()
    for _ in range(100_000):
        hist.record(rng.lognormvariate(3, 0.5))
    flat = hist.encode()["buckets"]
    assert len(flat) < 2_000  # 100k samples in a few hundred buckets


def test_summary_has_artillerys_keys() -> None:
    hist = Histogram()
    for v in range(1, 101):
        hist.record(float(v))
    summary = hist.summary()
    assert summary["min"] == 1 and summary["max"] == 100 and summary["count"] == 100
    assert summary["p50"] == summary["median"]
    assert abs(summary["p95"] - 95) <= 1
    assert Histogram().summary()["count"] == 0


def test_corrupt_encodings_are_rejected() -> None:
    import pytest

    for bad in ({"buckets": [1]}, {"buckets": [-1, 2]}, {"buckets": [1, 2], "count": 5}):
        with pytest.raises(ValueError):
            Histogram.decode(bad)


def test_recorder_buckets_by_ten_second_periods() -> None:
    now = [0.0]
    recorder = Recorder(clock=lambda: now[0])
    for t in (0.5, 9.9, 10.0, 25.0):
        now[0] = t
        recorder.count("http.requests")
        recorder.observe("http.response_time", 5.0)
    periods = recorder.sorted_periods()
    assert [p.index for p in periods] == [0, 1, 2]
    assert [p.metrics.counters["http.requests"] for p in periods] == [2, 1, 1]
    total = Metrics()
    for p in periods:
        total.merge(p.metrics)
    assert total.counters["http.requests"] == 4
    assert Metrics.decode(total.encode()).histograms["http.response_time"].count == 4


# ---- roll-up: a long run's old periods, merged exactly (docs/reliability.md)

DAY = 24 * 3600


def _period(index: int, rng: random.Random) -> Period:
    period = Period(index, first=index * PERIOD_SECONDS, last=index * PERIOD_SECONDS + 9.5)
    for _ in range(rng.randrange(1, 6)):
        period.metrics.count("http.requests")
        # whole milliseconds: their float sums are exact in any order
        period.metrics.observe("http.response_time", float(round(rng.lognormvariate(3, 1))))
    return period


def _encoded(metrics: Metrics) -> dict[str, object]:
    return metrics.encode()


def test_roll_up_keeps_every_count_and_percentile_exact() -> None:
    rng = random.Random(7)
    periods = {i: _period(i, rng) for i in range(int(8 * 3600 / PERIOD_SECONDS))}
    before = merge_metrics(p.metrics for p in periods.values())
    roll_up(periods, now=8 * 3600)
    after = merge_metrics(p.metrics for p in periods.values())
    assert _encoded(after) == _encoded(before)
    spans = sorted({p.span for p in periods.values()})
    assert spans == [1, 6, 60]
    for period in periods.values():
        assert period.index % period.span == 0  # aligned: shards roll up alike
    # the last hour keeps its 10-second periods; older ones are coarser
    assert all(p.span == 1 for p in periods.values() if p.end > 7 * 3600)
    assert all(p.span == 60 for p in periods.values() if p.end < 2 * 3600 - 600)


def test_a_day_keeps_under_800_periods() -> None:
    periods = {i: Period(i) for i in range(int(DAY / PERIOD_SECONDS))}
    for now in range(0, DAY + 1, 600):  # as the engine does, a little at a time
        roll_up(periods, now)
    # about 360 + 300 + 108 (10 s for an hour, 1 min for five, 10 min after)
    assert len(periods) == retained_periods(DAY) < 800
    assert sum(p.span for p in periods.values()) == DAY / PERIOD_SECONDS


def test_roll_up_never_changes_a_period_a_reader_holds() -> None:
    rng = random.Random(3)
    periods = {i: _period(i, rng) for i in range(720)}
    held = list(periods.values())
    snapshots = [_encoded(p.metrics) for p in held]
    roll_up(periods, now=720 * PERIOD_SECONDS)
    assert [_encoded(p.metrics) for p in held] == snapshots


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shard_ends=st.lists(st.integers(3 * 3600, 8 * 3600), min_size=2, max_size=3),
)
def test_shards_rolled_up_at_different_moments_merge_exactly(
    seed: int, shard_ends: list[int]
) -> None:
    rng = random.Random(seed)
    shards = []
    for end in shard_ends:
        periods = {i: _period(i, rng) for i in range(int(end / PERIOD_SECONDS))}
        shards.append(merge_metrics(p.metrics for p in periods.values()))
        roll_up(periods, now=end)
        shards[-1] = (shards[-1], list(periods.values()))
    merged = merge_periods(periods for _, periods in shards)
    starts = [p.index for p in merged]
    assert starts == sorted(set(starts))
    for a, b in itertools.pairwise(merged):
        assert a.index + a.span <= b.index  # no two periods overlap
    total = merge_metrics(metrics for metrics, _ in shards)
    assert _encoded(merge_metrics(p.metrics for p in merged)) == _encoded(total)


def test_a_rolled_up_period_has_its_real_width() -> None:
    assert period_width(0, DAY, last_index=8000, span=60) == 600
    assert period_width(360, DAY, last_index=8000, span=6) == 60
    assert period_width(8639, DAY, last_index=8639) == 10


def test_a_packed_histogram_reads_as_before_and_is_smaller() -> None:
    import tracemalloc

    rng = random.Random(11)
    hist = Histogram()
    for _ in range(5000):
        hist.record(rng.lognormvariate(3, 1.2))
    before = (hist.encode(), hist.summary(), dict(hist.buckets))
    hist.pack()
    assert isinstance(hist.buckets, PackedBuckets)
    assert (hist.encode(), hist.summary(), dict(hist.buckets)) == before
    assert -1 not in hist.buckets and len(hist.buckets) == len(before[2])
    merged = Histogram()
    merged.merge(hist)  # a packed histogram is read, never written
    assert merged.encode() == before[0]

    tracemalloc.start()
    twin = Histogram.decode(before[0])
    loose = tracemalloc.get_traced_memory()[0]
    twin.pack()  # the dict is dropped: what is left is the packed form
    packed = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert packed * 8 <= loose, (packed, loose)  # 8 bytes a bucket against about 100


def test_a_packed_histogram_widens_for_counts_past_32_bits() -> None:
    hist = Histogram()
    data = {"count": 2**33 + 1, "min": 0.005, "max": 0.006, "buckets": [5, 2**33, 1, 1]}
    hist.merge(Histogram.decode(data))
    hist.pack()
    assert dict(hist.buckets) == {5: 2**33, 6: 1}


def test_a_packed_histogram_refuses_samples() -> None:
    hist = Histogram()
    hist.record(1.0)
    hist.pack()
    with pytest.raises((AssertionError, TypeError)):
        hist.record(2.0)


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("GET /a.codes.x", "errors.ETIMEDOUT"),
        ("GET /a.errors.x", "codes.200"),
        ("GET /v1.codes.errors", "requests"),
        ("GET /plain", "codes.503"),
    ],
)
def test_an_endpoint_key_splits_back_whatever_its_label_holds(label: str, field: str) -> None:
    kind, _, item = field.partition(".")
    assert split_endpoint_key(endpoint_key(label, field)) == (label, kind, item)
