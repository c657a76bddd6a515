"""Grades through the CLI (issue 18), against real servers on 127.0.0.1: the default
table, a plan's own, an endpoint's and a monitored series' grades, the `grade>=B` gate
both ways, config.grades' mistakes placed in the plan, and the report's `grade` and
`run.revision` as written and read back. Every run is one or two seconds of load; no
wall-clock time is asserted."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from jsonschema import Draft202012Validator

from tests.helpers import run_cli
from tests.servers import ServerThread, make_test_app
from yamlload.plan.schema import build_report_schema
from yamlload.results.summary import Summary

SLOW = "/sleep/50"
# A is under 45 ms, which /ok is by far and /sleep/50 never is; C is 48 ms to 1 s, where
# /sleep/50 stays even on a loaded machine.
TIGHT = "[45, 48, 1000, 2000]"
NO_CI = {"GITHUB_SHA": None, "CI_COMMIT_SHA": None}


def plan_text(
    target: str, grades: str = "", url: str = "/ok", extra_config: str = "", flow: str = ""
) -> str:
    return (
        f"config:\n  target: {target}\n"
        "  phases: [{duration: 1, arrivalRate: 8}]\n"
        + extra_config
        + (f"  grades:\n{grades}" if grades else "")
        + "scenarios:\n"
        + (flow or f"  - flow: [{{get: {{url: '{url}'}}}}]\n")
    )


def run_plan(
    write_plan: Any, tmp_path: Path, text: str, *flags: str, env: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any], str]:
    plan = write_plan(text)
    out = tmp_path / "report.json"
    result = run_cli("run", "-q", str(plan), "-o", str(out), *flags, env=env or NO_CI)
    report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return result.exit_code, report, result.stdout + result.stderr


def grades_of(report: dict[str, Any]) -> dict[str, str]:
    return {key: entry["grade"] for key, entry in report["grade"]["by_metric"].items()}


def test_a_run_is_graded_on_the_default_table(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url))
    assert code == 0, output
    grade = report["grade"]
    assert grade["overall"] == "A"
    assert grades_of(report) == {
        "http.response_time.p95": "A",
        "error_rate": "A",
        "user_failure_rate": "A",
    }
    assert grade["by_metric"]["error_rate"]["value"] == 0.0
    assert 0 < grade["by_metric"]["http.response_time.p95"]["value"] < 500
    assert grade["table"] == {
        "http.response_time.p95": {"bands": [500, 1000, 2000, 5000], "better": "lower"},
        "error_rate": {"bands": [0.001, 0.005, 0.01, 0.05], "better": "lower"},
        "user_failure_rate": {"bands": [0.001, 0.005, 0.01, 0.05], "better": "lower"},
    }
    assert grade["readiness"]["verdict"] == "ready"
    line = next(x for x in output.splitlines() if x.startswith("Grade "))
    assert line.startswith("Grade A: p95 ")
    assert line.endswith(" ms (A), error rate 0.00% (A), user failure rate 0.00% (A)")
    assert "Readiness: ready (every graded metric is B or better and failure rate 0.00% < 1%)" in (
        output
    )
    Draft202012Validator(build_report_schema()).validate(report)


def test_failed_requests_grade_the_error_rate(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url, url="/status/500"))
    assert code == 0, output  # no gate: grades inform, they do not fail a run
    assert report["grade"]["by_metric"]["error_rate"] == {"value": 1.0, "grade": "F"}
    assert report["grade"]["overall"] == "F"
    assert report["grade"]["readiness"] == {
        "verdict": "not ready",
        "rule": "failure rate 100.00% > 5%",
    }


def test_a_plans_table_replaces_the_default_but_failures_are_always_graded(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    """A table that leaves out error rate still grades it (and failed users): a plan
    grading latency alone passed `grade>=B` with every request failing."""
    grades = (
        f"    p95: {TIGHT}\n"
        "    rps: {bands: [1000, 500, 200, 100], better: higher}\n"
        '    max: ["0.02s", "0.04s", "0.2s", "0.4s"]\n'
    )
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url, grades, SLOW))
    assert code == 0, output
    assert grades_of(report) == {
        "error_rate": "A",
        "user_failure_rate": "A",
        "http.response_time.p95": "C",
        "http.request_rate": "F",  # 8 a second against D's more than 100
        "http.response_time.max": "C",
    }
    table = report["grade"]["table"]
    assert table["http.request_rate"] == {"bands": [1000, 500, 200, 100], "better": "higher"}
    assert table["http.response_time.max"]["bands"] == [20, 40, 200, 400]  # seconds read as ms
    assert report["grade"]["overall"] == "F"
    assert report["grade"]["readiness"] == {
        "verdict": "not ready",
        "rule": "rps is F (C or lower is not ready)",
    }
    line = next(x for x in output.splitlines() if x.startswith("Grade "))
    assert re.fullmatch(
        r"Grade F: p95 [0-9.]+ ms \(C\), rps [0-9.]+/s \(F\), max [0-9.]+ ms \(C\), "
        r"error rate 0.00% \(A\), user failure rate 0.00% \(A\)",
        line,
    ), line


def test_default_true_keeps_the_default_rows(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    grades = "    default: true\n    p99: [20, 40, 200, 400]\n"
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url, grades, SLOW))
    assert code == 0, output
    assert grades_of(report) == {
        "http.response_time.p95": "A",
        "error_rate": "A",
        "user_failure_rate": "A",
        "http.response_time.p99": "C",
    }
    assert report["grade"]["readiness"]["verdict"] == "not ready"
    assert report["grade"]["readiness"]["rule"] == "p99 is C (C or lower is not ready)"


def test_an_endpoint_is_graded_on_its_own_requests(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    flow = f"  - flow:\n      - get: {{url: /ok}}\n      - get: {{url: '{SLOW}', name: slow}}\n"
    # one table for both: A is under 45 ms, which /sleep/50 can never be and /ok is
    # by far (wide bands: a loaded machine slows both, and must not change the grades)
    bands = "[45, 1000, 2000, 5000]"
    grades = f'    "slow: p95": {bands}\n    "GET /ok: p95": {bands}\n'
    text = plan_text(server.url, grades, flow=flow)
    code, report, output = run_plan(write_plan, tmp_path, text)
    assert code == 0, output
    assert grades_of(report) == {
        "error_rate": "A",
        "user_failure_rate": "A",
        "slow: http.response_time.p95": "B",
        "GET /ok: http.response_time.p95": "A",
    }
    assert "slow: p95 " in output and "GET /ok: p95 " in output


def metrics_app() -> web.Application:
    """The test app with a /metrics whose active connections are 4, 5 or 6."""
    app = make_test_app()
    scrapes = {"n": 0}

    async def metrics(request: web.Request) -> web.Response:
        scrapes["n"] += 1
        text = f'# TYPE pg_active gauge\npg_active{{state="active"}} {4 + scrapes["n"] % 3}\n'
        return web.Response(text=text, content_type="text/plain")

    app.router.add_get("/metrics", metrics)
    return app


@pytest.fixture
def monitored() -> Iterator[str]:
    with ServerThread(metrics_app()) as running:
        yield running.url


def test_a_monitored_series_is_graded(write_plan: Any, tmp_path: Path, monitored: str) -> None:
    monitor = (
        "  monitor:\n    - name: db\n      prometheus: /metrics\n      interval: 1s\n"
        '      metrics:\n        active: sum(pg_active{state="active"})\n'
    )
    grades = "    monitor.db.active.max: [3, 10, 20, 30]\n    monitor.db.active.min: {bands: [9, 8, 7, 6], better: higher}\n"
    text = plan_text(monitored, grades, extra_config=monitor)
    code, report, output = run_plan(write_plan, tmp_path, text)
    assert code == 0, output
    assert grades_of(report) == {
        "error_rate": "A",
        "user_failure_rate": "A",
        "monitor.db.active.max": "B",
        "monitor.db.active.min": "F",
    }
    assert 4 <= report["grade"]["by_metric"]["monitor.db.active.max"]["value"] <= 6


def test_grade_gate_passes(write_plan: Any, tmp_path: Path, server: ServerThread) -> None:
    junit = tmp_path / "junit.xml"
    text = plan_text(server.url, f"    p95: {TIGHT}\n")
    code, report, output = run_plan(
        write_plan, tmp_path, text, "--ensure", "grade>=B", "--junit", str(junit)
    )
    assert code == 0, output
    assert report["checks"] == [
        {"check": "grade>=B", "value": 4.0, "measured": "grade A", "limit": ">= B", "result": "ok"}
    ]
    suite = ET.parse(junit).getroot()
    cases = {
        c.get("name"): c for c in suite.iter("testcase") if c.get("classname") == "yamlload.grade"
    }
    assert list(cases) == ["http.response_time.p95", "error_rate", "user_failure_rate"]
    assert cases["http.response_time.p95"].find("failure") is None


def test_grade_gate_fails_below_its_letter(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    junit = tmp_path / "junit.xml"
    summary_md = tmp_path / "summary.md"
    text = plan_text(server.url, f"    p95: {TIGHT}\n    error_rate: [0.1%, 0.5%, 1%, 5%]\n", SLOW)
    code, report, output = run_plan(
        write_plan,
        tmp_path,
        text,
        "--ensure",
        "grade>=B",
        "--junit",
        str(junit),
        "--summary-md",
        str(summary_md),
    )
    assert code == 1, output
    assert report["checks"][0]["result"] == "fail"
    assert report["checks"][0]["measured"] == "grade C"
    row = next(x for x in output.splitlines() if x.startswith("grade>=B"))
    assert row.split() == ["grade>=B", "grade", "C", ">=", "B", "fail"]
    suite = ET.parse(junit).getroot()
    assert suite[0].tag == "properties"  # JUnit wants them before the test cases
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["grade"] == "C"
    assert properties["readiness"] == "not ready"
    failing = {
        c.get("name"): c.find("failure") is not None
        for c in suite.iter("testcase")
        if c.get("classname") == "yamlload.grade"
    }
    assert failing == {
        "http.response_time.p95": True,
        "error_rate": False,
        "user_failure_rate": False,
    }
    markdown = summary_md.read_text(encoding="utf-8")
    assert "**Grade C: p95 " in markdown
    assert "| `error_rate` | 0.00% | A | < 0.1% | < 0.5% | < 1% | < 5% |" in markdown


@pytest.mark.parametrize("gate", ["grade>=E", "grade>=b+", "GET /ok: grade>=B"])
def test_a_bad_grade_gate_is_refused_before_any_traffic(
    write_plan: Any, tmp_path: Path, server: ServerThread, gate: str
) -> None:
    text = plan_text(server.url, url="/seen/bad-gate")
    code, report, output = run_plan(write_plan, tmp_path, text, "--ensure", gate)
    assert code == 2
    assert report == {}
    assert "/seen/bad-gate" not in json.dumps(server.hits())
    assert f"--ensure {gate!r}: " in output
    assert ("unknown grade" in output) or ("not an endpoint's" in output)


BROKEN = """\
config:
  target: {target}
  phases: [{{duration: 1, arrivalRate: 1}}]
  grades:
    p59: [1, 2, 3, 4]
    p95: [500, 400, 300, 200]
    error_rate: ["1%", "2ms", 0.03, 0.04]
    "GET /nope: p95": [1, 2, 3, 4]
    rps: {{bands: [1, 2, 3, 4], better: higher}}
    monitor.db.active.max: [1, 2, 3, 4]
    error_rate_in_percent: [0.1, 0.5, 1, 5]
scenarios:
  - flow: [{{get: {{url: /ok}}}}]
"""


def test_config_grades_mistakes_are_placed_in_the_plan(
    write_plan: Any, server: ServerThread
) -> None:
    plan = write_plan(BROKEN.format(target=server.url))
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    expected = [
        f"{plan}:5:5: config.grades.p59: unknown metric 'p59'; did you mean 'p99'?",
        f"{plan}:6:5: config.grades.p95: the bands [500, 400, 300, 200] must go up from A to D,"
        " such as [500, 1000, 2000, 5000] (lower is better)",
        f"{plan}:7:24: config.grades.error_rate: 'ms' only goes with a time metric, not error_rate",
        f"{plan}:8:5: config.grades[\"GET /nope: p95\"]: no endpoint 'GET /nope' in the plan; "
        "did you mean 'GET /ok'?",
        f"{plan}:9:5: config.grades.rps: the bands [1, 2, 3, 4] must go down from A to D, "
        "such as [200, 150, 100, 50] (higher is better)",
        f'{plan}:10:5: config.grades["monitor.db.active.max"]: '
        "'monitor.db.active.max' names a monitored series, but the plan has no config.monitor",
        f"{plan}:11:5: config.grades.error_rate_in_percent: unknown metric "
        "'error_rate_in_percent'; did you mean 'error_rate'?",
    ]
    for line in expected:
        assert line in lines, result.stderr
    assert f"invalid: {plan} ({len(expected)} problems)" in lines
    run = run_cli("run", "-q", str(plan), "-o", str(plan.with_suffix(".json")))
    assert run.exit_code == 2
    assert run.stderr.splitlines()[: len(expected)] == expected
    assert not plan.with_suffix(".json").exists()


def test_config_grades_shape_is_the_schemas(write_plan: Any, server: ServerThread) -> None:
    """The schema speaks first (the metrics are named once the plan compiles, as for
    config.ensure's)."""
    plan = write_plan(plan_text(server.url, "    rps: [1, 2, 3]\n    p95: [1, 2, true, 4]\n"))
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        f"{plan}:5:10: config.grades.rps: expected four bands [A, B, C, D] such as "
        "[500, 1000, 2000, 5000], got a list",
        f"{plan}:6:17: config.grades.p95[2]: expected a number, or a number with a unit "
        'such as "500ms", "1.5s", "1%", got true',
    ]


def test_a_rate_band_over_one_says_how_to_write_percent(
    write_plan: Any, server: ServerThread
) -> None:
    plan = write_plan(plan_text(server.url, "    error_rate: [0.1, 0.5, 1, 5]\n"))
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{plan}:5:31: config.grades.error_rate: a rate is a fraction from 0 to 1: "
        'write 5% as "5%" or 0.05'
    )


def test_better_is_lower_or_higher(write_plan: Any, server: ServerThread) -> None:
    plan = write_plan(plan_text(server.url, "    p95: {bands: [1, 2, 3, 4], better: up}\n"))
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{plan}:5:40: config.grades.p95.better: expected lower or higher "
        "(which way is better), got 'up'"
    )


def test_a_grade_threshold_in_the_plan_is_refused(write_plan: Any, server: ServerThread) -> None:
    text = plan_text(server.url, extra_config="  ensure:\n    thresholds:\n      - grade: 3\n")
    result = run_cli("validate", str(write_plan(text)))
    assert result.exit_code == 2
    assert (
        "config.ensure 'grade < 3': the grade is gated on with --ensure 'grade>=B'" in result.stderr
    )


def test_the_grade_and_revision_round_trip_through_the_report(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    text = plan_text(server.url, f'    p95: {TIGHT}\n    "GET /ok: max": [20, 40, 200, 400]\n')
    env = {"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "CI_COMMIT_SHA": None}
    code, report, output = run_plan(write_plan, tmp_path, text, env=env)
    assert code == 0, output
    assert report["run"]["revision"] == env["GITHUB_SHA"]
    Draft202012Validator(build_report_schema()).validate(report)
    summary = Summary.from_json(report)
    again = summary.to_json()
    assert again["grade"] == report["grade"]
    assert again["run"]["revision"] == env["GITHUB_SHA"]
    html = tmp_path / "page.html"
    rendered = run_cli("report", str(tmp_path / "report.json"), "-o", str(html))
    assert rendered.exit_code == 0, rendered.stderr
    page = html.read_text(encoding="utf-8")
    assert 'data-grade="A"' in page
    assert "<code>GET /ok: http.response_time.max</code>" in page
    assert page.index('aria-label="grade"') < page.index('aria-label="key numbers"')
    merged = tmp_path / "merged.json"
    assert run_cli("merge", str(tmp_path / "report.json"), "-o", str(merged)).exit_code == 0
    regraded = json.loads(merged.read_text(encoding="utf-8"))
    assert regraded["grade"] == report["grade"]
    assert regraded["run"]["revision"] == env["GITHUB_SHA"]


def test_an_old_report_without_grades_still_loads(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url))
    assert code == 0, output
    del report["grade"]
    report["run"].pop("revision", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(report), encoding="utf-8")
    summary = Summary.from_json(report)
    assert summary.grade is None and summary.revision is None
    assert "grade" not in summary.to_json()
    html = tmp_path / "old.html"
    assert run_cli("report", str(old), "-o", str(html)).exit_code == 0
    assert "data-grade" not in html.read_text(encoding="utf-8")


def test_a_broken_grade_in_a_report_is_refused(
    tmp_path: Path, write_plan: Any, server: ServerThread
) -> None:
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url))
    assert code == 0, output
    report["grade"]["overall"] = "E"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(report), encoding="utf-8")
    result = run_cli("report", str(bad), "-o", str(tmp_path / "bad.html"))
    assert result.exit_code == 2
    assert "not a yamlload JSON report" in result.stderr


def test_the_revision_is_gits_in_the_plans_folder(
    write_plan: Any, tmp_path: Path, server: ServerThread
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True, timeout=10)
    plan = write_plan(plan_text(server.url))
    subprocess.run([*git, "-C", str(tmp_path), "add", plan.name], check=True, timeout=10)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "plan"], check=True, timeout=10)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    out = tmp_path / "r.json"
    result = run_cli("run", "-q", str(plan), "-o", str(out), env=NO_CI)
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["run"]["revision"] == head
    # a plan edited since its commit is not that commit: the revision says so
    plan.write_text(plan.read_text(encoding="utf-8") + "# tuned\n", encoding="utf-8")
    result = run_cli("run", "-q", str(plan), "-o", str(out), env=NO_CI)
    assert json.loads(out.read_text(encoding="utf-8"))["run"]["revision"] == f"{head}-dirty"


def test_git_is_never_run_from_the_plans_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `.` on PATH, a `git` beside the plan ran (git is run in the plan's folder)."""
    from yamlload.cli.revision import git_revision

    fake = tmp_path / "git"
    fake.write_text(f"#!/bin/sh\ntouch {tmp_path}/ran\necho deadbeef\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f".:{os.environ.get('PATH', '')}")
    assert git_revision(tmp_path) != "deadbeef"
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("value", "recorded"),
    [
        ("9f8e7d6", "9f8e7d6"),
        ("abc\u202edef", "abcdef"),
        ("x" * 100, "x" * 64),
        ("v1.2/rc-3", "v1.2/rc-3"),
    ],
)
def test_a_ci_revision_keeps_only_the_characters_of_a_revision(value: str, recorded: str) -> None:
    """A bidi override or a control character from a CI variable reached every report."""
    from yamlload.cli.revision import build_revision

    assert build_revision(None, {"GITHUB_SHA": value}) == recorded


def test_no_revision_outside_a_repository(
    tmp_path: Path, write_plan: Any, server: ServerThread
) -> None:
    if (
        subprocess.run(
            ["git", "-C", str(tmp_path), "rev-parse"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        pytest.skip("the temporary folder is inside a git repository")
    code, report, output = run_plan(write_plan, tmp_path, plan_text(server.url))
    assert code == 0, output
    assert "revision" not in report["run"]


def test_the_live_board_judges_a_grade_gate_on_the_run_so_far(write_plan: Any) -> None:
    from yamlload.checks.parse import checks_for_run
    from yamlload.live.board import Board
    from yamlload.metrics.histogram import Metrics
    from yamlload.plan.compile import load_plan
    from yamlload.plan.secrets import Redactor

    plan = load_plan(str(write_plan(plan_text("http://127.0.0.1:9", f"    p95: {TIGHT}\n"))))
    board = Board(plan, checks_for_run(plan, ["grade>=B"]), Redactor.for_plan(plan), ())
    total = Metrics()
    for _ in range(20):
        total.observe("http.response_time", 50.0)
    total.count("http.requests", 20)
    total.count("vusers.created", 20)
    board.total, board.version = total, board.version + 1
    [outcome] = board.outcomes()
    assert (outcome.value, outcome.ok) == (2.0, False)  # C so far, below B
