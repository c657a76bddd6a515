"""config.monitor's series in the HTML report, the live page, /metrics and the push
outputs (issue 17)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_monitor_run import plan_for, run_report, server  # noqa: F401 (a fixture)
from yamlload.metrics.periods import Period
from yamlload.report.html import HEIGHT, LEFT, RIGHT, WIDTH, render_html
from yamlload.report.monitored import monitor_charts
from yamlload.results.run import PhaseRun
from yamlload.results.summary import Summary

CPU, MEMORY, DB_CPU = "monitor.api.cpu_percent", "monitor.api.memory_mb", "monitor.db.cpu_percent"


def monitored_summary() -> Summary:
    first, second = Period(0), Period(1)
    first.metrics.gauge(CPU, 20.0, at=1.0)
    first.metrics.gauge(CPU, 40.0, at=6.0)
    second.metrics.gauge(CPU, 90.0, at=11.0)
    first.metrics.gauge(MEMORY, 512.0, at=1.0)
    second.metrics.count("monitor.db.scrape_errors", 2)
    phases = [PhaseRun(0, "warm", 0.0, 8.0), PhaseRun(1, "peak", 8.0, 20.0)]
    return Summary(
        "plan.yml", "http://127.0.0.1", "2024-01-01T00:00:00Z", 20.0, [first, second], phases
    )


def figures(page: str) -> dict[str, str]:
    """Each chart's figure by its caption."""
    found = re.findall(r"<figure><figcaption>(.*?)</figcaption>(.*?)</figure>", page)
    return dict(found)


def phase_bands(figure: str) -> list[str]:
    return re.findall(r'<rect class="phase-[ab]"[^>]*>', figure)


# ---------------------------------------------------------------- grouping


def test_series_are_charted_per_source_and_unit() -> None:
    charts = monitor_charts([CPU, MEMORY, "monitor.api.connections", DB_CPU, "http.requests"])
    assert [(c.title, c.series) for c in charts] == [
        ("Monitor: api (%)", (CPU,)),
        ("Monitor: api (MB)", (MEMORY,)),
        ("Monitor: api", ("monitor.api.connections",)),
        ("Monitor: db (%)", (DB_CPU,)),
    ]


def test_a_source_with_many_series_of_one_unit_gets_more_than_one_chart() -> None:
    names = [f"monitor.api.queue{i}" for i in range(7)]
    assert [len(c.series) for c in monitor_charts(names)] == [5, 2]


# ---------------------------------------------------------------- HTML report


def test_the_report_charts_each_series_under_the_latency_chart_on_its_time_axis() -> None:
    page = render_html(monitored_summary())
    charts = figures(page)
    titles = list(charts)
    latency = titles.index("Latency over time (http.response_time)")
    assert titles[latency + 1 : latency + 3] == ["Monitor: api (%)", "Monitor: api (MB)"]
    cpu = charts["Monitor: api (%)"]
    assert phase_bands(cpu) == phase_bands(charts[titles[latency]]) != []
    # one line, through each period's mean at the period's middle (5 s and 15 s of 20 s)
    inner = WIDTH - LEFT - RIGHT
    line = re.findall(r'<path class="line s0" d="([^"]*)"', cpu)
    assert len(line) == 1
    xs = [float(x) for x in re.findall(r"[ML]([\d.]+),", line[0])]
    assert xs == [LEFT + inner * 5 / 20, LEFT + inner * 15 / 20]
    assert "<title>cpu_percent at 5s: 30</title>" in cpu
    assert "<title>cpu_percent at 15s: 90</title>" in cpu
    # memory was sampled in the first period only: no point in the second
    assert len(re.findall(r'<circle class="dot', charts["Monitor: api (MB)"])) == 1
    assert 'viewBox="0 0 800 250"' in cpu and HEIGHT == 250


def test_the_report_has_a_table_of_each_series_and_the_failed_samples() -> None:
    page = render_html(monitored_summary())
    table = page[page.index('<table id="monitor">') :]
    table = table[: table.index("</table>")]
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
    assert ["api.cpu_percent", "20.0", "50.0", "90.0", "90.0", "3"] in rows
    assert ["api.memory_mb", "512.0", "512.0", "512.0", "512.0", "1"] in rows
    assert "db: 2 failed samples (monitor.db.scrape_errors)" in page


def test_a_report_without_monitoring_has_no_monitor_chart_nor_table() -> None:
    page = render_html(Summary("p", "t", "s", 1.0, [Period(0)], []))
    assert "Monitor" not in page and 'id="monitor"' not in page


def test_a_monitored_run_writes_its_chart_into_the_html_report(
    write_plan: Any,
    tmp_path: Path,
    server: str,  # noqa: F811
) -> None:
    monitor = f"""\
    - name: api
      prometheus: {server}/metrics
      interval: 1s
      metrics:
        active: pg_stat_activity_count{{state="active"}}
"""
    page = tmp_path / "report.html"
    code, report, said = run_report(
        write_plan, tmp_path, plan_for(server, monitor), "--html", str(page)
    )
    assert code == 0, said
    charts = figures(page.read_text())
    assert "Monitor: api" in charts
    assert re.search(r'<path class="line s0" d="M', charts["Monitor: api"])
    samples = report["aggregate"]["gauges"]["monitor.api.active"]["count"]
    assert samples >= 2
    row = re.search(r"<tr><td>api\.active</td>(.*?)</tr>", page.read_text())
    assert row is not None and row.group(1).endswith(f"<td>{samples}</td>")


# ---------------------------------------------------------------- per-second series


def recorded(samples: list[tuple[float, float]], looks: list[float], whole: bool = True) -> Any:
    """A LiveSeries that looked at `looks` while a gauge took (time, value) samples."""
    from yamlload.metrics.live import LiveSeries
    from yamlload.metrics.periods import Recorder

    now = [0.0]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries(kept=len(looks) + 1, whole=whole)
    pending = sorted(looks)
    for at, value in samples:
        while pending and pending[0] <= at:
            now[0] = pending.pop(0)
            live.take(recorder.periods, now[0])
        now[0] = at
        recorder.gauge(CPU, value)
    for look in pending:
        live.take(recorder.periods, look)
    return live


def test_a_seconds_gauge_is_the_samples_taken_in_that_second() -> None:
    samples = [(0.5, 10.0), (1.5, 30.0), (9.9, 50.0), (10.2, 70.0), (12.5, 5.0)]
    live = recorded(samples, [1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0])
    by_second = [
        (s.at, s.metrics.gauges[CPU].last if CPU in s.metrics.gauges else None)
        for s in live.seconds
    ]
    assert by_second == [
        (1.0, 10.0),
        (2.0, 30.0),
        (3.0, None),
        (10.0, 50.0),
        (11.0, 70.0),
        (12.0, None),
        (13.0, 5.0),
    ]
    total = live.total.gauges[CPU]
    assert (total.count, total.min, total.max, total.last) == (5, 5.0, 70.0, 5.0)
    assert total.mean == sum(v for _, v in samples) / 5


def test_several_samples_in_one_second_keep_their_count_mean_and_last() -> None:
    live = recorded([(0.2, 10.0), (0.5, 40.0), (0.8, 20.0)], [1.0])
    second = live.seconds[-1].metrics.gauges[CPU]
    assert (second.count, second.mean, second.last) == (3, 70.0 / 3, 20.0)
    assert (second.min, second.max) == (10.0, 40.0)  # the first look sees the whole period


def test_the_charted_seconds_keep_the_gauges_too() -> None:
    live = recorded([(0.5, 10.0), (1.5, 30.0)], [1.0, 2.0], whole=False)
    assert [s.metrics.gauges[CPU].last for s in live.seconds] == [10.0, 30.0]


# ---------------------------------------------------------------- the live page


def monitored_plan(tmp_path: Path, monitor: bool = True) -> Any:
    from yamlload import PlanOptions, load_plan

    path = tmp_path / "plan.yml"
    watched = (
        "  monitor:\n    - name: api\n      prometheus: http://127.0.0.1:9/metrics\n"
        "      metrics: {cpu_percent: cpu, memory_mb: mem}\n"
    )
    path.write_text(
        "config:\n  target: http://127.0.0.1:9\n"
        "  phases: [{name: warm, duration: 4, arrivalRate: 1}, {name: peak, duration: 6, arrivalRate: 1}]\n"
        + (watched if monitor else "")
        + "scenarios:\n  - flow: [{get: {url: /ok}}]\n",
        encoding="utf-8",
    )
    return load_plan(str(path), PlanOptions())


def board_after(plan: Any, cpu: list[float | None]) -> Any:
    """A Board updated once a second, the CPU series sampled each second it has a value."""
    from yamlload.live.board import Board
    from yamlload.metrics.histogram import Metrics
    from yamlload.metrics.live import LiveSeries, Second
    from yamlload.plan.secrets import Redactor
    from yamlload.results.run import Progress

    board, live = Board(plan, [], Redactor(), []), LiveSeries()
    for at, value in enumerate(cpu, start=1):
        metrics = Metrics()
        if value is not None:
            metrics.gauge(CPU, value, at=at - 0.5)
        second = Second(float(at), metrics)
        live.seconds.append(second)
        live.total.merge(metrics)
        board.update(live, Progress(float(at), 10.0, "", 1, 0, 0, 0, 0.0))
    return board


def test_the_live_page_charts_the_series_each_second_on_the_latency_charts_axis(
    tmp_path: Path,
) -> None:
    board = board_after(monitored_plan(tmp_path), [10.0, None, 30.0])
    charts = figures(board.frame()["html"]["charts"])
    titles = list(charts)
    latency = next(t for t in titles if t.startswith("Latency per second"))
    after = titles[titles.index(latency) + 1 : titles.index(latency) + 3]
    assert after == ["Monitor: api (%)", "Monitor: api (MB)"]
    cpu = charts["Monitor: api (%)"]
    assert phase_bands(cpu) == phase_bands(charts[latency]) != []
    # a point per second it was sampled, at the second's middle, on the planned 10 s
    inner = WIDTH - LEFT - RIGHT
    line = re.findall(r'<path class="line s0" d="([^"]*)"', cpu)[0]
    assert [float(x) for x in re.findall(r"[ML]([\d.]+),", line)] == [
        LEFT + inner * 0.5 / 10,
        LEFT + inner * 2.5 / 10,
    ]
    assert "<title>cpu_percent at 2.5s: 30</title>" in cpu
    # memory was never sampled: its chart is there, empty, from the start
    assert "<path" not in charts["Monitor: api (MB)"]


def test_the_live_page_has_no_monitor_chart_without_monitoring(tmp_path: Path) -> None:
    board = board_after(monitored_plan(tmp_path, monitor=False), [None, None])
    assert "Monitor" not in board.frame()["html"]["charts"]


# ---------------------------------------------------------------- /metrics and points


def monitored_total() -> Any:
    from yamlload.metrics.histogram import Metrics

    total = Metrics()
    total.gauge(CPU, 20.0, at=1.0)
    total.gauge(CPU, 35.5, at=2.0)
    total.gauge("monitor.api.secret_thing", 7.0, at=2.0)
    total.gauge(DB_CPU, 3.0, at=2.0)
    total.count("monitor.db.scrape_errors", 4)
    total.count("monitor.gone.scrape_errors", 1)
    return total


def test_metrics_has_each_series_last_value_and_each_sources_failed_samples() -> None:
    from yamlload.live.exposition import Snapshot, exposition

    mask = lambda text: text.replace("secret", "***")  # noqa: E731
    text = exposition(Snapshot(monitored_total(), 0, 2.0, {}, mask=mask))
    lines = text.splitlines()
    assert "# TYPE yamlload_monitor gauge" in lines
    assert 'yamlload_monitor{source="api",metric="cpu_percent"} 35.5' in lines
    assert 'yamlload_monitor{source="api",metric="***_thing"} 7.0' in lines
    assert 'yamlload_monitor{source="db",metric="cpu_percent"} 3.0' in lines
    assert "# TYPE yamlload_monitor_scrape_errors_total counter" in lines
    assert 'yamlload_monitor_scrape_errors_total{source="api"} 0' in lines
    assert 'yamlload_monitor_scrape_errors_total{source="db"} 4' in lines
    assert 'yamlload_monitor_scrape_errors_total{source="gone"} 1' in lines
    assert "secret" not in text


def test_metrics_without_monitoring_has_no_monitor_family() -> None:
    from yamlload.live.exposition import Snapshot, exposition
    from yamlload.metrics.histogram import Metrics

    assert "yamlload_monitor" not in exposition(Snapshot(Metrics(), 0, 1.0, {}))


def test_a_second_with_a_sample_is_a_gauge_point_of_its_last_value() -> None:
    from yamlload.live.points import COUNTER, GAUGE, Point, second_points
    from yamlload.metrics.histogram import Metrics
    from yamlload.metrics.live import Second

    metrics = Metrics()
    metrics.gauge(CPU, 20.0, at=0.2)
    metrics.gauge(CPU, 35.5, at=0.7)
    metrics.count("monitor.db.scrape_errors", 1)
    for tagged in (True, False):
        points = second_points(Second(1.0, metrics), 0, str, tagged)
        assert Point(CPU, GAUGE, 35.5) in points
        assert Point("monitor.db.scrape_errors", COUNTER, 1) in points
    # a second without a sample sends no point for the series
    quiet = second_points(Second(2.0, Metrics()), 0, str)
    assert not [p for p in quiet if p.metric.startswith("monitor.")]


def test_a_pushgateway_tag_named_like_a_monitor_label_is_refused_with_monitoring(
    tmp_path: Path,
) -> None:
    import pytest

    from yamlload.errors import UsageError
    from yamlload.live.outputs import output_watchers, parse_out
    from yamlload.plan.secrets import Redactor

    out = [parse_out("prometheus-push=http://127.0.0.1:9,tag=source:ci")]
    with pytest.raises(UsageError, match="the tag 'source' would be a grouping label"):
        output_watchers(monitored_plan(tmp_path), out, Redactor())
    assert output_watchers(monitored_plan(tmp_path, monitor=False), out, Redactor())


# ---------------------------------------------------------------- a real run


def test_a_monitored_run_is_on_the_live_page_in_metrics_and_in_json_lines(
    tmp_path: Path,
) -> None:
    import asyncio
    import json

    import aiohttp

    from tests.servers import ServerThread
    from tests.test_dashboard import RUN_TIMEOUT, start_cli_run
    from tests.test_monitor_run import app_with_metrics

    async def watch(url: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Every frame, and /metrics scraped at each frame but the last."""
        frames: list[dict[str, Any]] = []
        scraped: list[str] = []
        async with aiohttp.ClientSession() as session, session.get(url + "events") as events:
            async for line in events.content:
                if not line.startswith(b"data: "):
                    continue
                frames.append(json.loads(line[len(b"data: ") :]))
                if frames[-1]["done"]:
                    break
                async with session.get(url + "metrics") as answer:
                    scraped.append(await answer.text())
        return frames, scraped

    with ServerThread(app_with_metrics()) as running:
        monitor = (
            f"    - name: api\n      prometheus: {running.url}/metrics\n      interval: 1s\n"
            '      metrics:\n        active: pg_stat_activity_count{state="active"}\n'
        )
        plan = tmp_path / "plan.yml"
        plan.write_text(plan_for(running.url, monitor, seconds=4, arrivals=8), encoding="utf-8")
        lines, report = tmp_path / "live.jsonl", tmp_path / "r.json"
        process, url = start_cli_run(plan, "-q", "-o", str(report), "--out", f"jsonl={lines}")
        try:
            frames, scraped = asyncio.run(asyncio.wait_for(watch(url), RUN_TIMEOUT))
            _, said = process.communicate(timeout=RUN_TIMEOUT)
        finally:
            process.kill()
    assert process.returncode == 0, said
    samples = json.loads(report.read_text())["aggregate"]["gauges"]["monitor.api.active"]
    assert samples["count"] >= 2
    chart = figures(frames[-1]["html"]["charts"])["Monitor: api"]
    assert re.search(r'<path class="line s0" d="M', chart)
    values = [
        float(found)
        for text in scraped
        for found in re.findall(
            r'^yamlload_monitor\{source="api",metric="active"\} (\S+)$', text, re.M
        )
    ]
    assert values and all(4 <= v <= 6 for v in values)
    points = [
        json.loads(line)["data"]["value"]
        for line in lines.read_text().splitlines()
        if '"Point","metric":"monitor.api.active"' in line
    ]
    assert 1 <= len(points) <= samples["count"]
    assert all(4 <= v <= 6 for v in points)


# ---------------------------------------------------------------- per-second points


def per_second_summary(samples: dict[int, float]) -> Summary:
    """A 30-second run with a row per second, CPU sampled in the seconds given."""
    from yamlload.metrics.live import SecondRow

    periods = [Period(i) for i in range(3)]
    for second, value in samples.items():
        periods[second // 10].metrics.gauge(CPU, value, at=second + 0.5)
    empty = (None,) * 7  # p50 to users
    rows = [
        SecondRow(float(at), 1.0, 0, *empty, 0, None, gauges=_gauges(samples, at))
        for at in range(1, 31)
    ]
    return Summary("p", "t", "s", 30.0, periods, [], seconds=rows)


def _gauges(samples: dict[int, float], at: float) -> dict[str, float]:
    second = int(at) - 1
    return {CPU: samples[second]} if second in samples else {}


def line_xs(figure: str) -> list[list[float]]:
    """Each line's runs of x coordinates: a new run at each M (the line broken)."""
    path = re.findall(r'<path class="line s0" d="([^"]*)"', figure)[0]
    runs: list[list[float]] = []
    for command, x in re.findall(r"([ML])([\d.]+),", path):
        if command == "M":
            runs.append([])
        runs[-1].append(float(x))
    return runs


def test_a_run_with_a_row_per_second_charts_each_seconds_samples_joined() -> None:
    # every 5 s, and a source down from 15 s to 40 s... of a 30 s run: 5, 10, then 30
    samples = {0: 10.0, 5: 20.0, 10: 30.0, 29: 60.0}
    figure = figures(render_html(per_second_summary(samples)))["Monitor: api (%)"]
    inner = WIDTH - LEFT - RIGHT
    x = [round(LEFT + inner * (s + 0.5) / 30, 1) for s in (0, 5, 10, 29)]
    # joined across the seconds without a sample, broken where the source was down
    assert line_xs(figure) == [x[:3], x[3:]]
    assert "<title>cpu_percent at 5.5s: 20</title>" in figure


def test_the_seconds_gauges_are_in_the_json_report_and_read_back(tmp_path: Path) -> None:
    from yamlload.report.json import read_json

    summary = per_second_summary({0: 10.0, 5: 20.0})
    data = summary.to_json()
    assert "gauges" not in data["seconds"]["columns"]
    column = data["seconds"]["gauges"][CPU]
    assert len(column) == 30 and (column[0], column[1], column[5]) == (10.0, None, 20.0)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_json(path).seconds == summary.seconds  # the schema takes it
    # without monitoring the table is as it was
    assert "gauges" not in per_second_summary({}).to_json()["seconds"]


def test_a_seconds_row_has_each_gauges_mean() -> None:
    live = recorded([(0.2, 10.0), (0.5, 40.0), (1.5, 30.0)], [1.0, 2.0], whole=False)
    assert [r.gauges for r in live.rows] == [{CPU: 25.0}, {CPU: 30.0}]


def test_the_live_chart_of_a_sparse_series_stays_a_line_past_the_dots(tmp_path: Path) -> None:
    from yamlload.live.board import DOTS_UP_TO

    cpu = [float(at) if at % 5 == 0 else None for at in range(DOTS_UP_TO + 10)]
    board = board_after(monitored_plan(tmp_path), cpu)
    figure = figures(board.frame()["html"]["charts"])["Monitor: api (%)"]
    assert "<circle" not in figure
    assert len(line_xs(figure)) == 1 and len(line_xs(figure)[0]) == len(cpu) // 5


def test_the_seconds_gauges_names_are_masked() -> None:
    from yamlload.plan.secrets import Redactor
    from yamlload.results.summary import _masked_seconds

    rows = per_second_summary({0: 10.0}).seconds
    masked = _masked_seconds(rows, Redactor(["percent"]))
    assert masked[0].gauges == {"monitor.api.cpu_***": 10.0}
    assert _masked_seconds(rows, Redactor()) is rows


@settings(max_examples=100, deadline=None)
@given(
    samples=st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60),
    looks=st.lists(st.floats(0, 35, allow_nan=False), max_size=30),
    whole=st.booleans(),
)
def test_the_seconds_gauges_add_up_to_the_periods(
    samples: list[float], looks: list[float], whole: bool
) -> None:
    """Whatever the looks' timing: every sample in exactly one second, each second's
    last the newest of its samples, its min and max within the samples it took."""
    timed = [(i * 0.5, value) for i, value in enumerate(samples)]  # two a second
    end = len(samples) * 0.5 + 1
    live = recorded(timed, [*sorted(looks), end], whole)
    taken = [s for s in live.seconds if CPU in s.metrics.gauges]
    assert sum(s.metrics.gauges[CPU].count for s in taken) == len(samples)
    at = 0.0
    for second in live.seconds:
        gauge = second.metrics.gauges.get(CPU)
        mine = [v for t, v in timed if at <= t < second.at]
        at = second.at
        if gauge is None:
            assert not mine
            continue
        assert gauge.count == len(mine) and gauge.last == mine[-1]
        # a second's min and max may come from its samples' mean: equal to within the
        # float rounding of a sum divided by a count
        slack = 1e-9 * max(abs(min(mine)), abs(max(mine)))
        assert min(mine) - slack <= gauge.min <= gauge.max <= max(mine) + slack
