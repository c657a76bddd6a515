"""Long runs: --checkpoint leaves a valid report when the process is killed outright,
and (in the soak test, run by .ci/run with `-m soak`) memory stays flat."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread, make_test_app
from yamlload._report.json import read_json
from yamlload._schema import build_report_schema

RATE = 20


@pytest.fixture(scope="module")
def server() -> Any:
    with ServerThread(make_test_app()) as running:
        yield running


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
    plan.write_text("config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios:\n  - flow: [{get: {url: /}}]\n")
    result = run_cli("run", str(plan), "--checkpoint", "5", "--workers", "2")
    assert result.exit_code == 2
    assert "--checkpoint needs the run in one process" in result.stderr


# ---- the soak test: minutes long, so not in the default run (.ci/run runs it)

SOAK_SECONDS = 150
SOAK_WARMUP_SECONDS = 30
SOAK_RATE = 200


def _rss_mb(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


@pytest.mark.soak
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_soak_memory_stays_flat(server: ServerThread, tmp_path: Path) -> None:
    """A steady rate for minutes: after warm-up, resident memory stays within 10%."""
    plan = tmp_path / "soak.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: {SOAK_SECONDS}, arrivalRate: {SOAK_RATE}}}]\n"
        "scenarios:\n  - flow:\n"
        "      - get: {url: /ok, capture: {json: '$.path', as: path}}\n"
        "      - get: {url: '/seen/{{ path }}'}\n"
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
    counters = json.loads(report.read_text())["aggregate"]["counters"]
    assert counters["vusers.created"] == SOAK_RATE * SOAK_SECONDS
    steady = [rss for at, rss in samples if SOAK_WARMUP_SECONDS <= at <= SOAK_SECONDS - 5]
    assert len(steady) > 60
    low, high = min(steady), max(steady)
    print(f"soak: RSS {low:.1f}–{high:.1f} MB after warm-up over {len(steady)} samples")
    assert high <= low * 1.10, f"RSS grew from {low:.1f} to {high:.1f} MB"
