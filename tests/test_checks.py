"""CI gates: the --ensure grammar, Artillery's config.ensure forms, evaluation against
known summaries, every exit code through the real CLI, JUnit, Markdown and compare."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import COMPAT, PLANS, compat_dir, run_cli
from tests.servers import free_port
from yamlload import PlanError, load_plan
from yamlload.checks.compare import deltas, evaluate_relative
from yamlload.checks.evaluate import evaluate
from yamlload.checks.parse import check_names, checks_from_plan, parse_ensure
from yamlload.checks.validity import invalid_reasons
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.periods import Period
from yamlload.results.summary import Summary


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit", "scope"),
    [
        ("p95<500", "http.response_time.p95", "<", 500, None),
        ("p99 <= 1s", "http.response_time.p99", "<=", 1000, None),
        ("median<100ms", "http.response_time.median", "<", 100, None),
        ("max<2000", "http.response_time.max", "<", 2000, None),
        ("error_rate<1%", "error_rate", "<", 0.01, None),
        ("error_rate<0.01", "error_rate", "<", 0.01, None),
        ("rps>=100", "http.request_rate", ">=", 100, None),
        ("http.response_time.p99<300", "http.response_time.p99", "<", 300, None),
        ("vusers.failed==0", "vusers.failed", "==", 0, None),
        ("http.codes.500 != 3", "http.codes.500", "!=", 3, None),
        ("yamlload.arrival_lag.p99<50ms", "yamlload.arrival_lag.p99", "<", 50, None),
        ("GET /orders: p95<300", "http.response_time.p95", "<", 300, "GET /orders"),
        ("GET /products/:id: p99<1.5s", "http.response_time.p99", "<", 1500, "GET /products/:id"),
        ("create order: error_rate<5%", "error_rate", "<", 0.05, "create order"),
    ],
)
def test_valid_expressions(
    text: str, metric: str, op: str, limit: float, scope: str | None
) -> None:
    check = parse_ensure(text)
    assert (check.metric, check.op, check.scope) == (metric, op, scope)
    assert check.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95", "expected METRIC OPERATOR LIMIT"),
        ("p95<<5", "one operator only"),
        ("p95<fast", "the limit must be a number"),
        ("error_rate<2s", "'s' only goes with a time metric"),
        ("p95<5%", "'%' only goes with error_rate"),
        ("p95<5pp", "'pp' is for `yamlload compare`"),
    ],
)
def test_invalid_expressions_are_positioned_errors(text: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_ensure(text)
    [problem] = caught.value.problems
    assert str(problem).startswith(f"--ensure {text!r}: ")
    assert message in problem.message


PLAN = (
    "config:\n  target: http://127.0.0.1:1\n  phases: [{duration: 1, arrivalCount: 1}]\n"
    "  ensure:\n    p95: 200\n    maxErrorRate: 1\n    thresholds:\n      - http.response_time.p99: 300\n"
    "    conditions:\n      - expression: http.response_time.p99 < 100 and http.request_rate > 10\n"
    "        strict: false\n"
    "scenarios:\n  - flow:\n      - get: {url: /orders, name: list orders}\n      - get: {url: /health}\n"
)


def test_names_are_checked_against_the_plan_before_traffic(write_plan) -> None:
    plan = load_plan(str(write_plan(PLAN)))
    checks = [
        *checks_from_plan(plan),
        parse_ensure("list orders: p95<3"),
        parse_ensure("GET /health: rps>1"),
    ]
    check_names(checks, plan)  # all known
    for bad, message in [
        ("p59<3", "unknown metric 'p59'; did you mean 'p99'?"),
        ("http.respons_time.p95<3", "did you mean 'http.response_time.p95'?"),
        ("list order: p95<3", "no endpoint 'list order' in the plan; did you mean 'list orders'?"),
        ("GET /health: vusers.failed<3", "is not a per-endpoint metric"),
    ]:
        with pytest.raises(PlanError) as caught:
            check_names([parse_ensure(bad)], plan)
        assert message in str(caught.value)


def test_artillery_ensure_forms_become_checks(write_plan) -> None:
    plan = load_plan(str(write_plan(PLAN)))
    checks = {c.source: c for c in checks_from_plan(plan)}
    assert checks["p95 < 200"].metric == "http.response_time.p95"
    assert checks["maxErrorRate: user_failure_rate <= 1%"].limit == pytest.approx(0.01)
    assert checks["http.response_time.p99 < 300"].op == "<"
    condition = next(c for c in checks.values() if c.condition is not None)
    assert condition.strict is False


def known_summary() -> Summary:
    metrics = Metrics()
    for ms in range(1, 101):  # latencies 1..100 ms
        metrics.observe("http.response_time", float(ms))
        metrics.observe("plugins.metrics-by-endpoint.response_time.GET /a", float(ms))
    for name, n in {
        "http.requests": 100,
        "http.responses": 100,
        "http.codes.200": 98,
        "http.codes.500": 2,
        "http.requests_failed": 2,
        "vusers.created": 50,
        "vusers.failed": 1,
        "vusers.completed": 49,
        "plugins.metrics-by-endpoint.GET /a.requests": 100,
        "plugins.metrics-by-endpoint.GET /a.requests_failed": 2,
        "plugins.metrics-by-endpoint.GET /a.codes.200": 98,
        "plugins.metrics-by-endpoint.GET /a.codes.500": 2,
    }.items():
        metrics.count(name, n)
    return Summary("plan.yml", "http://t", "now", 10.0, [Period(0, metrics)], [])


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        # the histogram is exact to 0.4%, so limits sit a little off the true values
        ("p50<=50.5", True),
        ("p50<49.5", False),
        ("p95<94", False),
        ("p95<=96", True),
        ("max==100", True),
        ("min>=1", True),
        ("error_rate<1%", False),  # 2 of 100 requests failed: 2%
        ("error_rate<=2%", True),
        ("user_failure_rate<2.5%", True),  # 1 of 50 users failed: 2%
        ("user_failure_rate<2%", False),
        ("rps>=10", True),
        ("rps>10", False),
        ("http.codes.500==2", True),
        ("vusers.failed==0", False),
        ("GET /a: error_rate<=2%", True),
        ("GET /a: p99<99", False),
        ("GET /a: codes.500<1", False),
        ("GET /a: requests==100", True),
    ],
)
def test_evaluation_against_a_known_summary(text: str, ok: bool) -> None:
    [outcome] = evaluate([parse_ensure(text)], known_summary())
    assert outcome.ok is ok


def test_condition_expressions_read_metric_names() -> None:
    from yamlload.checks.parse import Check
    from yamlload.plan.expr import parse_condition

    summary = known_summary()
    passing = Check(
        "c", condition=parse_condition("http.response_time.p99 <= 100 and http.codes.500 == 2")
    )
    failing = Check("d", condition=parse_condition("vusers.failed == 0 or p95 < 10"))
    assert [o.ok for o in evaluate([passing, failing], summary)] == [True, False]


def test_invalid_run_reasons() -> None:
    summary = known_summary()
    assert invalid_reasons(summary, 100.0) == []
    lagging = Metrics()
    for ms in (5.0, 400.0, 500.0):
        lagging.observe("yamlload.arrival_lag", ms)
    lagging.count("http.requests", 3)
    lagging.count("errors.ECONNREFUSED", 3)
    reasons = invalid_reasons(Summary("p", "t", "now", 1.0, [Period(0, lagging)], []), 100.0)
    assert "the generator fell behind its schedule: arrival lag p99 = 500 ms" in reasons[0]
    assert "could not reach the target at all" in reasons[1]
    assert "ECONNREFUSED × 3" in reasons[1]


# ---- through the CLI


SIMPLE = "config:\n  phases: [{duration: 1, arrivalRate: 10}]\nscenarios:\n  - flow: [{get: {url: /ok, name: home}}]\n"


def test_exit_0_when_every_check_passes(server, write_plan, tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "-q",
        str(write_plan(SIMPLE)),
        "-t",
        server.url,
        "-o",
        str(tmp_path / "r.json"),
        "--ensure",
        "p95<5s",
        "--ensure",
        "error_rate<1%",
        "--ensure",
        "home: requests==10",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Thresholds" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert [c["result"] for c in report["checks"]] == ["ok", "ok", "ok"]
    assert report["validity"] == {"valid": True, "reasons": []}


def test_exit_1_when_a_check_fails(server, write_plan, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    markdown = tmp_path / "summary.md"
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    result = run_cli(
        "run",
        "-q",
        str(write_plan(SIMPLE)),
        "-t",
        server.url,
        "-o",
        str(tmp_path / "r.json"),
        "--ensure",
        "p95<5s",
        "--ensure",
        "max<0.001",
        "--junit",
        str(junit),
        "--summary-md",
        str(markdown),
        env={"GITHUB_STEP_SUMMARY": str(step)},
    )
    assert result.exit_code == 1
    assert "max<0.001" in result.stdout and "fail" in result.stdout
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"run is valid", "p95<5s", "max<0.001"}
    assert cases["max<0.001"].find("failure") is not None
    assert cases["p95<5s"].find("failure") is None
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    text = markdown.read_text()
    assert "❌ **1 of 2 thresholds failed**" in text
    assert "| `max<0.001` |" in text
    assert step.read_text() == "earlier step\n" + text  # appended, not replaced


def test_exit_2_for_a_bad_check_and_nothing_is_sent(server, write_plan) -> None:
    before = server.hits().get("GET /ok", 0)
    result = run_cli(
        "run",
        str(write_plan(SIMPLE)),
        "-t",
        server.url,
        "--ensure",
        "p59<3",
        "--ensure",
        "hom: p95<3",
    )
    assert result.exit_code == 2
    assert "unknown metric 'p59'; did you mean 'p99'?" in result.stderr
    assert "no endpoint 'hom' in the plan; did you mean 'home'?" in result.stderr
    assert server.hits().get("GET /ok", 0) == before


def test_exit_3_when_the_target_cannot_be_reached(write_plan, tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "-q",
        str(write_plan(SIMPLE)),
        "-t",
        f"http://127.0.0.1:{free_port()}",
        "-o",
        str(tmp_path / "r.json"),
        "--ensure",
        "p95<100",
    )
    assert result.exit_code == 3
    assert "invalid run: could not reach the target at all" in result.stderr
    assert json.loads((tmp_path / "r.json").read_text())["validity"]["valid"] is False


BLOCKING = (
    "config:\n  phases: [{duration: 1, arrivalRate: 20}]\n  processor: hooks.py\n"
    "scenarios:\n  - flow: [{function: block}, {get: {url: /ok}}]\n"
)
HOOKS = {
    "hooks.py": "import time\n\ndef block(context):\n    time.sleep(0.25)  # blocks the event loop\n"
}


def test_exit_3_when_the_generator_falls_behind(server, write_plan, tmp_path: Path) -> None:
    plan = str(write_plan(BLOCKING, **HOOKS))
    result = run_cli("run", "-q", plan, "-t", server.url, "-o", str(tmp_path / "a.json"))
    assert result.exit_code == 3
    assert "invalid run: the generator fell behind its schedule" in result.stderr
    allowed = run_cli(
        "run", "-q", plan, "-t", server.url, "-o", str(tmp_path / "b.json"), "--allow-lag"
    )
    assert allowed.exit_code == 0
    assert "allowed by --allow-lag" in allowed.stderr
    raised = run_cli(
        "run", "-q", plan, "-t", server.url, "-o", str(tmp_path / "c.json"), "--max-lag", "100000"
    )
    assert raised.exit_code == 0


def test_non_strict_condition_warns_but_passes(server, write_plan, tmp_path: Path) -> None:
    text = SIMPLE.replace(
        "config:\n",
        "config:\n  ensure:\n    conditions:\n      - {expression: 'vusers.failed > 5', strict: false}\n",
    )
    result = run_cli(
        "run", "-q", str(write_plan(text)), "-t", server.url, "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 0
    assert "warn" in result.stdout


def test_artillerys_with_ensure_script_exits_1(server, tmp_path: Path) -> None:
    compat_dir()
    script = (
        COMPAT / "packages/artillery/test/cloud-e2e/fargate/fixtures/uses-ensure/with-ensure.yaml"
    )
    short = '{"config":{"phases":[{"duration":2,"arrivalRate":2}]}}'
    result = run_cli(
        "run",
        "-q",
        str(script),
        "-t",
        server.url,
        "--overrides",
        short,
        "-o",
        str(tmp_path / "r.json"),
    )
    assert result.exit_code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    verdicts = {c["check"]: c["result"] for c in report["checks"]}
    assert verdicts == {"p99 < 10000": "ok", "http.response_time.p99 < 1": "fail"}


# ---- compare


def write_report(path: Path, latency_ms: float, failed: int) -> Path:
    metrics = Metrics()
    for _ in range(100):
        metrics.observe("http.response_time", latency_ms)
        metrics.observe("plugins.metrics-by-endpoint.response_time.GET /a", latency_ms)
    metrics.count("http.requests", 100)
    metrics.count("http.responses", 100)
    metrics.count("http.requests_failed", failed)
    metrics.count("plugins.metrics-by-endpoint.GET /a.requests", 100)
    metrics.count("plugins.metrics-by-endpoint.GET /a.requests_failed", failed)
    metrics.count("plugins.metrics-by-endpoint.GET /a.codes.200", 100 - failed)
    metrics.count("plugins.metrics-by-endpoint.GET /a.codes.500", failed)
    metrics.count("vusers.created", 100)
    metrics.count("vusers.failed", failed)
    summary = Summary("plan.yml", "http://t", "now", 10.0, [Period(0, metrics)], [])
    path.write_text(json.dumps(summary.to_json()))
    return path


def test_compare_deltas() -> None:
    base = known_summary()
    rows = {d.name: d for d in deltas(base, base)}
    assert rows["p95"].change == 0
    assert rows["GET /a: p95"].percent == 0
    [same] = evaluate_relative([parse_ensure("p95<+1%", relative=True)], base, base)
    assert same.ok and same.value == 0


def test_compare_exit_codes(tmp_path: Path) -> None:
    base = write_report(tmp_path / "base.json", 100.0, 1)
    same = write_report(tmp_path / "same.json", 105.0, 1)
    worse = write_report(tmp_path / "worse.json", 150.0, 3)
    ok = run_cli(
        "compare", str(base), str(same), "--ensure", "p95<+10%", "--ensure", "error_rate<+0.5pp"
    )
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert "p95" in ok.stdout and "+5.0%" in ok.stdout
    bad = run_cli(
        "compare",
        str(base),
        str(worse),
        "--ensure",
        "p95<+10%",
        "--ensure",
        "error_rate<+0.5pp",
        "--ensure",
        "GET /a: p95<+60ms",
    )
    assert bad.exit_code == 1
    lines = {
        line.split()[0]: line
        for line in bad.stdout.splitlines()
        if line.startswith(("p95<", "error_rate<", "GET"))
    }
    assert lines["p95<+10%"].rstrip().endswith("fail")
    assert lines["error_rate<+0.5pp"].rstrip().endswith("fail")  # 1% → 3% is +2pp
    assert "GET /a: p95<+60ms" in bad.stdout


def test_compare_rejects_bad_limits_and_reports(tmp_path: Path) -> None:
    base = write_report(tmp_path / "base.json", 100.0, 1)
    result = run_cli("compare", str(base), str(base), "--ensure", "p95<10%", "--ensure", "p95<+1pp")
    assert result.exit_code == 2
    assert "a comparison limit is a change" in result.stderr
    assert "'pp' (percentage points) goes with error_rate" in result.stderr
    junk = tmp_path / "junk.json"
    junk.write_text('{"plan": 1}')
    result = run_cli("compare", str(base), str(junk))
    assert result.exit_code == 2
    assert "not a yamlload JSON report" in result.stderr


def test_smoke_plan_ensure_passes_against_the_demo_target(tmp_path: Path) -> None:
    result = run_cli(
        "run", "-q", "--demo-target", str(PLANS / "smoke.yml"), "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 0, result.stdout
    assert "vusers.failed == 0" in result.stdout


def test_the_ci_doc_example_plan_runs_with_its_checks(tmp_path: Path) -> None:
    import re

    from tests.helpers import REPO

    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    plan = re.search(r"```yaml\n(# yaml-language-server.*?)```", text, flags=re.DOTALL)
    assert plan is not None
    path = tmp_path / "checkout.yml"
    path.write_text(plan.group(1), encoding="utf-8")
    short = '{"config":{"phases":[{"duration":2,"arrivalRate":5}]}}'
    result = run_cli(
        "run",
        "-q",
        "--demo-target",
        str(path),
        "--overrides",
        short,
        "-o",
        str(tmp_path / "r.json"),
        "--ensure",
        "p99<800",
        "--ensure",
        "create order: error_rate<1%",
        "--junit",
        str(tmp_path / "j.xml"),
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(list(ET.parse(tmp_path / "j.xml").getroot().iter("testcase"))) >= 5


def test_a_bad_metric_in_config_ensure_points_into_the_plan(write_plan) -> None:
    path = write_plan(
        "config:\n  target: http://127.0.0.1:1\n  ensure:\n    thresholds:\n      - http.respnse_time.p99: 5\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("run", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"{path}:5:9: ensure 'http.respnse_time.p99 < 5': unknown metric"
    )
    assert "did you mean 'http.response_time.p99'?" in result.stderr


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("intermediate", 0, "period"), "1e999"),  # JSON that reads as infinity
        (("run", "duration"), "NaN"),
        (("run", "duration"), "-Infinity"),
        (("aggregate", "counters", "http.requests"), "1" + "0" * 5000),  # int() refuses it
        (("aggregate", "counters", "http.requests_failed"), "-5"),  # error rate -5%
    ],
)
def test_a_report_with_a_number_no_run_writes_is_refused(
    tmp_path: Path, path: tuple[object, ...], value: str
) -> None:
    """Each was a crash (exit 70: OverflowError, nan/s in a page) or a wrong verdict (a
    negative count made a negative error rate): reports are untrusted input."""
    good = json.loads(write_report(tmp_path / "good.json", 100.0, 1).read_text())
    node: Any = good
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "__VALUE__"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(good).replace('"__VALUE__"', value))
    for command in (
        ["compare", str(bad), str(bad)],
        ["report", str(bad), "-o", str(tmp_path / "r.html")],
    ):
        result = run_cli(*command)
        assert result.exit_code == 2, (command, result.stderr)
        assert "not a" in result.stderr and "JSON report" in result.stderr


@pytest.mark.parametrize("expression", ["p95<1e999", "error_rate<1e400%", "p99<=1e999ms"])
def test_an_infinite_limit_is_refused(expression: str) -> None:
    """1e999 read as inf: a limit every value passes."""
    with pytest.raises(PlanError, match="finite"):
        parse_ensure(expression)


def test_junit_stays_xml_whatever_the_names_hold() -> None:
    """XML 1.0 has no place for most control characters: a plan file or an endpoint
    named with one made a JUnit file no CI could read."""
    from yamlload.report.junit import junit_xml

    summary = Summary("plan\x01\x1b[31m.yml", "http://t", "now", 1.0, [Period(0)], [])
    document = junit_xml(summary, [], [])
    suite = ET.fromstring(document.split("?>", 1)[1])
    assert suite.get("name") == "yamlload plan\ufffd\ufffd[31m.yml"
