"""CSV for spreadsheets: one row per 10-second period, and one row per endpoint."""

from __future__ import annotations

import csv
from pathlib import Path

from .._errors import UsageError
from .._summary import Summary


def write_csv(summary: Summary, prefix: str) -> list[Path]:
    periods, endpoints = Path(f"{prefix}-periods.csv"), Path(f"{prefix}-endpoints.csv")
    codes = sorted(
        {
            k
            for p in summary.periods
            for k in p.metrics.counters
            if k.startswith(("http.codes.", "errors."))
        }
    )
    try:
        with periods.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(
                [
                    "period_start_s",
                    "requests",
                    "requests_per_s",
                    "users_created",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "max_ms",
                    "arrival_lag_p99_ms",
                    *codes,
                ]
            )
            for row in summary.period_rows():
                p, m = row.period, row.period.metrics
                lat = m.histograms.get("http.response_time")
                lag = m.histograms.get("yamlload.arrival_lag")
                stats = [
                    round(lat.percentile(q), 3) if lat and lat.count else ""
                    for q in (0.5, 0.95, 0.99)
                ]
                writer.writerow(
                    [
                        p.start,
                        m.counters.get("http.requests", 0),
                        round(row.request_rate, 3),
                        m.counters.get("vusers.created", 0),
                        *stats,
                        round(lat.max, 3) if lat and lat.count else "",
                        round(lag.percentile(0.99), 3) if lag and lag.count else "",
                        *(m.counters.get(c, 0) for c in codes),
                    ]
                )
        with endpoints.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(
                [
                    "endpoint",
                    "requests",
                    "requests_per_s",
                    "failed",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "max_ms",
                ]
            )
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
    except OSError as exc:
        raise UsageError(
            f"cannot write CSV files with prefix {prefix}: {exc.strerror or exc}"
        ) from None
    return [periods, endpoints]
