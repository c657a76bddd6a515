"""Long runs: --checkpoint leaves a valid report when the process is killed outright,
and (in the soak test, run by .ci/run with `-m soak`) memory stays flat."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from yamlload.metrics.histogram import Metrics, merge_metrics
from yamlload.metrics.periods import PERIOD_SECONDS, Period, retained_periods
from yamlload.plan.schema import build_report_schema
from yamlload.report.json import read_json

RATE = 20


def start_run(plan: Path, report: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(report), *flags],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_sigkilled_run_leaves_its_last_checkpoint(server: ServerThread, tmp_path: Path) -> None:
    plan = tmp_path / "long.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: 30, arrivalRate: {RATE}}}]\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )
    report = tmp_path / "report.json"
    process = start_run(plan, report, "--checkpoint", "1")
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:  # until a checkpoint covers 3 seconds
            if report.exists() and json.loads(report.read_text())["run"]["duration"] >= 3:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)  # no handler, no flush, no goodbye
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    data = json.loads(report.read_text(encoding="utf-8"))  # whole: the rename is atomic
    Draft202012Validator(build_report_schema()).validate(data)
    assert data["run"]["checkpoint"] is True
    duration = data["run"]["duration"]
    counters = data["aggregate"]["counters"]
    # arrivalRate 20: one user every 50 ms from t=0.05, so floor(20 × duration) by now
    assert abs(counters["vusers.created"] - int(RATE * duration)) <= 1
    assert counters["http.codes.200"] == counters["http.responses"] > 0
    assert not [name for name in tmp_path.iterdir() if name.suffix == ".tmp"]
    # ... and the tools read it like any report
    assert read_json(report).checkpoint
    result = run_cli("report", str(report), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    # ... but never as a finished run: the page and compare say it is partial
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Partial: a checkpoint of a run that was still going" in page
    assert "Completed" not in page
    compared = run_cli("compare", str(report), str(report))
    assert f"warning: {report} is a checkpoint" in compared.stderr


def test_the_final_report_replaces_the_checkpoints(server: ServerThread, tmp_path: Path) -> None:
    plan = tmp_path / "short.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: 3, arrivalRate: {RATE}}}]\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )
    report = tmp_path / "report.json"
    result = run_cli("run", "-q", str(plan), "-o", str(report), "--checkpoint", "1")
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text())
    assert "checkpoint" not in data["run"]
    assert data["aggregate"]["counters"]["vusers.created"] == 3 * RATE


def test_checkpoint_needs_one_process(tmp_path: Path) -> None:
    plan = tmp_path / "p.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("run", str(plan), "--checkpoint", "5", "--workers", "2")
    assert result.exit_code == 2
    assert "--checkpoint needs the run in one process" in result.stderr


# ---- the soak test: minutes long, so not in the default run (.ci/run runs it)

# The slope of resident memory falls as the allocator settles (a 6-minute run: 122 KB a
# period over 30-150 s, 81 over 150-360 s, 42 over 240-360 s, while the periods kept
# hold about 33 KB each): the slope is taken after a warm-up of 90 s, not 30.
SOAK_SECONDS = 210
SOAK_WARMUP_SECONDS = 90
SOAK_RATE = 200


def _rss_mb(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


@pytest.mark.soak
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_soak_memory_stays_flat(server: ServerThread, tmp_path: Path) -> None:
    """A steady rate for minutes: after warm-up, resident memory stays within 10%, and
    its slope, extrapolated over a day of rolled-up periods, stays under 200 MB."""
    plan = tmp_path / "soak.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: {SOAK_SECONDS}, arrivalRate: {SOAK_RATE}}}]\n"
        "scenarios:\n  - flow:\n"
        "      - get: {url: /ok, capture: {json: '$.path', as: path}}\n"
        "      - get: {url: '/seen/{{ path }}'}\n"
        "      - get: {url: '/sleep/2'}\n"
    )
    report = tmp_path / "soak.json"
    process = start_run(plan, report, "--allow-lag", "--checkpoint", "10")
    samples: list[tuple[float, float]] = []
    began = time.monotonic()
    while process.poll() is None:
        try:
            samples.append((time.monotonic() - began, _rss_mb(process.pid)))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(1)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    summary = read_json(report)
    assert summary.counter("vusers.created") == SOAK_RATE * SOAK_SECONDS
    steady = [(at, rss) for at, rss in samples if SOAK_WARMUP_SECONDS <= at <= SOAK_SECONDS - 5]
    assert len(steady) > 60
    rss = [mb for _, mb in steady]
    low, high = min(rss), max(rss)
    assert high <= low * 1.10, f"RSS grew from {low:.1f} to {high:.1f} MB"
    day = extrapolate_to_a_day(steady, summary.periods)
    print(
        f"soak: RSS {low:.1f}–{high:.1f} MB after warm-up over {len(steady)} samples; "
        f"{day.per_period_kb:.0f} KB per period from the slope, rolled-up periods "
        f"{day.rolled_cost:.1f}× that, so about {day.rss_mb:.0f} MB after 24 h"
    )
    assert day.rss_mb < DAY_BUDGET_MB


DAY_SECONDS = 24 * 3600
DAY_BUDGET_MB = 200.0


@dataclass
class DayEstimate:
    per_period_kb: float
    rolled_cost: float
    rss_mb: float


def extrapolate_to_a_day(steady: list[tuple[float, float]], periods: list[Period]) -> DayEstimate:
    """Memory after 24 h of the same load: the RSS at the end, plus what each period
    costs (the least-squares slope of RSS over time, per 10 s; never taken below 0)
    times the periods a day keeps beyond those held now. A rolled-up period holds more
    distinct histogram buckets than one of 10 s: its cost is scaled by the ratio this
    very run shows when all its periods are merged into one."""
    times, mbs = [t for t, _ in steady], [m for _, m in steady]
    mean_t, mean_m = sum(times) / len(times), sum(mbs) / len(mbs)
    slope = sum((t - mean_t) * (m - mean_m) for t, m in steady) / sum(
        (t - mean_t) ** 2 for t in times
    )
    per_period_mb = max(slope, 0.0) * PERIOD_SECONDS

    def buckets(metrics_list: list[Metrics]) -> int:
        return sum(len(h.buckets) for m in metrics_list for h in m.histograms.values())

    merged = merge_metrics(p.metrics for p in periods)
    rolled_cost = max(
        1.0, buckets([merged]) / (buckets([p.metrics for p in periods]) / len(periods))
    )
    kept = retained_periods(DAY_SECONDS)
    fine = retained_periods(3600)  # the last hour stays at 10 s
    grown = per_period_mb * (fine + rolled_cost * (kept - fine) - len(periods))
    return DayEstimate(per_period_mb * 1024, rolled_cost, mbs[-1] + grown)


def test_checkpoints_need_a_file_not_a_stream(tmp_path: Path) -> None:
    plan = tmp_path / "p.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("run", str(plan), "-o", "/dev/stdout", "--checkpoint", "1")
    assert result.exit_code == 2 and "must be a file" in result.stderr
