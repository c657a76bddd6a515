"""WebSocket metrics (issue 19) in every output: the console summary and its period
lines, the JSON report (counters, rates, summaries), Markdown, HTML, CSV, --ensure, and
the live outputs; plans/websocket_chat.yml against --demo-target."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers import PLANS, run_cli
from yamlload.metrics.names import WS_HISTOGRAMS
from yamlload.report.console import format_summary
from yamlload.report.html import render_html
from yamlload.report.markdown import markdown_summary
from yamlload.results.summary import Summary

# The demo plan, made short: 4 users in a second (2 rooms' worth of chat, 2 echoes).
SHORT = json.dumps({"config": {"phases": [{"duration": 1, "arrivalCount": 4}]}})


def run_demo(tmp_path: Path, *extra: str) -> tuple[int, str, dict]:
    report = tmp_path / "report.json"
    result = run_cli(
        "run",
        "--demo-target",
        str(PLANS / "websocket_chat.yml"),
        "--overrides",
        SHORT,
        "--seed",
        "5",
        "-o",
        str(report),
        *extra,
    )
    return result.exit_code, result.stdout + result.stderr, json.loads(report.read_text())


def test_the_demo_chat_plan_runs_and_every_output_shows_websocket(tmp_path: Path) -> None:
    md, html, prefix = tmp_path / "s.md", tmp_path / "r.html", tmp_path / "run"
    code, output, report = run_demo(
        tmp_path,
        "--summary-md",
        str(md),
        "--html",
        str(html),
        "--csv",
        str(prefix),
        "--out",
        f"jsonl={tmp_path / 'live.jsonl'}",
        "--ensure",
        "websocket.messages_received>=4",
        "--ensure",
        "websocket.response_time.p95<5000",
        "--ensure",
        "websocket.send_rate>0",
    )
    assert code == 0, output
    counters = report["aggregate"]["counters"]
    created = {k: v for k, v in counters.items() if k.startswith("vusers.created_by_name.")}
    chat = created.get("vusers.created_by_name.chat", 0)
    echo = created.get("vusers.created_by_name.echo", 0)
    assert chat + echo == 4
    # chat: 5 messages each; echo: 10 sends, each waiting for its echo
    assert counters["websocket.messages_sent"] == 5 * chat + 10 * echo
    assert counters["websocket.sessions"] == counters["websocket.sessions_completed"] == 4
    assert counters["vusers.completed"] == 4
    rates = report["aggregate"]["rates"]
    assert rates["websocket.send_rate"] > 0
    assert "websocket.connect_time" in report["aggregate"]["summaries"]
    assert all(c["result"] == "ok" for c in report["checks"]), report["checks"]
    # console: the summary's WebSocket table and the histograms in the latency table
    assert "WebSocket\nwebsocket.messages_sent" in output
    assert "websocket.connect_time" in output
    assert "ws sent " in output  # the period line
    assert "### WebSocket" in md.read_text()
    assert "<h2>WebSocket</h2>" in html.read_text()
    with open(f"{prefix}-periods.csv", encoding="utf-8") as rows:
        header = next(csv.reader(rows))
    assert "websocket.messages_sent" in header and "websocket.send_rate" in header
    live = (tmp_path / "live.jsonl").read_text()
    assert "websocket.messages_sent" in live


def test_a_summary_read_back_shows_the_same_websocket_rows(tmp_path: Path) -> None:
    code, output, report = run_demo(tmp_path, "-q")
    assert code == 0, output
    summary = Summary.from_json(report)
    rows = dict(summary.websocket_rows())
    assert rows["websocket.messages_sent"] == format(
        report["aggregate"]["counters"]["websocket.messages_sent"], ","
    )
    assert "WebSocket" in format_summary(summary)
    assert "### WebSocket" in markdown_summary(summary, [], [])
    assert "<h2>WebSocket</h2>" in render_html(summary)
    assert any(summary.histogram(name).count for name in WS_HISTOGRAMS)


def test_an_unknown_websocket_metric_in_ensure_is_a_plan_error(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--demo-target",
        str(PLANS / "websocket_chat.yml"),
        "--ensure",
        "websocket.messages_recieved>1",
    )
    assert result.exit_code == 2
    assert "websocket.messages_received" in result.stderr  # the suggestion


def test_the_live_dashboard_tiles_show_websocket_counts(tmp_path: Path) -> None:
    from yamlload import PlanOptions, load_plan
    from yamlload.live.board import Board
    from yamlload.metrics.histogram import Metrics
    from yamlload.metrics.live import LiveSeries, Second
    from yamlload.plan.secrets import Redactor
    from yamlload.results.run import Progress

    path = tmp_path / "plan.yml"
    path.write_text(
        "config:\n  target: ws://127.0.0.1:9\n  phases: [{duration: 10, arrivalRate: 1}]\n"
        "scenarios:\n  - engine: ws\n    flow: [{send: hi}]\n",
        encoding="utf-8",
    )
    board, live = Board(load_plan(str(path), PlanOptions()), [], Redactor(), []), LiveSeries()
    metrics = Metrics()
    metrics.count("websocket.messages_sent", 42)
    metrics.count("websocket.sessions", 3)
    second = Second(1.0, metrics)
    live.seconds.append(second)
    live.total.merge(metrics)
    board.update(live, Progress(1.0, 10.0, "", 1, 0, 0, 0, 0.0))
    tiles = board.frame()["html"]["tiles"]
    assert 'data-metric="websocket.messages_sent">42<' in tiles
    assert 'data-metric="websocket.sessions">3<' in tiles


def test_the_prometheus_exposition_carries_websocket_series(write_plan) -> None:
    """/metrics and the Pushgateway: websocket counters and histograms, the report's
    numbers; ws errors under yamlload_errors_total, whose HELP says not only requests."""
    from tests.servers import ServerThread
    from tests.test_exposition import parse
    from tests.test_watchers import Recording
    from tests.ws_servers import make_ws_app
    from yamlload import PlanOptions, load_plan
    from yamlload.live.exposition import Snapshot, exposition
    from yamlload.results.summary import summarize
    from yamlload.runtime.engine import RunOptions, run_plan

    text = (
        "config:\n  phases: [{duration: 1, arrivalCount: 3}]\n"
        "scenarios:\n  - engine: ws\n    flow:\n      - connect: /echo\n"
        "      - send: {payload: a, capture: {regexp: a, as: a}}\n      - send: b\n"
    )
    with ServerThread(make_ws_app()) as server:
        plan = load_plan(str(write_plan(text)), PlanOptions(target=server.url))
        watcher = Recording()
        result = run_plan(plan, RunOptions(seed=3, watchers=(watcher,)))
    summary = summarize(plan, result, "t")
    assert watcher.live is not None
    page = exposition(Snapshot(watcher.live.total, 0, 1.0, {}))
    types, samples = parse(page)
    for name, _, _ in samples:
        family = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
        assert name in types or family in types, name
    flat = {n: v for n, lab, v in samples if not lab}
    assert flat["yamlload_websocket_messages_sent_total"] == 6
    assert flat["yamlload_websocket_messages_received_total"] == 3
    assert flat["yamlload_websocket_sessions_total"] == 3
    ended = {
        lab["outcome"]: v for n, lab, v in samples if n == "yamlload_websocket_sessions_ended_total"
    }
    assert ended == {"completed": 3.0, "failed": 0.0, "interrupted": 0.0}
    for hist in ("connect_time", "response_time", "session_length"):
        name = f"yamlload_websocket_{hist}_seconds"
        assert types[name] == "histogram"
        assert flat[f"{name}_count"] == summary.histogram(f"websocket.{hist}").count
    assert "# HELP yamlload_errors_total Errors by name" in page
    assert "WebSocket" in page.split("# HELP yamlload_errors_total", 1)[1].split("\n", 1)[0]


def test_an_http_plan_exposition_has_no_websocket_series() -> None:
    from yamlload.live.exposition import Snapshot, exposition
    from yamlload.metrics.histogram import Metrics

    assert "websocket" not in exposition(Snapshot(Metrics(), 0, 1.0, {}))
