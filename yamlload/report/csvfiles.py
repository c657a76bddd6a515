"""CSV for spreadsheets: one row per period, and one row per endpoint. Each file is
written through `_outputs.write_with`, so it is replaced whole or not at all."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from ..results.summary import Summary
from .outputs import write_with

PERIOD_COLUMNS = (
    "period_start_s",
    "width_s",  # 10, or 60 and 600 for periods a long run rolled up
    "requests",
    "requests_per_s",
    "users_created",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "arrival_lag_p99_ms",
)
ENDPOINT_COLUMNS = (
    "endpoint",
    "requests",
    "requests_per_s",
    "failed",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
)


def csv_paths(prefix: str) -> tuple[Path, Path]:
    """The two files `--csv PREFIX` writes: periods, then endpoints."""
    return Path(f"{prefix}-periods.csv"), Path(f"{prefix}-endpoints.csv")


def write_csv(summary: Summary, prefix: str) -> list[Path]:
    """Both files; OutputError (exit 4) names the one that could not be written."""
    periods, endpoints = csv_paths(prefix)
    write_with(periods, lambda out: _write_periods(summary, out), "the periods CSV")
    write_with(endpoints, lambda out: _write_endpoints(summary, out), "the endpoints CSV")
    return [periods, endpoints]


def _write_periods(summary: Summary, out: TextIO) -> None:
    codes = sorted(
        {
            k
            for p in summary.periods
            for k in p.metrics.counters
            if k.startswith(("http.codes.", "errors."))
        }
    )
    writer = csv.writer(out)
    writer.writerow([*PERIOD_COLUMNS, *codes])
    for row in summary.period_rows():
        p, m = row.period, row.period.metrics
        lat = m.histograms.get("http.response_time")
        lag = m.histograms.get("yamlload.arrival_lag")
        stats = [
            round(lat.percentile(q), 3) if lat and lat.count else "" for q in (0.5, 0.95, 0.99)
        ]
        writer.writerow(
            [
                p.start,
                round(row.width, 3),
                m.counters.get("http.requests", 0),
                round(row.request_rate, 3),
                m.counters.get("vusers.created", 0),
                *stats,
                round(lat.max, 3) if lat and lat.count else "",
                round(lag.percentile(0.99), 3) if lag and lag.count else "",
                *(m.counters.get(c, 0) for c in codes),
            ]
        )


def _write_endpoints(summary: Summary, out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(ENDPOINT_COLUMNS)
    for e in summary.endpoints():
        lat = e.latency
        writer.writerow(
            [
                e.name,
                e.requests,
                round(e.request_rate, 3),
                e.failed,
                *(round(lat.percentile(q), 3) for q in (0.5, 0.95, 0.99)),
                round(lat.max, 3) if lat.count else 0,
            ]
        )
