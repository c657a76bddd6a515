"""Per-second series made from the periods (metrics/live.py): every sample lands in
exactly one second, whatever the periods' boundaries and the looks' timing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.metrics.histogram import merge_metrics
from yamlload.metrics.live import LiveSeries
from yamlload.metrics.periods import Recorder, roll_up

# (seconds since start, counter name, latency or None); looks at sorted times
EVENTS = st.lists(
    st.tuples(
        st.floats(0, 45, allow_nan=False),
        st.sampled_from(["http.requests", "http.codes.200", "errors.ECONNRESET"]),
        st.one_of(st.none(), st.floats(0.01, 5000, allow_nan=False)),
    ),
    max_size=200,
)
LOOKS = st.lists(st.floats(0, 50, allow_nan=False), max_size=30)


@settings(max_examples=150, deadline=None)
@given(events=EVENTS, looks=LOOKS)
def test_seconds_add_up_to_the_periods(
    events: list[tuple[float, str, float | None]], looks: list[float]
) -> None:
    now = [0.0]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries(kept=len(looks) + 1)
    pending = sorted(looks)
    for at, name, millis in sorted(events, key=lambda e: e[0]):
        while pending and pending[0] <= at:  # looks happen between samples
            now[0] = pending.pop(0)
            live.take(recorder.periods, now[0])
        now[0] = at
        recorder.count(name)
        if millis is not None:
            recorder.observe("http.response_time", millis)
    live.take(recorder.periods, now[0] + 1)  # the last look, at the run's end

    periods = merge_metrics(p.metrics for p in recorder.periods.values())
    seconds = merge_metrics(s.metrics for s in live.seconds)
    assert seconds.counters == periods.counters == live.total.counters
    for merged in (seconds, live.total):
        assert set(merged.histograms) == set(periods.histograms)
        for name, hist in periods.histograms.items():
            assert dict(merged.histograms[name].buckets) == dict(hist.buckets)
            assert merged.histograms[name].count == hist.count
            assert abs(merged.histograms[name].total - hist.total) < 1e-6 * max(1, hist.total)


def test_a_second_holds_only_its_own_samples_and_percentiles() -> None:
    now = [0.5]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries()
    for millis in (10.0, 20.0, 30.0):
        recorder.observe("http.response_time", millis)
        recorder.count("http.requests")
    first = live.take(recorder.periods, 1.0)
    now[0] = 1.5
    recorder.observe("http.response_time", 500.0)
    recorder.count("http.requests")
    second = live.take(recorder.periods, 2.0)
    quiet = live.take(recorder.periods, 3.0)
    assert first.count("http.requests") == 3 and second.count("http.requests") == 1
    hist = second.histogram("http.response_time")
    assert hist is not None and hist.count == 1
    assert abs(hist.percentile(0.99) - 500.0) <= 500.0 * 0.004
    assert abs(hist.min - 500.0) <= 2 and abs(hist.max - 500.0) <= 2
    first_hist = first.histogram("http.response_time")
    assert first_hist is not None and abs(first_hist.percentile(0.5) - 20.0) < 0.1
    assert quiet.count("http.requests") == 0 and quiet.histogram("http.response_time") is None
    assert [s.at for s in live.seconds] == [1.0, 2.0, 3.0]


def test_packed_and_rolled_up_periods_are_read_alike() -> None:
    """The ticker packs finished periods and rolls old ones up; a look after either
    counts nothing twice."""
    now = [5.0]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries()
    recorder.observe("http.response_time", 3.0)
    live.take(recorder.periods, 6.0)
    now[0] = 15.0
    recorder.observe("http.response_time", 4.0)
    recorder.finish_before(1)  # period 0 packed
    live.take(recorder.periods, 16.0)
    roll_up(recorder.periods, 5 * 3600.0)  # everything merged into one coarse period
    now[0] = 5 * 3600.0
    live.take(recorder.periods, now[0])
    assert live.total.histograms["http.response_time"].count == 2


def test_only_the_last_seconds_are_kept() -> None:
    recorder = Recorder(lambda: 0.0)
    live = LiveSeries(kept=5)
    for at in range(12):
        recorder.count("x")
        live.take(recorder.periods, float(at))
    assert [s.at for s in live.seconds] == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert live.total.counters["x"] == 12


def test_a_series_that_need_not_be_whole_keeps_what_the_charts_draw() -> None:
    now = [0.5]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries(whole=False)
    recorder.count("http.requests")
    recorder.count("plugins.metrics-by-endpoint.GET /a.requests")
    recorder.observe("http.response_time", 12.0)
    recorder.observe("plugins.metrics-by-endpoint.response_time.GET /a", 12.0)
    second = live.take(recorder.periods, 1.0)
    assert second.metrics.counters == {"http.requests": 1}
    assert set(second.metrics.histograms) == {"http.response_time"}


def test_a_last_look_moments_after_the_last_tick_joins_the_second_before() -> None:
    """The run's last look comes a few ms after its last tick: its row joins the one
    before (its rate over 7 ms would chart a spike), and every count is still there."""
    now = [0.5]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries()
    for second in range(3):
        now[0] = second + 0.5
        for _ in range(10):
            recorder.count("http.requests")
        live.take(recorder.periods, second + 1.0)
    now[0] = 3.002
    recorder.count("http.requests")
    live.take(recorder.periods, 3.007, final=True)
    assert [row.requests for row in live.rows] == [10, 10, 11]
    assert live.rows[-1].width == 1.007
    assert sum(s.count("http.requests") for s in live.seconds) == 31  # what outputs send
    # a look that is not the last, or a long enough last stretch, is a row of its own
    live.take(recorder.periods, 4.0, final=True)
    assert len(live.rows) == 4


GAUGE_SAMPLES = st.lists(
    st.tuples(st.floats(0, 45, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False)),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(samples=GAUGE_SAMPLES, looks=LOOKS, whole=st.booleans())
def test_the_total_holds_every_gauge_sample_so_far(
    samples: list[tuple[float, float]], looks: list[float], whole: bool
) -> None:
    """Monitored series in the running total (what checks judged live read): at every
    look, exactly the samples recorded so far, whatever the periods' boundaries."""
    now = [0.0]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries(whole=whole)
    pending = sorted(looks)

    def look(at: float) -> None:
        now[0] = at
        live.take(recorder.periods, at)
        so_far = merge_metrics(p.metrics for p in recorder.periods.values()).gauges
        assert set(live.total.gauges) == set(so_far)
        for name, gauge in so_far.items():
            mine = live.total.gauges[name]
            assert (mine.count, mine.min, mine.max, mine.last) == (
                gauge.count,
                gauge.min,
                gauge.max,
                gauge.last,
            )

    for at, value in sorted(samples):
        while pending and pending[0] <= at:
            look(pending.pop(0))
        now[0] = at
        recorder.gauge("monitor.api.cpu", value)
    look(now[0] + 1)
