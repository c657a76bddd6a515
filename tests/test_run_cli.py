"""`yamlload run` through the real CLI: every example plan against --demo-target, the
report on disk, interrupts, and `quick`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import PLANS, REPO, run_cli
from tests.servers import ServerThread, make_test_app

# Each example plan, shortened to a few seconds of load.
SHORT = {
    "api_load_test.yml": [{"duration": 3, "arrivalRate": 10}],
    "smoke.yml": None,
    "ramp_up.yml": [{"duration": 2, "arrivalRate": 1, "rampTo": 10}],
    "stress.yml": [{"duration": 2, "arrivalRate": 30}],
    "spike.yml": [{"duration": 1, "arrivalRate": 2}, {"duration": 1, "arrivalRate": 40}],
    "soak.yml": [{"duration": 3, "arrivalRate": 5}],
    "concurrent_users.yml": [{"duration": 3, "users": 10, "spawnRate": 20}],
    "csv_users.yml": [{"duration": 1, "arrivalCount": 10}],
    "last_item_race.yml": None,
    "monitored.yml": [{"duration": 2, "arrivalRate": 5}],
    "graded.yml": [{"duration": 2, "arrivalRate": 10}],
    "websocket_chat.yml": [{"duration": 2, "arrivalRate": 2}],
    "capacity.yml": [{"duration": 2, "arrivalRate": 10}],
}


def test_every_example_plan_is_covered() -> None:
    assert sorted(SHORT) == sorted(p.name for p in PLANS.glob("*.yml"))


def run_plan_cli(name: str, tmp_path: Path, *extra: str) -> dict:
    report = tmp_path / f"{name}.json"
    args = [
        "run",
        "--demo-target",
        "-q",
        str(PLANS / name),
        "-o",
        str(report),
        "--seed",
        "3",
        *extra,
    ]
    if SHORT[name] is not None:
        args += ["--overrides", json.dumps({"config": {"phases": SHORT[name]}})]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"Report: {report}" in result.stdout
    return json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(SHORT))
def test_example_plan_runs_against_the_demo_target(name: str, tmp_path: Path) -> None:
    report = run_plan_cli(name, tmp_path)
    counters = report["aggregate"]["counters"]
    assert counters["vusers.created"] > 0
    if name == "websocket_chat.yml":  # WebSocket scenarios only (issue 19)
        assert counters["websocket.messages_received"] > 0
        assert counters["vusers.completed"] == counters["vusers.created"]
    else:
        assert counters.get("http.responses", 0) > 0
    assert not {k: v for k, v in counters.items() if k.startswith("errors.")}
    assert counters.get("plugins.expect.failed", 0) == 0
    if name == "last_item_race.yml":
        assert counters["vusers.created"] == 100
        assert counters["http.codes.201"] == 5  # never oversold
        assert counters["http.codes.409"] == 95
    if name == "csv_users.yml":
        assert counters["plugins.expect.ok"] == 20
    if name == "concurrent_users.yml":
        assert counters["vusers.created"] == 10
    if name == "graded.yml":  # the default rows kept, the plan's added
        assert list(report["grade"]["by_metric"]) == [
            "http.response_time.p95",
            "error_rate",
            "user_failure_rate",
            "http.response_time.p99",
            "http.request_rate",
            "search: http.response_time.p95",
        ]
        assert report["grade"]["by_metric"]["error_rate"]["grade"] == "A"


@pytest.mark.parametrize(("racy", "sold", "code"), [(False, 5, 0), (True, None, 1)])
def test_the_race_plan_catches_a_shop_that_oversells(
    tmp_path: Path, racy: bool, sold: int | None, code: int
) -> None:
    """All 100 buyers order at once: the correct shop sells its 5, the racy one (an await
    between reading and writing the stock) sells more, and the run fails on it."""
    from yamlload.demo_target import make_app

    report = tmp_path / "race.json"
    with ServerThread(make_app(racy=racy)) as shop:
        result = run_cli(
            "run", str(PLANS / "last_item_race.yml"), "-t", shop.url, "-q", "-o", str(report)
        )
    assert result.exit_code == code, result.stdout + result.stderr
    counters = json.loads(report.read_text(encoding="utf-8"))["aggregate"]["counters"]
    assert counters["http.codes.201"] + counters.get("http.codes.409", 0) == 100
    if sold is not None:
        assert counters["http.codes.201"] == sold
    else:
        assert counters["http.codes.201"] > 5  # oversold
        assert "http.codes.201 == 5" in result.stdout


REPORT_SCHEMA = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))


def test_the_report_matches_its_schema_and_reads_back(tmp_path: Path) -> None:
    from yamlload.report.json import read_json

    report = run_plan_cli("api_load_test.yml", tmp_path)
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert report["yamlload"]["format"] == 1
    assert report["plan"]["target"].startswith("http://127.0.0.1:")
    assert report["plan"]["phases"][0]["name"] == "phase 1"
    total = sum(p["counters"].get("http.requests", 0) for p in report["intermediate"])
    assert total == report["aggregate"]["counters"]["http.requests"]
    summaries = report["aggregate"]["summaries"]["http.response_time"]
    assert summaries["count"] == report["aggregate"]["counters"]["http.responses"]
    names = {e["name"] for e in report["endpoints"]}
    assert {"POST /auth/login", "GET /products/:id"} <= names
    again = read_json(tmp_path / "api_load_test.yml.json")
    assert again.counter("http.requests") == total
    assert again.histogram("http.response_time").percentile(0.95) == pytest.approx(
        summaries["p95"], abs=1e-3
    )


def test_console_shows_the_tables(tmp_path: Path) -> None:
    result = run_cli(
        "run", "--demo-target", str(PLANS / "smoke.yml"), "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 0
    out = result.stdout
    for heading in ("Summary:", "Latency (ms)", "Status codes", "Endpoints", "vusers.created"):
        assert heading in out
    assert "Traceback" not in out + result.stderr


def test_default_report_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "--demo-target", "-q", str(PLANS / "smoke.yml"))
    assert result.exit_code == 0
    [written] = list(tmp_path.glob("yamlload-report-smoke-*.json"))
    assert f"Report: {written.name}" in result.stdout


def test_a_bad_plan_sends_nothing_and_exits_2(write_plan) -> None:
    path = write_plan(
        "config:\n  target: http://127.0.0.1:9\nscenarios:\n  - flow: [{gett: {url: /}}]\n"
    )
    result = run_cli("run", str(path))
    assert result.exit_code == 2
    assert "did you mean 'get'?" in result.stderr


def test_unknown_scenario_name_is_a_usage_error() -> None:
    result = run_cli("run", "--demo-target", str(PLANS / "smoke.yml"), "--scenario-name", "nope")
    assert result.exit_code == 2
    assert "--scenario-name 'nope': no such scenario" in result.stderr
    close = run_cli("run", str(PLANS / "smoke.yml"), "--scenario-name", "every endpoint one")
    assert close.exit_code == 2
    assert "did you mean 'every endpoint once'?" in close.stderr


def test_report_says_when_it_replaced_a_file(tmp_path: Path) -> None:
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    with ServerThread(make_test_app()) as server:
        ran = run_cli("quick", f"{server.url}/ok", "-c", "1", "-n", "1", "-q", "-o", str(report))
    assert ran.exit_code == 0, ran.stderr
    first = run_cli("report", str(report), "-o", str(page))
    assert first.exit_code == 0 and "replaced" not in first.stdout
    again = run_cli("report", str(report), "-o", str(page))
    assert again.exit_code == 0
    assert f"HTML report: {page} (replaced the file that was there)" in again.stdout


def test_quick_loads_a_url_without_a_plan(tmp_path: Path) -> None:
    with ServerThread(make_test_app()) as server:
        result = run_cli(
            "quick", f"{server.url}/ok", "-c", "3", "-n", "4", "-q", "-o", str(tmp_path / "q.json")
        )
        assert result.exit_code == 0, result.stderr
        assert server.hits()["GET /ok"] == 12
    report = json.loads((tmp_path / "q.json").read_text(encoding="utf-8"))
    assert report["aggregate"]["counters"]["vusers.created"] == 3


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_still_writes_its_report(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    report = tmp_path / "stopped.json"
    command = [
        sys.executable,
        "-m",
        "yamlload",
        "run",
        "--demo-target",
        str(PLANS / "soak.yml"),
        "-o",
        str(report),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until load is flowing
        if process.stdout.readline().startswith("Running"):
            break
    time.sleep(2.5)
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert f"stopped by {sig.name}" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["run"]["stoppedBy"] == sig.name
    assert data["aggregate"]["counters"]["http.requests"] > 0
    assert data["run"]["duration"] < 30
    Draft202012Validator(REPORT_SCHEMA).validate(data)
    assert "Traceback" not in err


def test_a_reader_that_closes_the_pipe_loses_nothing(tmp_path: Path) -> None:
    """`yamlload run plan.yml | head -1`: the run goes on, writes its report and exits as
    it would have, rather than dying as a bug (exit 70) at the first line it prints."""
    import subprocess
    import sys

    from tests.servers import ServerThread, make_test_app

    with ServerThread(make_test_app()) as server:
        plan = tmp_path / "plan.yml"
        plan.write_text(
            f"config:\n  target: {server.url}\n  phases: [{{duration: 1, arrivalCount: 3}}]\n"
            "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
        )
        report = tmp_path / "r.json"
        process = subprocess.Popen(
            [sys.executable, "-m", "yamlload", "run", str(plan), "-o", str(report)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()  # as `head -1` does
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "internal error" not in err
    assert json.loads(report.read_text())["aggregate"]["counters"]["vusers.created"] == 3


def test_validate_counts_in_good_grammar(tmp_path: Path) -> None:
    plan = tmp_path / "one.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    shown = run_cli("validate", str(plan)).stdout
    assert "1 arrival\n" in shown and "1 arrivals" not in shown
    many = tmp_path / "many.yml"
    many.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, users: 1000000}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    described = run_cli("validate", str(many)).stdout
    assert "1,000,000 users looping, all at once  1,000,000 users" in described
    assert "1000000" not in described
    too_many = tmp_path / "too-many.yml"
    too_many.write_text(many.read_text().replace("1000000", "1000001"))
    refused = run_cli("validate", str(too_many))
    assert refused.exit_code == 2
    assert "1,000,001 is more than one plan can run (limit 1,000,000)" in refused.stderr
    assert "1 over 1s" in shown  # the load column says how, the arrivals column how many


@pytest.mark.parametrize(
    ("flags", "users", "requests"),
    [(["-r", "20", "-d", "1s"], 20, 20), (["-r", "10", "-d", "1s", "-n", "3"], 10, 30)],
)
def test_quick_with_a_rate_sends_one_request_per_user_unless_told(
    tmp_path: Path, flags: list[str], users: int, requests: int
) -> None:
    report = tmp_path / "q.json"
    with ServerThread(make_test_app()) as server:
        result = run_cli("quick", f"{server.url}/ok", *flags, "-q", "-o", str(report))
        assert result.exit_code == 0, result.stderr
        assert server.hits()["GET /ok"] == requests
    counters = json.loads(report.read_text(encoding="utf-8"))["aggregate"]["counters"]
    assert counters["vusers.created"] == users and counters["http.requests"] == requests


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["-d", "5s"], "-d goes with -r"),
        (["-c", "5", "-r", "10"], "-c and -r do not go together"),
    ],
)
def test_quick_refuses_flags_that_do_not_mix(flags: list[str], said: str) -> None:
    result = run_cli("quick", "http://127.0.0.1:9/", *flags)
    assert result.exit_code == 2 and said in result.stderr, result.stderr


def test_quick_refuses_a_rate_it_cannot_run() -> None:
    for rate in ("0", "nan", "-1"):
        result = run_cli("quick", "http://127.0.0.1:9/", "-r", rate)
        assert result.exit_code == 2 and "must be between" in result.stderr, rate


def _handles_stop_signals(pid: int) -> bool:
    """Whether yamlload has put in its handlers: SIGHUP caught (/proc's SigCgt mask), as
    Python itself never catches it (it does catch SIGINT from its start)."""
    found = re.search(r"^SigCgt:\s*([0-9a-f]+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    return bool(found and int(found.group(1), 16) & (1 << (signal.SIGHUP - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("command", ["run", "validate"])
def test_ctrl_c_while_starting_up_is_a_clean_stop(tmp_path: Path, command: str) -> None:
    """From the moment yamlload handles signals, a Ctrl-C before any traffic (while it
    imports, reads the command line and compiles the plan) is one line and exit 130:
    it was a KeyboardInterrupt traceback, or click's "Aborted!" and exit 1."""
    plan = tmp_path / "plan.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 5, arrivalRate: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    args = [str(plan), "-o", str(tmp_path / "r.json")] if command == "run" else [str(plan)]
    process = subprocess.Popen(
        [sys.executable, "-m", "yamlload", command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not _handles_stop_signals(process.pid) and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, out + err
    assert "Traceback" not in err and "Aborted" not in err, err
    assert "stopped by SIGINT" in out + err


ENTRY_POINT_HARNESS = """
import os, signal, sys
from importlib.metadata import entry_points

SIGNAL = getattr(signal, sys.argv[1])

class SignalOnImport:
    # a Ctrl-C that lands while the command line is being imported
    def find_spec(self, name, path=None, target=None):
        if name == "yamlload.cli.app":
            os.kill(os.getpid(), SIGNAL)
        return None

(script,) = entry_points(group="console_scripts", name="yamlload")
sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["yamlload", "--version"]
script.load()()
"""


@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_the_command_line_is_imported_is_a_clean_stop(
    signame: str, code: int
) -> None:
    """The `yamlload` command takes the signals before it imports the command line
    (about 0.15 s): a Ctrl-C then was a KeyboardInterrupt traceback."""
    done = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT_HARNESS, signame],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert done.stderr == f"stopped by {signame} before any request was sent\n"


def test_the_package_names_are_there_when_used() -> None:
    import yamlload

    assert yamlload.load_plan.__name__ == "load_plan"
    assert yamlload.PlanError.__name__ == "PlanError"
    assert set(yamlload.__all__) <= set(dir(yamlload))
    with pytest.raises(AttributeError):
        _ = yamlload.no_such_name  # type: ignore[attr-defined]
