"""CSV for spreadsheets: one row per period, and one row per endpoint. With config.monitor
the periods file has four columns per monitored series (`monitor.<source>.<metric>.min`,
`.mean`, `.max`, `.last`, blank in a period without a sample) and one per source's
`monitor.<source>.scrape_errors` (0 when none failed), after the status codes and
errors, so a series lines up with the latency of its period. Each file is written
through `outputs.write_with`, so it is replaced whole or not at all."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ..metrics.histogram import Gauge
from ..metrics.names import CODES, ERRORS, WS_RATES, WS_RESPONSE_TIME
from ..metrics.periods import MIN_PERIOD_SECONDS
from ..plan.ir import MONITOR_PREFIX, SCRAPE_ERRORS_SUFFIX
from ..results.summary import PeriodRow, Summary
from .monitored import monitor_rows, monitored_sources
from .outputs import write_with

# The files' name when --csv names only a folder.
DEFAULT_CSV_NAME = "yamlload"
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
    "generator_cpu_percent",  # of one core
    "generator_rss_mb",  # the peak in the period
)
# A monitored series' columns in the periods file, after its name.
GAUGE_COLUMNS = ("min", "mean", "max", "last")
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
    """The two files `--csv PREFIX` writes: periods, then endpoints. A PREFIX that names
    a folder (`results/`) gets the files inside it, as `results/yamlload-periods.csv`."""
    if prefix.endswith(("/", os.sep)) or Path(prefix).is_dir():
        prefix = str(Path(prefix) / DEFAULT_CSV_NAME)
    return Path(f"{prefix}-periods.csv"), Path(f"{prefix}-endpoints.csv")


def csv_writers(summary: Summary, prefix: str) -> list[Callable[[], Path]]:
    """One writer per file, so that one that fails never stops the other; each raises
    OutputError (exit 4) naming its file."""
    periods, endpoints = csv_paths(prefix)
    return [
        lambda: write_with(periods, lambda out: _write_periods(summary, out), "the periods CSV"),
        lambda: write_with(
            endpoints, lambda out: _write_endpoints(summary, out), "the endpoints CSV"
        ),
    ]


def _write_periods(summary: Summary, out: TextIO) -> None:
    rows = summary.period_rows()
    # a column per status code and error seen in any period, named by its metric
    codes = sorted(
        {CODES + code for row in rows for code in row.codes}
        | {ERRORS + error for row in rows for error in row.errors}
    )
    # every configured series and source, sampled, failed or not: the columns do not
    # depend on what a run happened to sample
    series = sorted(set(summary.aggregate.gauges) | {name for name, _ in monitor_rows(summary)})
    scrape_errors = [
        f"{MONITOR_PREFIX}{source}{SCRAPE_ERRORS_SUFFIX}" for source in monitored_sources(summary)
    ]
    writer = csv.writer(out)
    gauge_columns = [f"{name}.{stat}" for name in series for stat in GAUGE_COLUMNS]
    websocket = _websocket_columns(rows)
    writer.writerow([*PERIOD_COLUMNS, *codes, *websocket, *gauge_columns, *scrape_errors])
    for row in rows:
        counts = {
            **{CODES + code: n for code, n in row.codes.items()},
            **{ERRORS + error: n for error, n in row.errors.items()},
        }
        metrics = row.period.metrics
        writer.writerow(
            [
                *_period_cells(row),
                *(counts.get(c, 0) for c in codes),
                *(_websocket_cell(row, name) for name in websocket),
                *(cell for name in series for cell in _gauge_cells(metrics.gauges.get(name))),
                *(metrics.counters.get(name, 0) for name in scrape_errors),
            ]
        )


def _websocket_columns(rows: list[PeriodRow]) -> list[str]:
    """A ws run's columns (issue 19): each websocket.* counter any period has, the
    send and receive rates, and the reply time's p95; none for a run without ws."""
    counters = sorted(
        {
            name
            for row in rows
            for name in row.period.metrics.counters
            if name.startswith("websocket.")
        }
    )
    if not counters:
        return []
    rates = [rate for rate, counter in WS_RATES.items() if counter in counters]
    return [*counters, *rates, f"{WS_RESPONSE_TIME}.p95"]


def _websocket_cell(row: PeriodRow, name: str) -> object:
    metrics = row.period.metrics
    if name in WS_RATES:
        return round(
            metrics.counters.get(WS_RATES[name], 0) / max(row.width, MIN_PERIOD_SECONDS), 3
        )
    if name == f"{WS_RESPONSE_TIME}.p95":
        replies = metrics.histograms.get(WS_RESPONSE_TIME)
        return round(replies.summary()["p95"], 3) if replies is not None and replies.count else ""
    return metrics.counters.get(name, 0)


def _gauge_cells(gauge: Gauge | None) -> list[object]:
    if gauge is None or not gauge.count:
        return [""] * len(GAUGE_COLUMNS)
    return [round(v, 6) for v in (gauge.min, gauge.mean, gauge.max, gauge.last)]


def _period_cells(row: PeriodRow) -> list[object]:
    """The PERIOD_COLUMNS of a row; a period without samples leaves its statistics blank."""
    lat, lag = row.latency, row.lag
    return [
        row.start,
        round(row.width, 3),
        row.requests,
        round(row.request_rate, 3),
        row.users_created,
        *((round(v, 3) if lat.count else "") for v in (lat.p50, lat.p95, lat.p99, lat.max)),
        round(lag.p99, 3) if lag.count else "",
        "" if row.cpu_percent is None else round(row.cpu_percent, 1),
        "" if row.rss_mb is None else round(row.rss_mb, 1),
    ]


def _write_endpoints(summary: Summary, out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(ENDPOINT_COLUMNS)
    for e in summary.endpoints():
        stats = e.stats
        latency = (stats.p50, stats.p95, stats.p99, stats.max)
        writer.writerow(
            [
                e.name,
                e.requests,
                round(e.request_rate, 3),
                e.failed,
                # an endpoint nothing answered has no latency: blank, as a period's
                *((round(v, 3) if stats.count else "") for v in latency),
            ]
        )
