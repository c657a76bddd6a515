"""The console: a live line redrawn in place on a terminal, whole lines when piped, and
a warning when the generator itself fell behind."""

from __future__ import annotations

import io

from tests.servers import ServerThread, make_test_app
from tests.test_engine import run
from yamlload.metrics.periods import Period
from yamlload.report.console import ConsoleObserver, format_summary
from yamlload.results.run import Progress

PROGRESS = Progress(
    elapsed=12.4, total=60, phase="ramp", active=7, created=30, requests=90, failed=2, rps=8.5
)


def test_live_line_is_redrawn_in_place_on_a_terminal() -> None:
    out = io.StringIO()
    console = ConsoleObserver(out, live=True)
    console.tick(PROGRESS)
    console.tick(PROGRESS)
    console.line("a log line")
    text = out.getvalue()
    assert text.startswith(
        "[ramp] 00:12/01:00  users 7 active, 30 created  8.5 req/s  90 requests  2 failed"
    )
    assert "\r" in text  # the second tick rubbed out the first
    assert text.endswith("\ra log line\n")


def test_piped_output_has_no_live_line() -> None:
    out = io.StringIO()
    console = ConsoleObserver(out, live=False)
    console.tick(PROGRESS)
    period = Period(index=2)
    period.metrics.count("http.requests", 50)
    period.metrics.count("http.codes.200", 49)
    period.metrics.count("errors.ETIMEDOUT", 1)
    period.metrics.observe("http.response_time", 12.0)
    console.period_done(period, 10.0)
    assert out.getvalue() == (
        "[00:20] 50 requests (5.0/s) · p50 12.0 ms, p95 12.0 ms, p99 12.0 ms · codes 200×49"
        " · errors ETIMEDOUT×1 · users +0\n"
    )


def test_quiet_prints_nothing_while_running() -> None:
    out = io.StringIO()
    console = ConsoleObserver(out, live=True, quiet=True)
    console.tick(PROGRESS)
    console.period_done(Period(index=0), 10.0)
    console.log("hidden")
    assert out.getvalue() == ""


def test_a_blocked_event_loop_shows_as_arrival_lag_with_a_warning(write_plan) -> None:
    hooks = (
        "import time\n\ndef block(context):\n    time.sleep(0.25)  # blocks the whole event loop\n"
    )
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalRate: 20}]\n  processor: hooks.py\n"
        "scenarios:\n  - flow: [{function: block}, {get: {url: /ok}}]\n",
        **{"hooks.py": hooks},
    )
    with ServerThread(make_test_app()) as server:
        summary = run(plan, server.url)
    lag = summary.histogram("yamlload.arrival_lag")
    assert lag.percentile(0.99) > 100
    assert summary.lag_warning() is not None
    assert "warning: the generator fell behind its schedule" in format_summary(summary)
