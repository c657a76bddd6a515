"""Monitored series in the console's summary and the periods CSV (issue 17)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from yamlload.metrics.periods import Period
from yamlload.report.console import format_summary
from yamlload.report.csvfiles import csv_paths, csv_writers
from yamlload.results.summary import Summary


def monitored_summary() -> Summary:
    first, second = Period(0), Period(1)
    first.metrics.gauge("monitor.api.cpu_percent", 20.0, at=1.0)
    first.metrics.gauge("monitor.api.cpu_percent", 40.0, at=6.0)
    second.metrics.gauge("monitor.api.cpu_percent", 90.0, at=11.0)
    second.metrics.count("monitor.db.scrape_errors", 2)
    return Summary(
        "plan.yml", "http://127.0.0.1", "2024-01-01T00:00:00Z", 20.0, [first, second], []
    )


def test_the_console_summary_has_a_table_of_series_and_the_failed_samples() -> None:
    text = format_summary(monitored_summary())
    section = text[text.index("Monitor\n") :]
    header, _, row = section.splitlines()[1:4]
    assert header.split() == ["series", "min", "mean", "max", "last", "samples"]
    assert row.split() == ["api.cpu_percent", "20.0", "50.0", "90.0", "90.0", "3"]
    assert "db: 2 failed samples (monitor.db.scrape_errors)" in section


def test_a_summary_without_monitoring_has_no_monitor_section() -> None:
    assert "Monitor" not in format_summary(Summary("p", "t", "s", 1.0, [Period(0)], []))


def test_the_periods_csv_has_four_columns_per_series_and_the_scrape_errors(tmp_path: Path) -> None:
    prefix = str(tmp_path / "out")
    for write in csv_writers(monitored_summary(), prefix):
        write()
    periods, _ = csv_paths(prefix)
    rows = list(csv.DictReader(io.StringIO(periods.read_text())))
    assert [r["monitor.api.cpu_percent.max"] for r in rows] == ["40.0", "90.0"]
    assert [r["monitor.api.cpu_percent.last"] for r in rows] == ["40.0", "90.0"]
    assert [r["monitor.api.cpu_percent.mean"] for r in rows] == ["30.0", "90.0"]
    assert [r["monitor.db.scrape_errors"] for r in rows] == ["0", "2"]
    # a source that never failed has its column too, so a spreadsheet's columns do not
    # depend on whether a scrape failed
    assert [r["monitor.api.scrape_errors"] for r in rows] == ["0", "0"]


def test_a_period_line_shows_each_series_range_and_the_failed_samples() -> None:
    from yamlload.report.console import period_line

    first, second = monitored_summary().periods
    line = period_line(first, 10.0)
    assert line.endswith(" · monitor api.cpu_percent 20.0–40.0"), line
    line = period_line(second, 10.0)
    assert line.endswith(" · monitor api.cpu_percent 90.0 · db failed 2 samples"), line


def configured_summary() -> Summary:
    """A run whose plan monitors api (two metrics, one never valued) and db (a process,
    never reached): only api.cpu_percent has samples."""
    summary = monitored_summary()
    summary.document = {
        "config": {
            "monitor": [
                {
                    "name": "api",
                    "prometheus": "/metrics",
                    "metrics": {"cpu_percent": "x", "rps": "rate(y)"},
                },
                {"name": "db", "pid": 4242},
            ]
        }
    }
    return summary


def test_a_configured_series_with_no_value_is_shown_as_such_everywhere(tmp_path: Path) -> None:
    """A typo'd selector or a source never reached is a row of "no value" in the
    console's and the HTML's Monitor tables and has its CSV columns: a spreadsheet's
    columns do not depend on what a run happened to sample."""
    from yamlload.report.html import render_html

    summary = configured_summary()
    text = format_summary(summary)
    rows = {
        line.split()[0]: line.split()[1:]
        for line in text[text.index("Monitor\n") :].splitlines()[3:]
        if line and not line.startswith("db:")
    }
    assert rows["api.rps"] == ["—", "—", "—", "—", "0"]
    assert rows["db.rss_mb"] == ["—", "—", "—", "—", "0"]
    assert rows["api.cpu_percent"][-1] == "3"
    page = render_html(summary)
    assert "<td>api.rps</td><td>—</td><td>—</td><td>—</td><td>—</td><td>0</td>" in page
    prefix = str(tmp_path / "out")
    for write in csv_writers(summary, prefix):
        write()
    header = csv_paths(prefix)[0].read_text().splitlines()[0].split(",")
    for column in (
        "monitor.api.rps.max",
        "monitor.db.cpu_percent.last",
        "monitor.api.scrape_errors",
        "monitor.db.scrape_errors",
    ):
        assert column in header, header


def test_a_range_that_reads_as_one_value_is_one_value() -> None:
    from yamlload.report.console import period_line

    period = Period(0)
    period.metrics.gauge("monitor.shop.memory_mb", 50.61, at=1.0)
    period.metrics.gauge("monitor.shop.memory_mb", 50.64, at=2.0)
    assert period_line(period, 10.0).endswith(" · monitor shop.memory_mb 50.6")


def test_a_monitored_value_is_written_short_whatever_its_size() -> None:
    from yamlload.report.monitored import gauge_text

    assert gauge_text(0) == "0.0"
    assert gauge_text(0.05) == "0.05"
    assert gauge_text(1234.56) == "1,234.6"
    assert gauge_text(2.5e18) == "2.5e+18"
    assert gauge_text(-1e29) == "-1e+29"
