"""The generator's own health in every output: CPU and resident memory (RSS), per
period and for the run, so a report says whether the generator, not the target, was
the limit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread

PLAN = """config:
  target: {target}
  phases: [{{duration: 3, arrivalRate: 5}}]
scenarios:
  - flow: [{{get: {{url: /ok}}}}]
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_memory_and_cpu_are_in_the_json_csv_and_console(
    tmp_path: Path, server: ServerThread
) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(PLAN.format(target=server.url), encoding="utf-8")
    report, prefix = tmp_path / "r.json", tmp_path / "out"
    result = run_cli(
        "run",
        str(plan),
        "-o",
        str(report),
        "--csv",
        str(prefix),
        "--ensure",
        "yamlload.rss_mb.max<100000",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    rss = data["aggregate"]["summaries"]["yamlload.rss_mb"]
    assert 5 < rss["max"] < 100_000 and rss["count"] >= 2  # sampled once a second
    assert any("yamlload.rss_mb" in p["summaries"] for p in data["intermediate"])
    rows = list(csv.DictReader((tmp_path / "out-periods.csv").open(encoding="utf-8")))
    assert float(rows[0]["generator_rss_mb"]) > 5
    assert float(rows[0]["generator_cpu_percent"]) >= 0
    assert "generator memory (peak RSS)" in result.stdout
    assert f"{rss['max']:.0f} MB" in result.stdout
    assert "generator CPU (mean)" in result.stdout
    # the HTML report charts the memory over time beside the CPU, a point a second
    html = tmp_path / "r.html"
    assert run_cli("report", str(report), "-o", str(html)).exit_code == 0
    page = html.read_text(encoding="utf-8")
    assert "Generator CPU and memory" in page and "resident memory (MB, right axis)" in page


def test_memory_is_not_a_time(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(PLAN.format(target="http://127.0.0.1:9"), encoding="utf-8")
    result = run_cli("run", str(plan), "--ensure", "yamlload.rss_mb.max<500ms")
    assert result.exit_code == 2
    assert "'ms' only goes with a time metric, not yamlload.rss_mb.max" in result.stderr


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_a_run_shorter_than_a_second_still_measures_the_generator(
    tmp_path: Path, server: ServerThread
) -> None:
    """The health is sampled once a second, and once more at the end: a run over before
    its first tick still says what memory and CPU it took (and a longer run counts the
    CPU of its last part second)."""
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: 0.2, arrivalCount: 2}}]\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}]\n",
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    result = run_cli("run", str(plan), "-o", str(report))
    assert result.exit_code == 0, result.stderr
    aggregate = json.loads(report.read_text())["aggregate"]
    assert aggregate["counters"]["http.requests"] == 2
    assert aggregate["summaries"]["yamlload.rss_mb"]["count"] == 1
    assert aggregate["summaries"]["yamlload.rss_mb"]["max"] > 1
    assert "yamlload.cpu_ms" in aggregate["counters"]
