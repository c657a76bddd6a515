"""`yamlload capacity` against real servers on 127.0.0.1 whose capacity is known: WORKERS
workers each busy WORK_MS per request serve WORKERS × 1000 / WORK_MS requests a second
(issue 22). Steps are short and rates low (the machine has two shared cores: the
generator must never be the accidental limit); every search ends by itself."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from yamlload.checks.validity import LAG_REASON
from yamlload.cli import capacity as capacity_cli
from yamlload.cli import capacity_steps
from yamlload.cli.capacity import NO_ERROR_SLO_WARNING
from yamlload.results.summary import Summary

WORKERS = 4
WORK_MS = 40.0
CAPACITY = WORKERS * 1000 / WORK_MS  # 100 requests a second
# /fragile: more than WORKERS at once breaks it, and it answers 503 for this long.
PAUSE_SECONDS = 1.5
# A child process stopped by SIGINT must have exited within this.
EXIT_WAIT_SECONDS = 30.0
STEP = "2s"
# /hangs-once-overloaded: longer than the plan's 1 s timeout, and short enough that the
# server's stop does not wait its whole grace on the last hung requests.
HANG_SECONDS = 3.0
# A busy machine (two shared cores, the suite's other tests) can make the generator late
# by a few hundred ms; these tests are about the search, and the generator's own limit
# has a test of its own, at the seam (test_a_generator_limit_is_reported_as_such).
LAG_FORGIVEN = ("--max-lag", "5000")
# How long the demo target may take to stop before it is killed.
TARGET_STOP_SECONDS = 10.0
Handler = Callable[[web.Request], Awaitable[web.Response]]


def capacity_app() -> web.Application:
    """/fast: no limit; /fragile: breaks when more than CAPACITY requests arrived in the
    last second and recovers PAUSE_SECONDS after the last overload; /broken-for-good
    never recovers. (The known capacity's /work is the demo target's: see `demo_target`.)

    Judged on arrivals, not on requests in flight: this server shares the generator's
    GIL, and a stall of a few ms on a busy machine bunched four requests in flight at
    60/s and broke it for good, while a second's arrivals move only with the rate."""
    app = web.Application()
    state = {"broken_until": 0.0}
    arrivals: collections.deque[float] = collections.deque()

    async def fast(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def failing(request: web.Request) -> web.Response:
        return web.json_response({"ok": False}, status=500)

    async def hangs_once_overloaded(request: web.Request) -> web.Response:
        now = time.monotonic()
        arrivals.append(now)
        while arrivals[0] < now - 1.0:
            arrivals.popleft()
        if len(arrivals) > CAPACITY:
            state["hung"] = 1.0
        if state.get("hung"):
            await asyncio.sleep(HANG_SECONDS)  # past the plan's timeout
        return web.json_response({"ok": True})

    def fragile_route(pause: float) -> Handler:
        async def fragile(request: web.Request) -> web.Response:
            if time.monotonic() < state["broken_until"]:
                return web.json_response({"broken": True}, status=503)
            now = time.monotonic()
            arrivals.append(now)
            while arrivals[0] < now - 1.0:
                arrivals.popleft()
            if len(arrivals) > CAPACITY:
                state["broken_until"] = now + pause
                return web.json_response({"broken": True}, status=503)
            await asyncio.sleep(WORK_MS / 1000)
            return web.json_response({"ok": True})

        return fragile

    app.add_routes(
        [
            web.get("/fast", fast),
            web.get("/500", failing),
            web.get("/hangs-once-overloaded", hangs_once_overloaded),
            web.get("/fragile", fragile_route(PAUSE_SECONDS)),
            web.get("/broken-for-good", fragile_route(3600.0)),
        ]
    )
    return app


@pytest.fixture
def target() -> Iterator[ServerThread]:
    """A fresh server per test: /fragile's state must not carry from one to the next."""
    with ServerThread(capacity_app()) as running:
        yield running


def plan_for(tmp_path: Path, url: str, path: str) -> Path:
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {url}\n  phases:\n    - duration: 1\n      arrivalRate: 1\n"
        f"scenarios:\n  - flow:\n      - get:\n          url: {path}\n",
        encoding="utf-8",
    )
    return plan


def search(tmp_path: Path, url: str, path: str, *flags: str) -> tuple[int, str, dict[str, Any]]:
    report = tmp_path / "report.json"
    plan = str(plan_for(tmp_path, url, path))
    result = run_cli("capacity", plan, "-o", str(report), *LAG_FORGIVEN, *flags)
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return result.exit_code, result.output + result.stderr, data


@pytest.fixture
def short_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target that stays broken never passes the cool-down probe: one --step of it,
    not 30 s after each bad step, and a second for what it abandoned, not 10
    (tests/test_capacity_hostile.py and test_capacity_warnings.py test those waits)."""
    monkeypatch.setattr(capacity_cli, "MIN_PROBE_SECONDS", 1.0)
    monkeypatch.setattr(capacity_steps, "MAX_BACKLOG_SECONDS", 1.0)


@pytest.fixture
def demo_target() -> Iterator[str]:
    """`yamlload target --workers 4 --work-ms 40` in a process of its own (its /work has
    the known capacity), so that its timing does not share this process's GIL with the
    generator under test."""
    command = [sys.executable, "-m", "yamlload", "target", "--port", "0"]
    command += ["--workers", str(WORKERS), "--work-ms", f"{WORK_MS:g}"]
    command += ["--exit-with-parent", str(os.getpid())]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # its first line, or "" if it died
        assert line.startswith("yamlload demo target listening on http://"), line
        assert f"capacity {CAPACITY:,.1f}/s" in process.stdout.readline()
        yield line.split()[-1]
    finally:
        process.terminate()
        try:
            process.wait(TARGET_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_finds_a_known_capacity_within_the_precision(tmp_path: Path, demo_target: str) -> None:
    code, out, data = search(
        tmp_path,
        demo_target,
        "/work",
        *("--slo", "p95<200", "--slo", "error_rate<1%"),
        *("--from", "20", "--to", "400", "--step", STEP, "--precision", "10%"),
    )
    assert code == 0, out
    found = data["capacity"]
    assert found["broke_by"]["slo"] == "p95<200"
    assert 0.7 * CAPACITY <= found["max_rate"] <= 1.15 * CAPACITY, out
    assert found["broke_at"] - found["max_rate"] <= 0.1 * found["max_rate"]
    assert f"Maximum sustainable rate: {found['max_rate']:g} users/s (" in out
    assert f"Broke at: {found['broke_at']:g} users/s, first by p95<200" in out
    assert "answered req/s" in out and "lag p99 ms" in out  # the curve
    schema = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    again = Summary.from_json(data).to_json()
    assert again["capacity"] == data["capacity"]


def test_a_target_that_never_breaks_ends_at_the_highest_rate(
    tmp_path: Path, target: ServerThread
) -> None:
    code, out, data = search(
        tmp_path,
        target.url,
        "/fast",
        *("--slo", "p95<500", "--from", "10", "--to", "40", "--step", "2s"),
    )
    assert code == 0, out
    found = data["capacity"]
    assert [s["rate"] for s in found["steps"]] == [10, 20, 40]
    assert found["max_rate"] == 40 and found["broke_at"] is None
    assert "never broke" in out and "up to --to 40 users/s" in out
    assert "Maximum sustainable rate: at least 40 users/s" in out
    assert found["max_rate_is_lower_bound"] is True


def test_steps_split_over_workers(tmp_path: Path, target: ServerThread) -> None:
    """--workers: each step over two processes, its periods merged exactly. The search
    runs in a child: multiprocessing's resource tracker, which the workers start, lives
    as long as the process that started it, and other tests count this one's children."""
    plan = plan_for(tmp_path, target.url, "/fast")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "yamlload", "capacity", str(plan), "-o", str(report)]
    command += ["--slo", "p95<500", "--from", "10", "--to", "20", "--step", "2s"]
    command += ["--workers", "2", *LAG_FORGIVEN]
    done = subprocess.run(command, capture_output=True, text=True, timeout=EXIT_WAIT_SECONDS * 4)
    assert done.returncode == 0, done.stdout + done.stderr
    steps = json.loads(report.read_text(encoding="utf-8"))["capacity"]["steps"]
    assert [(s["rate"], s["verdict"]) for s in steps] == [(10, "good"), (20, "good")]
    assert steps[1]["requests"] == 40  # the whole step: no whole period to settle in


def test_a_generator_limit_is_reported_as_such(
    tmp_path: Path, target: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above 15/s the generator 'falls behind' (the lag is put at the seam, so the test
    does not depend on how fast this machine is): the search stops there, exit 3."""

    def lag_above_15(rate: float, summary: Summary, max_lag_ms: float) -> list[str]:
        return [f"{LAG_REASON} its schedule: arrival lag p99 = 250 ms"] if rate > 15 else []

    monkeypatch.setattr(capacity_steps, "lag_reasons", lag_above_15)
    html = tmp_path / "report.html"
    code, out, data = search(
        tmp_path,
        target.url,
        "/fast",
        *("--slo", "p95<500", "--from", "10", "--to", "1000", "--step", "2s"),
        *("--html", str(html)),
    )
    assert code == 3, out
    said = "the generator, not the target, is the limit here; use --workers: the generator fell"
    assert said in out
    steps = data["capacity"]["steps"]
    assert [(s["rate"], s["verdict"]) for s in steps] == [(10, "good"), (20, "invalid")]
    assert data["capacity"]["max_rate"] == 10 and data["capacity"]["broke_at"] is None
    assert data["capacity"]["max_rate_is_lower_bound"] is True  # the generator stopped it
    assert "Maximum sustainable rate: at least 10 users/s" in out
    assert data["validity"]["valid"] is False
    page = html.read_text(encoding="utf-8")
    assert "p95 against offered rate" in page and "at least 10 users/s" in page


def test_recovery_is_measured_on_a_target_that_recovers_after_a_pause(
    tmp_path: Path, target: ServerThread
) -> None:
    md = tmp_path / "summary.md"
    code, out, data = search(
        tmp_path,
        target.url,
        "/fragile",
        *("--slo", "error_rate<1%", "--from", "160", "--to", "400", "--step", STEP),
        *("--precision", "50%", "--recovery", "10s", "--summary-md", str(md)),
    )
    assert code == 0, out
    found = data["capacity"]
    assert found["broke_at"] is not None and found["max_rate"] is not None, out
    assert found["recovery"]["recovered"] is True, out
    # broken at the drop (503s for PAUSE_SECONDS after the last overload), then whole
    assert 0 < found["recovery_seconds"] < 10
    assert "every SLO held again" in out
    assert "### Capacity" in md.read_text(encoding="utf-8")


@pytest.mark.usefixtures("short_probes")
def test_a_target_that_does_not_recover_says_so(tmp_path: Path, target: ServerThread) -> None:
    """Once overloaded it stays broken: 40/s and 80/s were good, 160/s broke it."""
    code, out, data = search(
        tmp_path,
        target.url,
        "/broken-for-good",
        *("--slo", "error_rate<1%", "--from", "40", "--to", "400", "--step", "1s"),
        *("--precision", "50%", "--recovery", "3s"),
    )
    found = data["capacity"]
    assert code == 0, out
    assert found["max_rate"] == 80, out
    assert found["recovery"] == {"limit": 3.0, "rate": 40.0, "recovered": False}
    assert found["recovery_seconds"] is None
    assert "did not recover within 3s at 40 users/s" in out


def test_ensure_capacity_gates_a_build(tmp_path: Path, target: ServerThread) -> None:
    flags = ("--slo", "p95<500", "--from", "15", "--to", "20", "--step", "1s")
    code, out, data = search(tmp_path, target.url, "/fast", *flags, "--ensure", "capacity>=15")
    assert code == 0, out
    assert data["checks"][0]["result"] == "ok"
    code, out, data = search(tmp_path, target.url, "/fast", *flags, "--ensure", "capacity>=50")
    assert code == 1, out
    assert data["checks"][0]["measured"] == "at least 20 users/s"  # never broke
    assert NO_ERROR_SLO_WARNING in out  # p95<500 alone lets errors through, up to 50%


def test_the_plans_own_checks_are_not_judged_on_the_search(
    tmp_path: Path, target: ServerThread
) -> None:
    """A search breaks the target on purpose: its SLOs are the --slo flags, and the
    plan's config.ensure (here one nothing passes) gates `yamlload run` only."""
    plan = plan_for(tmp_path, target.url, "/fast")
    plan.write_text(
        plan.read_text(encoding="utf-8").replace("config:\n", "config:\n  ensure:\n    p95: 0\n"),
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    flags = ("--slo", "p95<500", "--from", "15", "--to", "20", "--step", "1s", "-o", str(report))
    result = run_cli("capacity", str(plan), *LAG_FORGIVEN, *flags)
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(report.read_text(encoding="utf-8"))["checks"] == []


def test_ensure_capacity_elsewhere_is_refused(tmp_path: Path, target: ServerThread) -> None:
    plan = plan_for(tmp_path, target.url, "/fast")
    result = run_cli("run", str(plan), "--ensure", "capacity>=200", "-o", str(tmp_path / "r.json"))
    assert result.exit_code == 2
    assert "capacity is found by `yamlload capacity" in result.stderr
    assert not target.hits() and not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--slo", "p59<500"), "unknown metric 'p59'"),
        (("--slo", "capacity>=5"), "capacity and the grade are not"),
        (("--slo", "drift.p95<10%"), "drift is the whole run's"),
        (("--slo", "p95<500", "--from", "0.5", "--step", "1s"), "too few arrivals"),
        (("--slo", "p95<500", "--precision", "0%"), "--precision '0%'"),
        (("--slo", "p95<500", "--from", "50", "--to", "10"), "--to 10 is below --from 50"),
        (("--slo", "p95<500", "--step", "forever"), "--step 'forever'"),
        (("--slo", "p95<500", "--recovery", "0s"), "--recovery '0s'"),
        (("--slo", "p95<500", "--ensure", "grade>=B"), "the grade belongs to `yamlload run`"),
        (("--slo", "p95<500", "--recovery", "5s", "--workers", "2"), "leave out --workers"),
    ],
)
def test_bad_flags_are_refused_before_any_traffic(
    tmp_path: Path, flags: tuple[str, ...], said: str
) -> None:
    plan = plan_for(tmp_path, "http://127.0.0.1:9", "/fast")
    result = run_cli("capacity", str(plan), "-o", str(tmp_path / "r.json"), *flags)
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_ctrl_c_stops_the_search_and_reports_the_steps_measured(
    tmp_path: Path, target: ServerThread
) -> None:
    plan = plan_for(tmp_path, target.url, "/fast")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "yamlload", "capacity", str(plan), "-o", str(report)]
    command += ["--slo", "p95<500", "--from", "15", "--to", "1000", "--step", "1s", *LAG_FORGIVEN]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # bounded: the child stops at --to, or is killed below
            if line.startswith("step 1:"):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=EXIT_WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["run"]["stoppedBy"] == "SIGINT"
    assert data["capacity"]["steps"][0]["rate"] == 15


def test_a_target_that_fails_every_request_has_no_capacity(
    tmp_path: Path, target: ServerThread
) -> None:
    """Counter SLOs read 0 on a step that measured nothing: the search must not go down to
    such steps and call them good (issue 22's review: no data is never good)."""
    flags = ("--slo", "http.codes.500<1", "--from", "15", "--to", "30", "--step", "1s")
    code, out, data = search(tmp_path, target.url, "/500", *flags, "--ensure", "capacity>=0.1")
    assert code == 1, out
    found = data["capacity"]
    assert found["max_rate"] is None, out
    assert all(s["verdict"] == "bad" and s["requests"] for s in found["steps"]), out


@pytest.mark.usefixtures("short_probes")
def test_a_target_that_stops_answering_once_overloaded_broke(
    tmp_path: Path, target: ServerThread
) -> None:
    """It answered 40/s and 80/s, then timed out on every request: it broke (bad), it is
    not 'could not reach the target at all' (invalid, exit 3)."""
    plan = plan_for(tmp_path, target.url, "/hangs-once-overloaded")
    plan.write_text(
        plan.read_text(encoding="utf-8").replace("config:\n", "config:\n  http: {timeout: 1}\n"),
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    flags = (
        "--slo",
        "p95<900",
        "--from",
        "40",
        "--to",
        "160",
        "--step",
        "1s",
        "--precision",
        "50%",
    )
    result = run_cli("capacity", str(plan), "-o", str(report), *LAG_FORGIVEN, *flags)
    out = result.output + result.stderr
    assert result.exit_code == 0, out
    found = json.loads(report.read_text(encoding="utf-8"))["capacity"]
    assert found["max_rate"] == 80 and found["broke_at"] == 120, out
    assert [s["verdict"] for s in found["steps"]] == ["good", "good", "bad", "bad"], out
    assert "every request failed: the target broke under this load" in out
    assert "could not reach" not in out
