"""Gauges (issue 17): a monitored source's series, per period (min, mean, max, last),
merged exactly across periods and shards, kept through roll-up and the JSON report."""

from __future__ import annotations

import pytest

from yamlload.metrics.histogram import Gauge, Metrics
from yamlload.metrics.periods import Period, Recorder, merge_periods, roll_up

SERIES = "monitor.api.cpu_percent"


def gauge_of(*samples: tuple[float, float]) -> Gauge:
    gauge = Gauge()
    for at, value in samples:
        gauge.record(value, at)
    return gauge


def test_a_gauge_keeps_min_mean_max_and_the_latest_value() -> None:
    gauge = gauge_of((1.0, 30.0), (2.0, -5.0), (3.0, 20.0))
    assert (gauge.count, gauge.min, gauge.max, gauge.last) == (3, -5.0, 30.0, 20.0)
    assert gauge.mean == pytest.approx(15.0)


def test_merged_gauges_take_the_last_value_by_time_whatever_the_order() -> None:
    early, late = gauge_of((1.0, 10.0), (4.0, 40.0)), gauge_of((2.0, 99.0), (3.0, 1.0))
    for first, second in ((early, late), (late, early)):
        merged = Gauge()
        merged.merge(first)
        merged.merge(second)
        assert (merged.count, merged.min, merged.max, merged.last) == (4, 1.0, 99.0, 40.0)
        assert merged.mean == pytest.approx(37.5)


def test_metrics_encode_and_decode_gauges_and_read_reports_without_them() -> None:
    metrics = Metrics()
    metrics.gauge(SERIES, 12.5, at=3.0)
    metrics.gauge(SERIES, 7.25, at=4.0)
    metrics.count("http.requests", 2)
    again = Metrics.decode(metrics.encode())
    assert again.gauges == metrics.gauges
    assert again.counters == metrics.counters
    old = Metrics.decode({"counters": {"http.requests": 1}, "histograms": {}})
    assert old.gauges == {}


def test_the_recorder_files_gauges_by_its_clock_and_roll_up_keeps_them_exact() -> None:
    now = {"t": 0.0}
    recorder = Recorder(clock=lambda: now["t"])
    for second in range(0, 120, 5):
        now["t"] = float(second)
        recorder.gauge(SERIES, float(second))
    periods = dict(recorder.periods)
    roll_up(periods, now=100_000.0)  # past the 10-minute tier: one period
    (coarse,) = periods.values()
    gauge = coarse.metrics.gauges[SERIES]
    assert (gauge.count, gauge.min, gauge.max, gauge.last) == (24, 0.0, 115.0, 115.0)


def test_shards_periods_merge_gauges_exactly() -> None:
    mine, theirs = Period(0), Period(0)
    mine.metrics.gauge(SERIES, 50.0, at=9.0)
    theirs.metrics.gauge(SERIES, 70.0, at=2.0)
    (merged,) = merge_periods([[mine], [theirs]])
    gauge = merged.metrics.gauges[SERIES]
    assert (gauge.count, gauge.mean, gauge.max, gauge.last) == (2, 60.0, 70.0, 50.0)


def test_renamed_metrics_merge_gauges_that_become_one_name() -> None:
    metrics = Metrics()
    metrics.gauge("monitor.a.x", 1.0, at=1.0)
    metrics.gauge("monitor.b.x", 3.0, at=2.0)
    renamed = metrics.renamed(lambda name: "monitor.***.x")
    gauge = renamed.gauges["monitor.***.x"]
    assert (gauge.count, gauge.min, gauge.max, gauge.last) == (2, 1.0, 3.0, 3.0)


def test_a_report_keeps_gauges_per_period_and_in_the_aggregate() -> None:
    from yamlload.results.summary import Summary

    first, second = Period(0), Period(1)
    first.metrics.gauge(SERIES, 10.0, at=5.0)
    second.metrics.gauge(SERIES, 30.0, at=15.0)
    summary = Summary(
        "plan.yml", "http://127.0.0.1", "2024-01-01T00:00:00Z", 20.0, [first, second], []
    )
    data = summary.to_json()
    assert data["aggregate"]["gauges"][SERIES]["max"] == 30.0
    assert data["aggregate"]["gauges"][SERIES]["last"] == 30.0
    assert [p["gauges"][SERIES]["mean"] for p in data["intermediate"]] == [10.0, 30.0]
    again = Summary.from_json(data)
    assert again.aggregate.gauges == summary.aggregate.gauges
    assert "gauges" not in Summary("p", "t", "s", 1.0, [Period(0)], []).to_json()["aggregate"]
