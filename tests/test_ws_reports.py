"""Reports of a plan with no HTTP request (issue 19, review): the console and Markdown
headlines show the WebSocket numbers, not zeroed HTTP rows; Markdown lists ws errors;
a run where nothing connected is never graded A."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import ServerThread
from tests.ws_servers import make_ws_app
from yamlload import PlanOptions, load_plan
from yamlload.report.console import format_summary
from yamlload.report.markdown import markdown_summary
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan

PLAN = """config:
  phases: [{duration: 1, arrivalCount: 2}]
scenarios:
  - engine: ws
    flow:
      - connect: /echo
      - send: {payload: {n: 1}, capture: {json: $.id, as: id}}
"""


@pytest.fixture(scope="module")
def ws_server() -> Iterator[ServerThread]:
    with ServerThread(make_ws_app()) as running:
        yield running


def failed_run(write_plan, target: str) -> Summary:
    plan = load_plan(str(write_plan(PLAN)), PlanOptions(target=target))
    return summarize(plan, run_plan(plan, RunOptions(seed=1)), "t")


def test_the_console_headline_of_a_ws_only_run(write_plan, ws_server: ServerThread) -> None:
    text = format_summary(failed_run(write_plan, ws_server.url))
    overview = text.split("\n\n")[1]
    assert "error rate (failed requests)" not in overview
    assert "http.requests" not in overview
    assert "websocket.messages_sent" in overview and "websocket.messages_received" in overview
    assert "websocket.response_time p95" in overview
    assert "user failure rate                  100.00%" in overview or "100.00%" in overview


def test_the_markdown_headline_and_errors_of_a_ws_only_run(
    write_plan, ws_server: ServerThread
) -> None:
    text = markdown_summary(failed_run(write_plan, ws_server.url), [], [])
    assert "| requests | rps | error rate" not in text
    assert "| messages sent |" in text and "user failure rate" in text
    assert "### Errors" in text and "| errors.Failed capture or match | 2 |" in text


def test_nothing_connected_is_not_graded_a(write_plan) -> None:
    summary = failed_run(write_plan, "http://127.0.0.1:9")
    assert summary.grade is None or summary.grade.letter != "A"


def test_a_run_stopped_before_any_handshake_ended_is_not_graded_a(write_plan) -> None:
    """A server that accepts TCP and never answers the upgrade; the run is stopped (as by
    Ctrl-C) while every user waits for its handshake: nothing was measured, so F."""
    import socket

    from yamlload.checks.grades import grade_summary, grade_table

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        port = listener.getsockname()[1]
        text = (
            "config:\n  phases: [{duration: 1, arrivalCount: 2}]\n  ws: {timeout: 30s}\n"
            "scenarios:\n  - engine: ws\n    flow: [{send: hi}]\n"
        )
        plan = load_plan(str(write_plan(text)), PlanOptions(target=f"ws://127.0.0.1:{port}/x"))
        options = RunOptions(seed=1, grace_seconds=0.1, abort=lambda live, progress: "stopped")
        summary = summarize(plan, run_plan(plan, options), "t")
    finally:
        listener.close()
    assert summary.counter("websocket.sessions") == 0
    assert summary.counter("vusers.failed") == 0
    grading = grade_summary(summary, grade_table(plan))
    assert grading.overall != "A" and grading.overall == "F"
    assert "A" not in format_summary(summary).split("Grade ", 1)[-1][:2]


def test_the_html_report_charts_messages_sent_and_received(
    write_plan, ws_server: ServerThread
) -> None:
    from yamlload.report.html import render_html

    page = render_html(failed_run(write_plan, ws_server.url))
    assert "WebSocket messages over time" in page
    assert "sent / s" in page and "received / s" in page


def test_an_http_report_has_no_websocket_chart(write_plan) -> None:
    from yamlload.report.html import render_html

    plan = load_plan(
        str(
            write_plan(
                "config:\n  phases: [{duration: 1, arrivalCount: 1}]\nscenarios:\n  - flow: [{think: 0}]\n"
            )
        ),
        PlanOptions(target="http://127.0.0.1:9"),
    )
    page = render_html(summarize(plan, run_plan(plan, RunOptions(seed=1)), "t"))
    assert "WebSocket messages over time" not in page
