"""The histogram: bounded relative error, exact merge, lossless encoding."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload._metrics import Histogram, Metrics, Recorder


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
