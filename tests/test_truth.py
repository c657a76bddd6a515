"""The numbers tell the truth: what a failed request is, where every request went, what a
period holds, how Artillery's plans behave, how failures are shown and how CI is gated.

Each test runs a small plan against a server on 127.0.0.1 that the module starts, and
asserts exact counts: what the engine counted and what the server received (its hit
counts, keyed by method and path; each test uses paths of its own under /seen/).
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread, free_port, make_test_app
from tests.test_accounting_property import assert_accounted
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan

EP = "plugins.metrics-by-endpoint."


def run(path: Path, target: str, **options: Any) -> Summary:
    plan = load_plan(str(path), PlanOptions(target=target))
    result = run_plan(plan, RunOptions(**{"seed": 7, **options}))
    return summarize(plan, result, "test")


def one_user(flow: str, config: str = "") -> str:
    """A plan of one user (arriving at once) running `flow` (YAML steps, 6 spaces in)."""
    return (
        "config:\n  phases: [{duration: 0.1, arrivalCount: 1}]\n"
        + config
        + "scenarios:\n  - name: truth\n    flow:\n"
        + flow
    )


def users(n: int, flow: str, config: str = "") -> str:
    return (
        f"config:\n  phases: [{{duration: 0.2, arrivalCount: {n}}}]\n"
        + config
        + "scenarios:\n  - name: truth\n    flow:\n"
        + flow
    )


def counters(summary: Summary) -> dict[str, int]:
    return summary.aggregate.counters


def cli_run(plan: Path, tmp_path: Path, *extra: str) -> tuple[Any, dict[str, Any]]:
    """`yamlload run` through the real CLI; the result and the JSON report it wrote."""
    report = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-o", str(report), "--seed", "7", *extra)
    assert report.exists(), result.stdout + result.stderr
    return result, json.loads(report.read_text(encoding="utf-8"))


def with_target(text: str, target: str) -> str:
    return text.replace("config:\n", f"config:\n  target: {target}\n", 1)


# --------------------------------------------------------------------------- failed requests


def test_a_request_fails_when_unanswered_or_its_status_is_not_accepted(
    server: ServerThread, write_plan
) -> None:
    """By default 2xx and 3xx are accepted; an `expect: statusCode` list sets what one
    request accepts; an error (no response) is a failed request too."""
    dead = f"http://127.0.0.1:{free_port()}/dead"
    plan = write_plan(
        one_user(
            "      - get: {url: /ok}\n"
            "      - get: {url: /redirect, followRedirect: false}\n"
            "      - get: {url: /status/404}\n"
            "      - get: {url: /status/500}\n"
            "      - get: {url: /status/409, expect: [{statusCode: [201, 409]}]}\n"
            f"      - get: {{url: '{dead}', name: dead}}\n"
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("http.requests") == 6
    assert c.get("http.responses") == 5
    assert c.get("errors.ECONNREFUSED") == 1
    assert c.get("http.requests_failed") == 3, "404, 500 and the refused connection"
    assert c.get(f"{EP}GET /status/404.requests_failed") == 1
    assert c.get(f"{EP}GET /status/500.requests_failed") == 1
    assert c.get(f"{EP}dead.requests_failed") == 1
    for accepted in ("GET /ok", "GET /redirect", "GET /status/409"):
        assert c.get(f"{EP}{accepted}.requests_failed", 0) == 0, accepted
        assert c.get(f"{EP}{accepted}.requests") == 1, accepted
    assert summary.error_rate == pytest.approx(3 / 6)
    # The user ended on the refused connection: the only failed user of one.
    assert c.get("vusers.failed") == 1
    user_failure_rate = getattr(summary, "user_failure_rate", None)
    assert user_failure_rate == pytest.approx(1.0), "Summary.user_failure_rate"
    assert_accounted(summary.to_json())


def test_expected_statuses_set_the_plans_default(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: /ok}\n"
            "      - get: {url: /status/404}\n"
            "      - get: {url: /status/501}\n"
            "      - get: {url: /status/502}\n"
            "      - get: {url: /redirect, followRedirect: false}\n"
            "      - get: {url: /status/201, expect: [{statusCode: 201}]}\n",
            config="  http:\n    expectedStatuses: [200, '4xx', '500-501']\n",
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("http.requests") == 6
    assert c.get("http.requests_failed") == 2, "502 and 302 are not in [200, 4xx, 500-501]"
    assert c.get(f"{EP}GET /status/502.requests_failed") == 1
    assert c.get(f"{EP}GET /redirect.requests_failed") == 1
    assert c.get(f"{EP}GET /status/404.requests_failed", 0) == 0
    assert c.get(f"{EP}GET /status/501.requests_failed", 0) == 0
    assert c.get(f"{EP}GET /status/201.requests_failed", 0) == 0  # its own expect list
    assert summary.error_rate == pytest.approx(2 / 6)
    assert_accounted(summary.to_json())


# --------------------------------------------------------------------------- CI gate


def test_all_500s_fail_the_error_rate_check(server: ServerThread, write_plan, tmp_path) -> None:
    plan = write_plan(with_target(users(10, "      - get: {url: /status/500}\n"), server.url))
    result, report = cli_run(plan, tmp_path, "-q", "--ensure", "error_rate<1%")
    assert result.exit_code == 1, result.stdout + result.stderr
    counters = report["aggregate"]["counters"]
    assert counters.get("http.requests_failed") == 10
    assert counters.get("vusers.completed") == 10  # a 500 fails the request, not the user
    summary_part = result.stdout.split("\nThresholds\n")[0]
    assert re.search(r"error.rate.*\b100(\.0+)?\s*%", summary_part, re.IGNORECASE), summary_part
    assert [c["result"] for c in report["checks"]] == ["fail"]
    assert report["checks"][0]["value"] == pytest.approx(1.0)


def test_a_status_an_expect_list_accepts_is_not_a_failure(
    server: ServerThread, write_plan, tmp_path
) -> None:
    """409 is accepted by `expect: [{statusCode: [201, 409]}]`; the 500 beside it is not:
    half of the requests failed, so error_rate is 50%, between the two limits."""
    plan = write_plan(
        with_target(
            users(
                4,
                "      - get: {url: /status/409, expect: [{statusCode: [201, 409]}]}\n"
                "      - get: {url: /status/500}\n",
            ),
            server.url,
        )
    )
    result, report = cli_run(
        plan, tmp_path, "-q", "--ensure", "error_rate>=49%", "--ensure", "error_rate<51%"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    counters = report["aggregate"]["counters"]
    assert counters.get(f"{EP}GET /status/409.requests_failed", 0) == 0
    assert counters.get(f"{EP}GET /status/500.requests_failed") == 4
    assert counters.get("plugins.expect.ok") == 4
    assert counters.get("plugins.expect.failed", 0) == 0


def test_max_error_rate_keeps_artillerys_meaning_failed_users(
    server: ServerThread, write_plan, tmp_path
) -> None:
    """Every user fails on its last request (a dead port) after three good ones: 25% of
    requests failed, 100% of users. `error_rate` is the first, `maxErrorRate` the second."""
    dead = f"http://127.0.0.1:{free_port()}/dead"
    plan = write_plan(
        with_target(
            users(
                4,
                "      - get: {url: /ok}\n      - get: {url: /ok}\n      - get: {url: /ok}\n"
                f"      - get: {{url: '{dead}', name: dead}}\n",
                config="  ensure:\n    maxErrorRate: 50\n",
            ),
            server.url,
        )
    )
    result, report = cli_run(plan, tmp_path, "-q", "--ensure", "error_rate<30%")
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["error_rate<30%"]["value"] == pytest.approx(0.25), checks
    assert checks["error_rate<30%"]["result"] == "ok", checks
    others = [c for name, c in checks.items() if name != "error_rate<30%"]
    assert len(others) == 1, checks  # config.ensure.maxErrorRate
    max_error_rate = others[0]
    assert max_error_rate["value"] == pytest.approx(1.0), checks
    assert max_error_rate["result"] == "fail", checks
    assert result.exit_code == 1, result.stdout + result.stderr


# --------------------------------------------------------------------------- expect


def test_a_failed_expectation_is_counted_and_the_user_goes_on(
    server: ServerThread, write_plan, tmp_path
) -> None:
    plan = write_plan(
        with_target(
            users(
                3,
                "      - get: {url: /seen/expect-first, expect: [{statusCode: 201}]}\n"
                "      - get: {url: /seen/expect-next}\n",
            ),
            server.url,
        )
    )
    result, report = cli_run(plan, tmp_path, "-q")
    assert server.hits().get("GET /seen/expect-next") == 3  # the next request was sent
    counters = report["aggregate"]["counters"]
    assert counters.get("plugins.expect.failed") == 3
    assert counters.get("vusers.completed") == 3
    assert counters.get("vusers.failed", 0) == 0
    # 200 is not what `statusCode: 201` accepts: the request failed too.
    assert counters.get(f"{EP}GET /seen/expect-first.requests_failed") == 3
    assert counters.get(f"{EP}GET /seen/expect-next.requests_failed", 0) == 0
    assert result.exit_code == 1, "a failed expectation fails the run's verdict"


def test_report_failures_as_errors_stops_the_user_at_the_first_failed_expectation(
    server: ServerThread, write_plan, tmp_path
) -> None:
    plan = write_plan(
        with_target(
            users(
                3,
                "      - get: {url: /seen/expect-stop, expect: [{statusCode: 201}]}\n"
                "      - get: {url: /seen/expect-never}\n",
                config="  plugins:\n    expect: {reportFailuresAsErrors: true}\n",
            ),
            server.url,
        )
    )
    result, report = cli_run(plan, tmp_path, "-q")
    assert server.hits().get("GET /seen/expect-stop") == 3
    assert server.hits().get("GET /seen/expect-never", 0) == 0
    counters = report["aggregate"]["counters"]
    assert counters.get("plugins.expect.failed") == 3
    assert counters.get("vusers.failed") == 3
    assert counters.get("vusers.completed", 0) == 0
    assert result.exit_code == 1, result.stdout + result.stderr


def test_ensure_conditions_show_the_values_of_their_operands(
    server: ServerThread, write_plan, tmp_path
) -> None:
    plan = write_plan(
        with_target(
            users(
                7,
                "      - post: {url: /status/201}\n",
                config="  ensure:\n    conditions:\n      - expression: 'http.codes.201 == 5'\n",
            ),
            server.url,
        )
    )
    result, report = cli_run(plan, tmp_path, "-q")
    assert report["aggregate"]["counters"].get("http.codes.201") == 7
    assert result.exit_code == 1
    checks = result.stdout.split("\nThresholds\n", 1)[1]
    rows = [line for line in checks.splitlines() if "http.codes.201" in line]
    assert rows, checks
    assert any(re.search(r"(?<![\d.])7(?![\d.])", row) for row in rows), (
        "the checks table shows what http.codes.201 measured (7):\n" + checks
    )


# --------------------------------------------------------------------------- closed model


def test_closed_model_users_finish_their_iteration_at_the_phase_end(
    server: ServerThread, write_plan
) -> None:
    """The reported bug: users: 20 for 3 s against a 700 ms endpoint counted 99 requests
    and 79 responses with no error. With the default gracefulStop every request that was
    sent is answered, and every user completes."""
    plan = write_plan(
        "config:\n  phases: [{duration: 3, users: 20}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /sleep/700}\n"
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("http.requests") == c.get("http.responses"), c
    assert c.get("http.requests", 0) >= 20 * 4  # iterations start at 0, .7, 1.4, 2.1 (, 2.8)
    assert c.get("http.requests_interrupted", 0) == 0
    assert not summary.counters_with("errors.")
    assert c.get("vusers.completed") == 20
    assert c.get("vusers.interrupted", 0) == 0
    assert_accounted(summary.to_json())


def test_closed_model_cuts_what_is_in_flight_after_graceful_stop(
    server: ServerThread, write_plan
) -> None:
    """20 users for 2.5 s against a 1 s endpoint: iterations start at 0, 1 and 2 s (a
    4th would start after the end: never); the third is still in flight when the 0.2 s
    grace runs out, and is cut: counted as interrupted, request and user."""
    plan = write_plan(
        "config:\n  phases: [{duration: 2.5, users: 20, gracefulStop: 0.2s}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /sleep/1000}\n"
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("http.requests") == 60
    assert c.get("http.responses") == 40
    assert c.get("http.requests_interrupted") == 20
    assert c.get(f"{EP}GET /sleep/1000.requests_interrupted") == 20
    assert c.get("vusers.interrupted") == 20
    assert c.get("vusers.completed", 0) == 0
    assert c.get("vusers.failed", 0) == 0
    assert not summary.counters_with("errors.")
    assert_accounted(summary.to_json())


# --------------------------------------------------------------------------- redirects


def test_each_redirect_hop_is_a_request_with_its_code(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: /redirect}\n"
            "      - get: {url: /redirect, followRedirect: false, name: no follow}\n"
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("http.requests") == 3
    assert c.get("http.responses") == 3
    assert c.get("http.codes.302") == 2
    assert c.get("http.codes.200") == 1
    assert c.get(f"{EP}GET /redirect.requests") == 2
    assert c.get(f"{EP}GET /redirect.codes.302") == 1
    assert c.get(f"{EP}GET /redirect.codes.200") == 1
    assert c.get(f"{EP}no follow.requests") == 1
    assert c.get(f"{EP}no follow.codes.302") == 1
    assert c.get(f"{EP}no follow.codes.200", 0) == 0
    assert c.get("http.requests_failed", 0) == 0
    assert_accounted(summary.to_json())


# --------------------------------------------------------------------------- periods


def test_the_arrival_at_the_plans_end_belongs_to_the_last_period(
    server: ServerThread, write_plan
) -> None:
    """20 s at 2 a second: the 40th arrival is due at exactly t = 20 s. It is part of the
    second period, not a phantom third."""
    plan = write_plan(
        "config:\n  phases: [{duration: 20, arrivalRate: 2}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /ok}\n"
    )
    summary = run(plan, server.url)
    report = summary.to_json()
    assert [p["period"] for p in report["intermediate"]] == [0, 10]
    requests = [p["counters"].get("http.requests", 0) for p in report["intermediate"]]
    assert sum(requests) == 40
    assert requests[1] >= 20  # (10, 20] holds t = 20
    assert report["intermediate"][0]["rates"]["http.request_rate"] == pytest.approx(
        requests[0] / 10, abs=1e-3
    )
    assert_accounted(report)


def test_each_period_line_is_printed_once_with_the_reports_rate(
    server: ServerThread, write_plan, tmp_path
) -> None:
    """21 s at 2 a second: periods at 0, 10 and 20 s, the last one 1 s wide. Each period
    line is printed exactly once, and shows the rate the JSON report has for it: requests
    over the period's real width (1 s for the last), not over 10 s."""
    plan = write_plan(
        with_target(
            "config:\n  phases: [{duration: 21, arrivalRate: 2}]\n"
            "scenarios:\n  - flow:\n      - get: {url: /ok}\n",
            server.url,
        )
    )
    result, report = cli_run(plan, tmp_path)
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    periods = {p["period"]: p for p in report["intermediate"]}
    assert sorted(periods) == [0, 10, 20]
    assert sum(p["counters"].get("http.requests", 0) for p in periods.values()) == 42
    for start, stamp in ((0, "[00:00]"), (10, "[00:10]"), (20, "[00:20]")):
        printed = [line for line in lines if line.startswith(stamp)]
        assert len(printed) == 1, f"{stamp} printed {len(printed)} times:\n" + "\n".join(lines)
        json_rate = periods[start]["rates"]["http.request_rate"]
        shown = re.search(r"([\d.]+)\s*/s", printed[0])
        assert shown, printed[0]
        assert float(shown.group(1)) == pytest.approx(json_rate, abs=0.051), (
            f"{stamp}: the console shows {shown.group(0)}, the report {json_rate}/s"
        )
    assert not [line for line in lines if line.startswith("[00:30]")]
    for start in (0, 10):
        requests = periods[start]["counters"]["http.requests"]
        assert periods[start]["rates"]["http.request_rate"] == pytest.approx(requests / 10)
    last = periods[20]["counters"]["http.requests"]
    assert last / 1.5 <= periods[20]["rates"]["http.request_rate"] <= last / 0.99, (
        "the last period is about 1 s wide"
    )
    assert_accounted(report)


def test_period_width_rule() -> None:
    """Rates divide by a period's real width: 10 s, except where the run ended; the
    plan's last period runs on to the run's end (users finishing)."""
    from yamlload.metrics.periods import last_period_index, period_width

    assert last_period_index(20.0) == 1  # t = 20 belongs to (10, 20]
    assert last_period_index(21.0) == 2
    assert last_period_index(9.5) == 0
    assert period_width(0, 21.0, 2) == 10.0
    assert period_width(1, 21.0, 2) == 10.0
    assert period_width(2, 21.0, 2) == pytest.approx(1.0)
    assert period_width(1, 20.5, 1) == pytest.approx(10.5)  # the last period holds the drain
    assert period_width(0, 4.0, 2) == pytest.approx(4.0)  # stopped in its first period
    assert period_width(0, 0.0, 0) > 0  # never a division by zero


# --------------------------------------------------------------------------- Artillery parity


def test_loop_count_starts_at_zero(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - loop:\n          - get: {url: '/seen/loopcount-{{ $loopCount }}'}\n"
            "        count: 2\n"
            "      - loop:\n"
            "          - get: {url: '/seen/loopover-{{ $loopCount }}-{{ $loopElement }}'}\n"
            "        over: [a, b]\n"
        )
    )
    summary = run(plan, server.url)
    hits = server.hits()
    seen = {
        k: v
        for k, v in hits.items()
        if k.startswith(("GET /seen/loopcount-", "GET /seen/loopover-"))
    }
    assert seen == {
        "GET /seen/loopcount-0": 1,
        "GET /seen/loopcount-1": 1,
        "GET /seen/loopover-0-a": 1,
        "GET /seen/loopover-1-b": 1,
    }
    assert counters(summary).get("vusers.completed") == 1


def test_a_request_cookie_stays_in_the_users_jar(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: /echo, cookie: {flavour: oat}}\n"
            "      - get:\n          url: /echo\n"
            "          capture: {json: $.cookies.flavour, as: kept, strict: false}\n"
            "      - get: {url: '/seen/cookie-kept-{{ kept }}'}\n"
        )
    )
    summary = run(plan, server.url)
    assert server.hits().get("GET /seen/cookie-kept-oat") == 1, server.hits()
    assert counters(summary).get("vusers.completed") == 1


def test_a_capture_of_an_empty_string_fails_the_user(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: '/echo?token=', capture: {json: $.query.token, as: token}}\n"
            "      - get: {url: /seen/after-empty-capture}\n"
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("errors.Failed capture or match") == 1
    assert c.get("vusers.failed") == 1
    assert server.hits().get("GET /seen/after-empty-capture", 0) == 0
    assert_accounted(summary.to_json())


def test_csv_true_and_false_stay_strings_numbers_are_cast(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - post:\n          url: /types\n"
            "          json: {flag: '{{ flag }}', off: '{{ off }}', n: '{{ n }}'}\n"
            "          capture:\n"
            "            - {json: $.flag, as: flag_type}\n"
            "            - {json: $.off, as: off_type}\n"
            "            - {json: $.n, as: n_type}\n"
            "      - get: {url: '/seen/csv-{{ flag_type }}-{{ off_type }}-{{ n_type }}'}\n",
            config="  payload:\n    path: row.csv\n    fields: [flag, off, n]\n",
        ),
        **{"row.csv": "true,false,5\n"},
    )
    summary = run(plan, server.url)
    csv_hits = {k: v for k, v in server.hits().items() if k.startswith("GET /seen/csv-")}
    assert csv_hits == {"GET /seen/csv-str-str-int": 1}
    assert counters(summary).get("vusers.completed") == 1


def test_an_undefined_variable_renders_as_undefined(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - get:\n          url: '/echo?x={{ nope }}'\n"
            "          capture: {json: $.query.x, as: got, strict: false}\n"
            "      - get: {url: '/seen/undef-{{ got }}'}\n"
        )
    )
    run(plan, server.url)
    undef_hits = {k: v for k, v in server.hits().items() if k.startswith("GET /seen/undef-")}
    assert undef_hits == {"GET /seen/undef-undefined": 1}


# --------------------------------------------------------------------------- narrow errors


@pytest.fixture
def no_stray_tasks(caplog: pytest.LogCaptureFixture) -> Any:
    """Fails the test if asyncio logged a task whose exception nobody retrieved (a user
    task that died of an exception instead of ending as counted)."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    yield
    gc.collect()
    stray = [
        r.getMessage()
        for phase in ("call", "teardown")
        for r in caplog.get_records(phase)
        if "never retrieved" in r.getMessage()
    ]
    assert not stray, stray


def assert_users_accounted(summary: Summary, created: int) -> None:
    c = counters(summary)
    assert c.get("vusers.created") == created
    assert (
        c.get("vusers.completed", 0) + c.get("vusers.failed", 0) + c.get("vusers.interrupted", 0)
        == created
    ), {k: v for k, v in c.items() if k.startswith("vusers.")}


def test_a_header_with_a_line_break_is_einvalidheader_and_never_sent(
    server: ServerThread, write_plan, no_stray_tasks: None
) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: '/echo?v=a%0D%0Ab', capture: {json: $.query.v, as: v}}\n"
            "      - get: {url: /seen/header-split, headers: {x-v: '{{ v }}'}}\n"
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert summary.counters_with("errors.") == {"EINVALIDHEADER": 1}
    assert c.get(f"{EP}GET /seen/header-split.errors.EINVALIDHEADER") == 1
    assert server.hits().get("GET /seen/header-split", 0) == 0
    assert c.get("vusers.failed") == 1
    assert_users_accounted(summary, 1)
    assert_accounted(summary.to_json())


def test_a_capture_that_raises_on_the_servers_data_fails_that_user(
    server: ServerThread, write_plan, no_stray_tasks: None
) -> None:
    """`length()` of a number raises in JMESPath: that user fails, named; the other
    users and the run go on."""
    plan = write_plan(
        users(
            2,
            "      - get:\n          url: /status/200\n"
            "          capture: {jmespath: 'length(code)', as: n}\n"
            "      - get: {url: /seen/after-raising-capture}\n",
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("vusers.failed") == 2
    errors = summary.counters_with("errors.")
    assert sum(errors.values()) == 2 and len(errors) == 1, errors
    assert server.hits().get("GET /seen/after-raising-capture", 0) == 0
    assert_users_accounted(summary, 2)
    assert_accounted(summary.to_json(), flow_errors=errors)


def test_a_templated_regexp_that_does_not_compile_fails_that_user(
    server: ServerThread, write_plan, no_stray_tasks: None
) -> None:
    plan = write_plan(
        one_user(
            "      - get:\n          url: /ok\n"
            "          expect: [{matchesRegexp: '{{ pattern }}'}]\n",
            config="  variables:\n    pattern: '(unclosed'\n",
        )
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("vusers.failed") == 1
    errors = summary.counters_with("errors.")
    assert sum(errors.values()) == 1, errors
    assert_users_accounted(summary, 1)
    assert_accounted(summary.to_json(), flow_errors=errors)


def test_a_hook_raising_cancelled_error_is_eprocessor(
    server: ServerThread, write_plan, no_stray_tasks: None
) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: /seen/before-cancelling-hook}\n"
            "      - function: cancel\n"
            "      - get: {url: /seen/after-cancelling-hook}\n",
            config="  processor: hooks.py\n",
        ),
        **{
            "hooks.py": "import asyncio\n\n\ndef cancel(context):\n    raise asyncio.CancelledError()\n"
        },
    )
    summary = run(plan, server.url)
    c = counters(summary)
    assert c.get("errors.EPROCESSOR") == 1
    assert c.get("vusers.failed") == 1
    assert c.get("vusers.interrupted", 0) == 0
    assert server.hits().get("GET /seen/after-cancelling-hook", 0) == 0
    assert_users_accounted(summary, 1)
    assert_accounted(summary.to_json())


# --------------------------------------------------------------------------- debugging


def test_the_first_three_failures_of_each_kind_are_printed(
    server: ServerThread, write_plan, tmp_path
) -> None:
    """Five users each fail an expectation and then a capture: each kind is shown for
    the first three (endpoint, expression, body), then only counted."""
    plan = write_plan(
        with_target(
            "config:\n  phases: [{duration: 0.2, arrivalCount: 5}]\n"
            "scenarios:\n  - name: debug me\n    flow:\n"
            "      - get: {url: /seen/dbg-expect, expect: [{statusCode: 201}]}\n"
            "      - get:\n          url: /seen/dbg-capture\n"
            "          capture: {json: $.nothing_here_xyz, as: x}\n",
            server.url,
        )
    )
    result, report = cli_run(plan, tmp_path)
    counters = report["aggregate"]["counters"]
    assert counters.get("errors.Failed capture or match") == 5
    assert counters.get("plugins.expect.failed") == 5
    output = result.stdout + "\n" + result.stderr
    lines = output.splitlines()
    captures = [line for line in lines if "nothing_here_xyz" in line]
    assert len(captures) == 3, output
    assert all("GET /seen/dbg-capture" in line for line in captures), captures
    expects = [line for line in lines if "GET /seen/dbg-expect" in line and "statusCode" in line]
    assert len(expects) == 3, output
    assert "debug me" in output  # the scenario
    assert '"path": "/seen/dbg-capture"' in output  # a snippet of the body


# --------------------------------------------------------------------------- said, and done


def test_gzip_asks_for_compression_and_no_request_asks_without_it(
    server: ServerThread, write_plan
) -> None:
    flow = (
        "      - get:\n          url: /echo\n          gzip: true\n"
        "          capture: {json: '$.headers', as: zipped}\n"
        "      - get:\n          url: /echo\n"
        "          capture: {json: '$.headers', as: plain}\n"
        "      - get: {url: '/seen/gzip-{{ zipped[\"Accept-Encoding\"] }}'}\n"
        "      - get: {url: '/seen/plain-{{ plain[\"Accept-Encoding\"] }}'}\n"
    )
    summary = run(write_plan(one_user(flow)), server.url)
    assert counters(summary)["vusers.completed"] == 1
    hits = server.hits()
    assert hits.get("GET /seen/gzip-gzip, deflate") == 1
    assert hits.get("GET /seen/plain-undefined") == 1  # no Accept-Encoding was sent


def test_apdex_counts_each_response_against_its_threshold(server: ServerThread, write_plan) -> None:
    flow = (
        "      - get: {url: /ok}\n      - get: {url: /sleep/60}\n      - get: {url: /sleep/250}\n"
    )
    config = "  plugins:\n    apdex: {threshold: 40}\n"
    summary = run(write_plan(one_user(flow, config=config)), server.url)
    c = counters(summary)
    # /ok is well under 40 ms; 60 ms is under 4T = 160 ms; 250 ms is over it
    assert (c["apdex.satisfied"], c["apdex.tolerated"], c["apdex.frustrated"]) == (1, 1, 1)
    assert summary.apdex_score == pytest.approx((1 + 0.5) / 3)


def test_debug_prints_every_request_with_its_status(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    plan = write_plan(with_target(one_user("      - get: {url: /redirect}\n"), server.url))
    result, _ = cli_run(plan, tmp_path, "--debug")
    lines = [line for line in result.stdout.splitlines() if line.startswith("debug: GET")]
    assert len(lines) == 2, result.stdout
    assert lines[0].endswith(("bytes)",)) and "/redirect → 302" in lines[0]
    assert "/ok → 200" in lines[1]


def test_a_bug_in_yamlload_ends_the_run_with_exit_70_and_keeps_the_report(
    server: ServerThread, write_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.runtime import engine as _engine

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug planted by the test")

    monkeypatch.setattr(_engine._Http, "record_response", broken)
    plan = write_plan(with_target(users(3, "      - get: {url: /ok}\n"), server.url))
    report = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-o", str(report))
    assert result.exit_code == 70, result.stdout + result.stderr
    assert "a bug planted by the test" in result.stderr
    assert "Traceback" not in result.stderr  # only with --debug
    assert json.loads(report.read_text())["run"]["stoppedBy"] == "internal error"
    debug = run_cli("run", str(plan), "-o", str(report), "--debug")
    assert debug.exit_code == 70 and "Traceback" in debug.stderr


def test_expect_default_200_counts_an_expectation_for_each_bare_request(
    server: ServerThread, write_plan
) -> None:
    flow = "      - get: {url: /ok}\n      - get: {url: /status/201}\n      - get: {url: /ok}\n"
    config = "  plugins:\n    expect: {expectDefault200: true}\n"
    summary = run(write_plan(one_user(flow, config=config)), server.url)
    c = counters(summary)
    assert (c["plugins.expect.ok"], c["plugins.expect.failed.statusCode"]) == (2, 1)
    assert c["http.requests_failed"] == 1  # a 201 is not the 200 it expected
    assert c["vusers.completed"] == 1 and c["http.requests"] == 3


def test_a_fractional_ramp_sends_artillerys_four_users(server: ServerThread, write_plan) -> None:
    plan = (
        "config:\n  phases: [{duration: 3, arrivalRate: 0.2, rampTo: 2.8}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /seen/fractional-ramp}\n"
    )
    summary = run(write_plan(plan), server.url)
    assert server.hits().get("GET /seen/fractional-ramp") == 4
    # an unnamed scenario counts under its index, as in Artillery
    assert counters(summary)["vusers.created_by_name.0"] == 4


def test_endpoints_leave_out_the_query_string_as_artillery_does(
    server: ServerThread, write_plan
) -> None:
    flow = "      - get: {url: '/echo?page=1'}\n      - get: {url: '/echo?page=2'}\n"
    summary = run(write_plan(one_user(flow)), server.url)
    assert [(e.name, e.requests) for e in summary.endpoints()] == [("GET /echo", 2)]
    kept = one_user(flow, config="  plugins:\n    metrics-by-endpoint: {stripQueryString: false}\n")
    names = [e.name for e in run(write_plan(kept), server.url).endpoints()]
    assert names == ["GET /echo?page=1", "GET /echo?page=2"]


def test_a_failed_status_shows_its_body_as_one_printable_line(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    plan = write_plan(with_target(one_user("      - get: {url: /hostile-text}\n"), server.url))
    result, report = cli_run(plan, tmp_path)
    assert report["aggregate"]["counters"]["http.requests_failed"] == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("status 500")]
    assert "GET /hostile-text" in line and "boom" in line and "fake: line" in line
    assert not any(ch in result.stdout for ch in "\x1b\x07\r")


def test_hook_failures_are_printed_like_any_failure(write_plan, server: ServerThread) -> None:
    hooks = "def boom(context):\n    raise ValueError('no luck')\n"
    plan = write_plan(
        users(5, "      - function: boom\n", config="  processor: hooks.py\n"),
        **{"hooks.py": hooks},
    )
    logs: list[str] = []

    class Collect:
        def tick(self, progress: Any) -> None: ...

        def period_done(self, period: Any, width: float) -> None: ...

        def log(self, message: str) -> None:
            logs.append(message)

    loaded = load_plan(str(plan), PlanOptions(target=server.url))
    summary = summarize(loaded, run_plan(loaded, RunOptions(seed=1), Collect()), "test")
    assert counters(summary)["errors.EPROCESSOR"] == 5
    shown = [m for m in logs if m.startswith("EPROCESSOR")]
    assert len(shown) == 3, logs
    assert "processor function 'boom'" in shown[0] and "ValueError: no luck" in shown[0]


def test_an_os_error_keeps_its_own_name() -> None:
    import errno

    import aiohttp

    from yamlload.runtime.http.aiohttp_transport import error_code

    too_many = aiohttp.ClientOSError(errno.EMFILE, "Too many open files")
    assert error_code(too_many) == "EMFILE"
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    assert error_code(refused) == "ECONNREFUSED"


def test_conditions_may_use_the_shorthands(write_plan) -> None:
    plan = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "  ensure:\n    conditions:\n      - expression: p95 < 100 and error_rate < 0.01\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("validate", str(plan))
    assert result.exit_code == 0, result.stderr


def test_validate_checks_the_plans_ensure_names_as_run_does(write_plan) -> None:
    bad = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "  ensure:\n    conditions:\n      - expression: p59 < 100\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n",
        name="bad.yml",
    )
    result = run_cli("validate", str(bad))
    assert result.exit_code == 2 and "unknown metric 'p59'" in result.stderr


def test_a_redirect_loop_is_an_error_after_ten_redirects(server: ServerThread, write_plan) -> None:
    summary = run(write_plan(one_user("      - get: {url: /redirect-loop}\n")), server.url)
    c = counters(summary)
    assert server.hits().get("GET /redirect-loop") == 11  # the first request and 10 hops
    assert (c["http.requests"], c["http.codes.302"], c["http.requests_failed"]) == (11, 11, 1)
    assert c["errors.ERR_TOO_MANY_REDIRECTS"] == 1 and c["vusers.failed"] == 1
    assert_accounted(summary.to_json(), flow_errors={"ERR_TOO_MANY_REDIRECTS": 1})


def test_a_templated_status_expectation_decides_what_is_accepted(
    server: ServerThread, write_plan
) -> None:
    flow = (
        "      - get:\n          url: /status/404\n          expect: [{statusCode: '{{ gone }}'}]\n"
    )
    plan = one_user(flow, config="  variables:\n    gone: 404\n")
    c = counters(run(write_plan(plan), server.url))
    assert c["plugins.expect.ok.statusCode"] == 1
    assert c.get("http.requests_failed", 0) == 0


def test_a_failed_expectation_says_what_it_expected(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    flow = (
        "      - get:\n          url: /ok\n"
        "          expect:\n            - hasProperty: missing.prop\n            - statusCode: 201\n"
    )
    result, _ = cli_run(write_plan(with_target(one_user(flow), server.url)), tmp_path)
    lines = [line for line in result.stdout.splitlines() if line.startswith("expect ")]
    assert any("hasProperty 'missing.prop'" in line and "plan.yml:10:28" in line for line in lines)
    assert any("statusCode '201'" in line for line in lines), lines


def test_a_run_that_sent_nothing_passes_no_rate_check(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    plan = write_plan(
        with_target(
            "config:\n  phases: [{duration: 0.1, arrivalCount: 2}]\n  processor: hooks.py\n"
            "scenarios:\n  - beforeScenario: boom\n    flow:\n      - get: {url: /ok}\n",
            server.url,
        ),
        **{"hooks.py": "def boom(context):\n    raise ValueError('before anything')\n"},
    )
    result, report = cli_run(plan, tmp_path, "--ensure", "error_rate<1%")
    assert report["aggregate"]["counters"].get("http.requests", 0) == 0
    assert result.exit_code == 1
    assert [c["measured"] for c in report["checks"]] == ["no data"]


def test_apdex_checks_need_the_apdex_plugin(write_plan) -> None:
    plan = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("run", str(plan), "--ensure", "apdex.score>0.5")
    assert result.exit_code == 2 and "needs the apdex plugin" in result.stderr


def test_a_stop_during_before_cuts_it_and_starts_no_load(server: ServerThread, write_plan) -> None:
    import asyncio

    from yamlload.runtime.engine import Engine, run_on_uvloop

    text = (
        "config:\n  phases: [{duration: 30, arrivalRate: 5}]\n"
        "before:\n  flow:\n    - get: {url: /sleep/5000}\n"
        "scenarios:\n  - flow:\n      - get: {url: /ok}\n"
    )
    plan = load_plan(str(write_plan(text)), PlanOptions(target=server.url))
    engine = Engine(plan, RunOptions(seed=1, grace_seconds=0.2))

    async def stopped_soon() -> Any:
        asyncio.get_running_loop().call_later(0.3, engine.stop, "SIGINT")
        return await engine.run()

    summary = summarize(plan, run_on_uvloop(stopped_soon()), "test")
    c = counters(summary)
    assert c.get("vusers.created", 0) == 0  # the 30 s phase never began
    assert (c["http.requests"], c["http.requests_interrupted"]) == (1, 1)
    assert summary.stopped_by == "SIGINT"


def test_a_redirect_to_no_url_is_a_request_error(server: ServerThread, write_plan) -> None:
    summary = run(write_plan(one_user("      - get: {url: /bad-location}\n")), server.url)
    c = counters(summary)
    assert (c["http.requests"], c["http.codes.302"], c["errors.EINVALIDURL"]) == (2, 1, 1)
    assert c["vusers.failed"] == 1
    assert_accounted(summary.to_json())


# --------------------------------------------------------------------------- hostile values


def test_a_stop_while_users_finish_still_cuts_them_after_the_grace(
    server: ServerThread, write_plan
) -> None:
    import asyncio

    from yamlload.runtime.engine import Engine, run_on_uvloop

    text = one_user("      - get: {url: /ok}\n      - think: 30\n      - get: {url: /ok}\n")
    plan = load_plan(str(write_plan(text)), PlanOptions(target=server.url))
    engine = Engine(plan, RunOptions(seed=1, grace_seconds=0.2))

    async def stopped_soon() -> Any:
        asyncio.get_running_loop().call_later(0.5, engine.stop, "SIGTERM")
        return await engine.run()

    c = counters(summarize(plan, run_on_uvloop(stopped_soon()), "test"))
    # the arrivals were over when the stop came: the thinking user is cut, not waited for
    assert c["vusers.interrupted"] == 1 and c.get("vusers.completed", 0) == 0
    assert c["http.requests"] == 1


@pytest.mark.parametrize(
    ("step", "value", "error"),
    [
        ("      - get: {url: /ok, headers: {x-v: '{{ v }}'}}\n", "a\\u0000b", "EINVALIDHEADER"),
        ("      - get: {url: /ok, ifTrue: 'v > 1'}\n", "1" + "0" * 400, "Step error"),
        # a loop count a server chose: -1 or 1e308 must not loop for ever
        ("      - loop: [{get: {url: /ok}}]\n        count: '{{ v }}'\n", "-1", "Step error"),
        ("      - loop: [{get: {url: /ok}}]\n        count: '{{ v }}'\n", "1e308", "Step error"),
        ("      - loop: [{get: {url: /ok}}]\n        count: '{{ v }}'\n", "abc", "Step error"),
    ],
)
def test_a_hostile_value_fails_its_user_and_the_run_goes_on(
    server: ServerThread, write_plan, no_stray_tasks: None, step: str, value: str, error: str
) -> None:
    literal = value if value.isdigit() or value in ("-1", "1e308") else f'"{value}"'
    config = f"  variables:\n    v: {literal}\n"
    summary = run(
        write_plan(users(2, step + "      - get: {url: /ok}\n", config=config)), server.url
    )
    c = counters(summary)
    assert c[f"errors.{error}"] == 2 and c["vusers.failed"] == 2
    assert_users_accounted(summary, 2)


def test_a_lone_surrogate_from_a_capture_fails_its_user(
    server: ServerThread, write_plan, no_stray_tasks: None
) -> None:
    """A plan holding a lone surrogate is refused when it is read (exit 2); one that a
    capture brings at run time (a server's JSON "\\ud800") fails its user, once."""
    flow = (
        "      - get:\n          url: /ok\n"
        "          capture: {jmespath: '`\"a\\ud800b\"`', as: v}\n"
        "      - post: {url: /echo, form: {f: '{{ v }}'}}\n"
    )
    summary = run(write_plan(users(2, flow)), server.url)
    c = counters(summary)
    assert c["errors.EINVALIDREQUEST"] == 2 and c["vusers.failed"] == 2
    assert_users_accounted(summary, 2)


def test_a_capture_that_overflows_fails_that_user(server: ServerThread, write_plan) -> None:
    flow = (
        "      - get:\n          url: /ok\n          capture: {jmespath: 'ceil(`1e400`)', as: x}\n"
    )
    c = counters(run(write_plan(one_user(flow)), server.url))
    assert c["errors.Failed capture or match"] == 1 and c["vusers.failed"] == 1


@pytest.mark.parametrize("raised", ["SystemExit(0)", "KeyboardInterrupt()", "GeneratorExit()"])
def test_a_hook_raising_any_base_exception_is_eprocessor(
    server: ServerThread, write_plan, tmp_path: Path, raised: str
) -> None:
    hooks = f"def boom(context):\n    raise {raised}\n"
    plan = write_plan(
        with_target(
            users(2, "      - function: boom\n", config="  processor: hooks.py\n"), server.url
        ),
        **{"hooks.py": hooks},
    )
    result, report = cli_run(plan, tmp_path)
    c = report["aggregate"]["counters"]
    assert c["errors.EPROCESSOR"] == 2 and c["vusers.failed"] == 2
    assert result.exit_code == 0  # no check failed; the users' failures are in the report


def test_a_bug_during_before_still_writes_the_report(
    server: ServerThread, write_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.runtime import engine as _engine

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("planted in before")

    monkeypatch.setattr(_engine._Http, "record_response", broken)
    text = with_target(
        "config:\n  phases: [{duration: 5, arrivalRate: 2}]\n"
        "before:\n  flow:\n    - get: {url: /ok}\n"
        "scenarios:\n  - flow:\n      - get: {url: /ok}\n",
        server.url,
    )
    report = tmp_path / "report.json"
    result = run_cli("run", str(write_plan(text)), "-o", str(report))
    assert result.exit_code == 70 and "planted in before" in result.stderr
    written = json.loads(report.read_text())
    assert written["run"]["stoppedBy"] == "internal error"
    assert written["aggregate"]["counters"].get("vusers.created", 0) == 0


def test_a_redirect_to_another_origin_carries_no_credentials(write_plan) -> None:
    with ServerThread(make_test_app()) as first, ServerThread(make_test_app()) as other:
        flow = (
            "      - get:\n"
            f"          url: '/redirect-to?url={other.url}/echo'\n"
            "          headers: {authorization: 'Bearer t0ken-xyz', cookie: 'sid=c00kie', x-kept: 'yes',"
            " x-api-key: 'k3y-xyz', x-session-id: 's3ss'}\n"
            "          capture: {json: '$.headers', as: seen}\n"
            "      - get: {url: '/seen/auth-{{ seen.authorization }}-cookie-{{ seen.cookie }}-kept-{{ seen[\"x-kept\"] }}'}\n"
            '      - get: {url: \'/seen/key-{{ seen["x-api-key"] }}-session-{{ seen["x-session-id"] }}\'}\n'
        )
        summary = run(write_plan(one_user(flow)), first.url)
        assert counters(summary)["vusers.completed"] == 1
        assert first.hits().get("GET /seen/auth-undefined-cookie-undefined-kept-yes") == 1
        assert first.hits().get("GET /seen/key-undefined-session-undefined") == 1


def test_secrets_are_masked_in_their_encoded_forms() -> None:
    import base64
    from urllib.parse import quote, quote_plus

    from yamlload.plan.secrets import Redactor

    secret = 's3cr3t key+/=="x"'
    redactor = Redactor([secret])
    for form in (secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]):
        assert redactor.text(f"before {form} after") == "before *** after"
    assert redactor.is_secret(secret) and not redactor.is_secret(quote_plus(secret))
    assert base64.b64encode(b"x").decode() == "eA=="  # the Basic token is added at run time


def test_a_basic_token_made_from_a_secret_is_masked_when_a_server_echoes_it(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    flow = (
        "      - get:\n          url: /echo\n"
        "          auth: {user: admin, pass: '{{ $env.PW }}'}\n"
        "          expect: [{statusCode: 201}]\n"
    )
    plan = write_plan(with_target(one_user(flow), server.url))
    report = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-o", str(report), env={"PW": "hunter2-secret-pw"})
    token = base64.b64encode(b"admin:hunter2-secret-pw").decode()
    assert "Basic ***" in result.stdout
    assert token not in result.stdout + result.stderr


def test_log_lines_carry_no_terminal_escapes(server: ServerThread, write_plan) -> None:
    logs: list[str] = []

    class Collect:
        def tick(self, progress: Any) -> None: ...

        def period_done(self, period: Any, width: float) -> None: ...

        def log(self, message: str) -> None:
            logs.append(message)

    text = one_user(
        '      - log: "{{ v }}"\n', config='  variables:\n    v: "\\e[2Jtitle\\rfake"\n'
    )
    plan = load_plan(str(write_plan(text)), PlanOptions(target=server.url))
    run_plan(plan, RunOptions(seed=1), Collect())
    assert logs == [" [2Jtitle fake"]


def test_what_before_measures_is_in_the_first_period(server: ServerThread, write_plan) -> None:
    text = (
        "config:\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "before:\n  flow:\n    - get: {url: /sleep/200}\n"
        "scenarios:\n  - flow:\n      - get: {url: /ok}\n"
    )
    summary = run(write_plan(text), server.url)
    [period] = summary.periods
    assert period.metrics.counters["http.requests"] == 2


def test_a_body_is_masked_before_it_is_cut(server: ServerThread, write_plan) -> None:
    from yamlload.plan.secrets import Redactor
    from yamlload.runtime.engine import Engine

    plan = load_plan(
        str(write_plan(one_user("      - get: {url: /ok}\n"))), PlanOptions(target=server.url)
    )
    engine = Engine(plan)
    secret = "pw-across-the-cut-0123456789"
    engine.redactor = Redactor([secret])
    shown = engine.snippet(b"x" * 190 + secret.encode() + b" and more", [])
    assert shown == "x" * 190 + "*** and mo…"  # masked whole, then cut at 200 characters


@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGHUP", 129)])
def test_a_loop_that_never_waits_still_hears_a_stop(
    server: ServerThread, write_plan, tmp_path: Path, signame: str, code: int
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    text = with_target(
        one_user("      - loop:\n          - get: {url: /ok, ifTrue: 'never'}\n"),
        server.url,
    )
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "yamlload", "run", "-q", str(write_plan(text)), "-o", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.0)  # the user is spinning in its loop by now
        os.kill(process.pid, getattr(signal, signame))
        _, stderr = process.communicate(timeout=60)  # bounded: a spin would never end
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert json.loads(report.read_text())["run"]["stoppedBy"] == signame


def test_a_processor_that_exits_at_import_is_a_usage_error(write_plan) -> None:
    plan = write_plan(
        one_user(
            "      - function: f\n", config="  target: http://127.0.0.1:9\n  processor: p.py\n"
        ),
        **{"p.py": "import sys\nsys.exit(0)\n\n\ndef f(context):\n    pass\n"},
    )
    result = run_cli("run", str(plan))
    assert result.exit_code == 2 and "SystemExit" in result.stderr


def test_a_short_or_malformed_target_password_is_never_shown(write_plan, tmp_path: Path) -> None:
    plan = write_plan(
        "config:\n  target: 'http://admin:pw1@127.0.0.1:99999x/'\n"
        "  phases: [{duration: 0.1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    report = tmp_path / "r.json"
    result = run_cli("run", str(plan), "-o", str(report))
    shown = result.stdout + result.stderr + report.read_text()
    assert "pw1" not in shown and "admin:***@" in shown
    assert "pw1" not in run_cli("validate", str(plan)).stdout


@pytest.mark.parametrize(
    ("flag", "value"), [("--checkpoint", "nan"), ("--max-lag", "nan"), ("--max-lag", "inf")]
)
def test_a_number_that_is_not_finite_is_refused(write_plan, flag: str, value: str) -> None:
    plan = write_plan(one_user("      - get: {url: /}\n", config="  target: http://127.0.0.1:9\n"))
    result = run_cli("run", str(plan), flag, value)
    assert result.exit_code == 2 and "must be between" in result.stderr


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ("  http: {timeout: 1e308}\n", "config.http.timeout"),
        ("  http: {pool: 1e300}\n", "config.http.pool"),
        ("  http: {maxSockets: 1e300}\n", "config.http.maxSockets"),
        ("  http: {maxBodyBytes: 1e300}\n", "config.http.maxBodyBytes"),
    ],
)
def test_a_plan_number_out_of_range_is_refused_with_its_bound(
    server: ServerThread, write_plan, config: str, where: str
) -> None:
    plan = write_plan(
        one_user(
            "      - get: {url: /seen/out-of-range}\n", config=f"  target: {server.url}\n{config}"
        )
    )
    for command in ("validate", "run"):
        result = run_cli(command, str(plan))
        shown = result.stdout + result.stderr
        assert result.exit_code == 2, shown
        assert f"{where}: must be at most" in shown
    assert server.hits().get("GET /seen/out-of-range", 0) == 0


@pytest.mark.parametrize(
    ("phase", "where"),
    [
        ("{duration: 1, arrivalRate: 1, maxVusers: 1e300}", "maxVusers"),
        ("{duration: 1, users: 1, spawnRate: 1e308}", "spawnRate"),
        ("{duration: 1, arrivalRate: 1, rampTo: 1e300}", "rampTo"),
    ],
)
def test_a_phase_number_out_of_range_is_refused(write_plan, phase: str, where: str) -> None:
    plan = write_plan(
        "config:\n  target: http://127.0.0.1:9\n"
        f"  phases:\n    - {phase}\n"
        "scenarios:\n  - flow:\n      - get: {url: /}\n"
    )
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert f"config.phases[0].{where}: " in result.stdout + result.stderr
    assert "at most" in result.stdout + result.stderr or "limit" in result.stdout + result.stderr


def test_a_start_long_past_is_refused_before_any_traffic(server: ServerThread, write_plan) -> None:
    plan = write_plan(with_target(one_user("      - get: {url: /seen/start-past}\n"), server.url))
    result = run_cli("run", str(plan), "--segment", "1/2", "--start-at", "2001-01-01T00:00:00Z")
    assert result.exit_code == 2 and "in the past" in result.stderr
    assert server.hits().get("GET /seen/start-past", 0) == 0


def test_a_shard_stopped_before_its_start_reports_no_negative_duration(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    import asyncio
    import time

    from yamlload.report.json import read_json, write_json
    from yamlload.runtime.engine import Engine, run_on_uvloop

    text = one_user("      - get: {url: /seen/never-started}\n")
    plan = load_plan(str(write_plan(text)), PlanOptions(target=server.url))
    engine = Engine(plan, RunOptions(seed=1, start_at=time.time() + 30))

    async def stopped_while_waiting() -> Any:
        asyncio.get_running_loop().call_later(0.3, engine.stop, "SIGTERM")
        return await engine.run()

    result = run_on_uvloop(stopped_while_waiting())
    assert result.duration == 0.0
    report = tmp_path / "r.json"
    write_json(summarize(plan, result, "test"), report)
    assert read_json(report).duration == 0.0  # report, compare and merge can read it
    assert server.hits().get("GET /seen/never-started", 0) == 0


def test_a_stop_signal_before_the_load_ends_the_command_and_after_it_is_held() -> None:
    import os
    import signal

    from yamlload.cli.run import StopSignals as _StopSignals
    from yamlload.errors import StoppedEarly

    before = signal.getsignal(signal.SIGTERM)
    with _StopSignals() as stops:
        with pytest.raises(StoppedEarly) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stopped.value.exit_code == 143
        assert "before any request was sent" in stopped.value.show()
        stops.hold()
        os.kill(os.getpid(), signal.SIGHUP)  # while the report is written: remembered
        assert stops.signal == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_engine_hands_the_stop_signals_back(server: ServerThread, write_plan) -> None:
    """Removing a loop's handler leaves the default action, which would kill the process
    between the end of the load and its report (seen with --checkpoint under `timeout`)."""
    import signal

    from yamlload.runtime.engine import Engine, run_on_uvloop

    def held(signum: int, frame: object) -> None:
        raise AssertionError("not expected")

    plan = load_plan(
        str(write_plan(one_user("      - get: {url: /ok}\n"))), PlanOptions(target=server.url)
    )
    previous = signal.signal(signal.SIGTERM, held)
    try:
        engine = Engine(plan, RunOptions(seed=1))
        result = run_on_uvloop(engine.run_until_signalled(lambda: None))
        assert signal.getsignal(signal.SIGTERM) is held
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.stopped_by is None


def test_a_signal_that_came_while_the_loop_started_stops_the_load(
    server: ServerThread, write_plan
) -> None:
    from yamlload.runtime.engine import Engine, run_on_uvloop

    text = users(5, "      - get: {url: /seen/early}\n      - think: 5\n")
    plan = load_plan(str(write_plan(text)), PlanOptions(target=server.url))
    engine = Engine(plan, RunOptions(seed=1, grace_seconds=0.1))
    result = run_on_uvloop(engine.run_until_signalled(lambda: "SIGTERM"))
    assert result.stopped_by == "SIGTERM"


def test_a_loop_count_written_as_a_float_is_that_count(server: ServerThread, write_plan) -> None:
    flow = "      - loop:\n          - get: {url: /seen/loop-float}\n        count: 3.0e0\n"
    path = write_plan(one_user(flow, config=f"  target: {server.url}\n"))
    shown = run_cli("validate", str(path))
    assert shown.exit_code == 0 and "repeats until the run ends" not in shown.stdout + shown.stderr
    summary = run(path, server.url)
    assert counters(summary)["vusers.completed"] == 1
    assert server.hits().get("GET /seen/loop-float") == 3


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("2.5", "expected a whole number"),
        ("1e20", "must be at most 1,000,000,000"),
        ("'1-2000000000'", "must be at most 1,000,000,000"),
    ],
)
def test_a_loop_count_out_of_range_is_refused(write_plan, count: str, message: str) -> None:
    flow = f"      - loop:\n          - get: {{url: /}}\n        count: {count}\n"
    shown = run_cli(
        "validate", str(write_plan(one_user(flow, config="  target: http://127.0.0.1:9\n")))
    )
    assert shown.exit_code == 2 and message in shown.stdout + shown.stderr


@pytest.mark.parametrize("value", [".inf", "1e400", "-.inf", ".nan"])
def test_a_number_yaml_cannot_hold_is_named_with_its_key(write_plan, value: str) -> None:
    text = one_user(
        "      - get: {url: /}\n",
        config=f"  target: http://127.0.0.1:9\n  http: {{timeout: {value}}}\n",
    )
    shown = run_cli("validate", str(write_plan(text)))
    assert shown.exit_code == 2
    assert "config.http.timeout: " in shown.stderr and "is not a finite number" in shown.stderr


@pytest.mark.parametrize(
    ("jitter", "message"),
    [
        ("1e308", "longer than the limit"),
        ("-1", "cannot be negative"),
        ("'150%'", "more than 100%"),
    ],
)
def test_a_think_jitter_out_of_range_is_refused(write_plan, jitter: str, message: str) -> None:
    text = one_user(
        "      - think: 1\n",
        config=f"  target: http://127.0.0.1:9\n  defaults: {{think: {{jitter: {jitter}}}}}\n",
    )
    shown = run_cli("validate", str(write_plan(text)))
    assert shown.exit_code == 2
    assert "config.defaults.think.jitter: " in shown.stderr and message in shown.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--workers", "99999999999999999999"), "at most 1,024"),
        (("--segment", "1/99999999999999"), "N must be at most 100,000"),
        (("--segment", "1/2", "--start-at", "9999-12-31T23:59:59Z"), "more than a week"),
    ],
)
def test_a_split_out_of_range_is_refused(
    server: ServerThread, write_plan, flags: tuple[str, ...], message: str
) -> None:
    plan = write_plan(with_target(one_user("      - get: {url: /seen/split-range}\n"), server.url))
    result = run_cli("run", str(plan), *flags)
    assert result.exit_code == 2 and message in result.stderr
    assert server.hits().get("GET /seen/split-range", 0) == 0


def test_a_captured_secret_is_masked_in_a_hooks_failure(
    server: ServerThread, write_plan, tmp_path: Path
) -> None:
    hooks = "def leak(context):\n    raise ValueError('token=' + context.vars['token'])\n"
    flow = (
        "      - post:\n          url: /login\n          json: {username: 'capt41n-secret'}\n"
        "          capture: {json: $.token, as: token}\n"
        "      - function: leak\n"
    )
    config = "  processor: hooks.py\n  secrets: [token]\n"
    plan = write_plan(with_target(one_user(flow, config=config), server.url), **{"hooks.py": hooks})
    result, report = cli_run(plan, tmp_path)
    assert report["aggregate"]["counters"]["errors.EPROCESSOR"] == 1
    assert "token=***" in result.stdout
    assert "tok-capt41n-secret" not in result.stdout + result.stderr


def test_a_short_target_password_is_masked_in_the_plan_document() -> None:
    from yamlload.plan.secrets import Redactor

    shown = Redactor([]).document({"config": {"target": "http://u:pw@127.0.0.1:9"}})
    assert shown == {"config": {"target": "http://u:***@127.0.0.1:9"}}
