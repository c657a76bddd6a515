"""Drift in long runs (issue 22), end to end: a 127.0.0.1 server whose latency and
memory grow linearly with time is flagged, and `--ensure 'drift.p95<10%'` fails on it;
the same plan against a stable server flags nothing and passes. config.drift's
minDuration brings the 5-minute minimum down to 20 s so each run takes ~30 s; no
wall-clock time is asserted. The saved report renders its drift again (`yamlload
report`), and a run too short for drift fails its drift check with the reason."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread

BASE_MS = 100.0
# The growing server: each second of the run adds this to every response's time, and
# this many bytes to the memory its /metrics page reports.
GROWTH_MS_PER_SECOND = 4.0
GROWTH_BYTES_PER_SECOND = 2_000_000
BASE_BYTES = 100_000_000
RUN_SECONDS = 30
ARRIVALS_PER_SECOND = 10


def drifting_app(growing: bool) -> web.Application:
    """/work answers after BASE_MS (plus the growth since its first request), and
    /metrics reports app_memory_bytes (growing the same way)."""
    app = web.Application()
    started: list[float] = []

    def elapsed() -> float:
        if not started or not growing:
            return 0.0
        return time.monotonic() - started[0]

    async def work(request: web.Request) -> web.Response:
        if not started:
            started.append(time.monotonic())
        await asyncio.sleep((BASE_MS + GROWTH_MS_PER_SECOND * elapsed()) / 1000)
        return web.json_response({"ok": True})

    async def metrics(request: web.Request) -> web.Response:
        memory = BASE_BYTES + GROWTH_BYTES_PER_SECOND * elapsed()
        text = f"# TYPE app_memory_bytes gauge\napp_memory_bytes {memory:.0f}\n"
        return web.Response(text=text, content_type="text/plain")

    app.router.add_get("/work", work)
    app.router.add_get("/metrics", metrics)
    return app


def plan_for(target: str, seconds: int = RUN_SECONDS, min_duration: str = "20s") -> str:
    return f"""config:
  target: {target}
  phases:
    - {{name: steady, duration: {seconds}, arrivalRate: {ARRIVALS_PER_SECOND}}}
  monitor:
    - name: api
      prometheus: {target}/metrics
      interval: 1s
      metrics:
        memory_mb: app_memory_bytes / 1e6
  drift:
    minDuration: {min_duration}
scenarios:
  - flow: [{{get: {{url: /work}}}}]
"""


@pytest.fixture
def growing() -> Iterator[str]:
    with ServerThread(drifting_app(growing=True)) as running:
        yield running.url


@pytest.fixture
def stable() -> Iterator[str]:
    with ServerThread(drifting_app(growing=False)) as running:
        yield running.url


CHECKS = ("--ensure", "drift.p95<10%", "--ensure", "drift.monitor.api.memory_mb<5%")


def run(write_plan: Any, tmp_path: Path, text: str) -> tuple[int, dict[str, Any], str]:
    plan = write_plan(text)
    out, md = tmp_path / "report.json", tmp_path / "summary.md"
    result = run_cli("run", str(plan), "-o", str(out), "--summary-md", str(md), *CHECKS)
    report = json.loads(out.read_text(encoding="utf-8"))
    return result.exit_code, report, result.output + result.stderr + md.read_text("utf-8")


def by_metric(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["metric"]: m for m in report["drift"]["metrics"]}


def test_a_server_slowing_down_and_growing_is_flagged_and_fails_the_drift_checks(
    write_plan: Any, tmp_path: Path, growing: str
) -> None:
    code, report, output = run(write_plan, tmp_path, plan_for(growing))
    drift = report["drift"]
    assert drift["reason"] is None and drift["phase"] == "steady" and drift["periods"] == 3
    metrics = by_metric(report)
    p95, memory = metrics["p95"], metrics["monitor.api.memory_mb"]
    print("growing:", json.dumps(metrics, indent=1))  # the numbers docs/limits.md shows
    # ~4 ms more each second: the last third's p95 is ~80 ms above the first's (+60% on ~125)
    assert p95["flagged"] and p95["change"] > 0.3
    assert p95["slopePerHour"] > 0.5 * GROWTH_MS_PER_SECOND * 3600
    assert memory["flagged"] and memory["change"] > 0.2
    assert "possible leak" in memory["message"]
    assert code == 1
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["drift.p95<10%"]["result"] == "fail"
    assert checks["drift.monitor.api.memory_mb<5%"]["result"] == "fail"
    # the check and the table show one change, worse in both (issue 22's review)
    change = f"{p95['change'] * 100:+.1f}%"
    assert checks["drift.p95<10%"]["measured"] == f"worsened {change[1:]} (p95 {change})"
    assert f"{change} (worse)" in output
    # a flagged drift is not "ready", whatever the grade (issue 22's review)
    readiness = report["grade"]["readiness"]
    assert readiness["verdict"] == "needs optimization", readiness
    assert readiness["rule"].startswith(f"p95 drifted {change}"), readiness
    assert "Readiness: needs optimization (p95 drifted" in output
    # the console, and the Markdown summary, show the table and say what moved
    assert "Drift over phase 'steady'" in output
    assert "drift: p95 grew" in output and "possible leak" in output
    assert "### Drift over phase 'steady'" in output
    # `yamlload report` renders the saved report's drift again: one definition
    saved = tmp_path / "report.json"
    assert run_cli("report", str(saved)).exit_code == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="drift"' in page and "possible leak" in page
    assert f"<td>{change} (worse)</td>" in page and f"worsened {change[1:]} (p95" in page
    assert "needs optimization: p95 drifted" in page
    # ...and `yamlload merge` of it works the same drift out again, to the last digit
    merged = tmp_path / "merged.json"
    assert run_cli("merge", str(saved), "-o", str(merged)).exit_code == 0
    assert json.loads(merged.read_text(encoding="utf-8"))["drift"] == drift


def test_a_stable_server_flags_nothing_and_passes_the_drift_checks(
    write_plan: Any, tmp_path: Path, stable: str
) -> None:
    code, report, output = run(write_plan, tmp_path, plan_for(stable))
    metrics = by_metric(report)
    print("stable:", json.dumps(metrics, indent=1))
    assert report["drift"]["reason"] is None
    assert not metrics["p95"]["flagged"] and abs(metrics["p95"]["change"]) < 0.1
    assert not metrics["monitor.api.memory_mb"]["flagged"]
    assert metrics["monitor.api.memory_mb"]["change"] == 0
    flagged = [name for name, m in metrics.items() if m["flagged"]]
    assert flagged == [], flagged
    assert code == 0, output
    assert "drift:" not in output
    assert report["grade"]["readiness"]["verdict"] == "ready"


def test_a_run_too_short_for_drift_fails_its_drift_check_and_says_why(
    write_plan: Any, tmp_path: Path, stable: str
) -> None:
    code, report, output = run(write_plan, tmp_path, plan_for(stable, seconds=2, min_duration="5m"))
    assert report["drift"]["metrics"] == []
    assert "less than 5m" in report["drift"]["reason"]
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["drift.p95<10%"]["result"] == "fail"
    assert checks["drift.p95<10%"]["measured"].startswith("no drift: the longest steady phase")
    assert code == 1
    assert "Drift over" not in output
