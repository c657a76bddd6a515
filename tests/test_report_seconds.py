"""A short run's report draws a point per second (issue 16): the JSON report holds a
row per second that adds up to its counters, and the HTML charts are drawn from them."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from yamlload.metrics.live import ROWS_KEPT, LiveSeries
from yamlload.metrics.periods import Recorder
from yamlload.report.html import _period_series
from yamlload.report.json import read_json

PLAN = """config:
  target: {target}
  phases: [{{duration: 4, arrivalRate: 15}}]
scenarios:
  - flow: [{{get: {{url: /ok}}}}, {{get: {{url: /sleep/3}}}}]
"""
SCHEMA = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))


def test_a_short_run_reports_a_row_per_second_that_adds_up(
    tmp_path: Path, server: ServerThread
) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(PLAN.format(target=server.url), encoding="utf-8")
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    result = run_cli("run", str(plan), "-q", "-o", str(report), "--html", str(page))
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    Draft202012Validator(SCHEMA).validate(data)
    seconds = data["seconds"]
    assert seconds["columns"][:3] == ["at", "width", "requests"]
    rows = [dict(zip(seconds["columns"], row, strict=True)) for row in seconds["rows"]]
    assert len(rows) >= 4  # a 4-second run: a row a second, and the end's
    assert sum(r["requests"] for r in rows) == data["aggregate"]["counters"]["http.requests"]
    busy = [r for r in rows if r["requests"]]
    assert busy and all(r["max"] >= r["p99"] >= r["p50"] > 0 for r in busy)
    summary = read_json(report)  # the report reads back and draws the same points
    assert len(_period_series(summary)["rps"]) == len(rows) > len(summary.periods)
    html = page.read_text(encoding="utf-8")
    assert "Request rate and active users" in html


def test_rows_stop_past_the_kept_length() -> None:
    """A run longer than ROWS_KEPT seconds keeps no more rows (its report draws
    periods): the rows never grow with the run."""
    now = [0.0]
    recorder = Recorder(lambda: now[0])
    live = LiveSeries(whole=False)
    for second in range(1, ROWS_KEPT + 50):
        now[0] = second - 0.5
        recorder.count("http.requests")
        live.take(recorder.periods, float(second))
    assert len(live.rows) == ROWS_KEPT + 1
    assert live.rows[-1].at == ROWS_KEPT + 1
