"""config.monitor's series in the HTML report, the live page, /metrics and the push
outputs (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
