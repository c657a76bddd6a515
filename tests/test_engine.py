"""The engine against real aiohttp servers on 127.0.0.1: counts, latency, captures,
checks, flows and every error class. Each run is bounded and stops by itself."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver

from tests.helpers import COMPAT, compat_dir
from tests.servers import (
    ServerThread,
    free_port,
    make_test_app,
    raw_tcp_server,
    reset_after_request,
)
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan

# What goes on the wire and how it is counted: checked on both transports.
pytestmark = pytest.mark.both_transports


def run(
    path: Path | str, target: str, plan_options: PlanOptions | None = None, **options: Any
) -> Summary:
    base = plan_options or PlanOptions()
    plan = load_plan(
        str(path),
        PlanOptions(**{**vars(base), "target": target}),
    )
    result = run_plan(plan, RunOptions(**{"seed": 7, **options}))
    return summarize(plan, result, "test")


ONE_USER = "config:\n  phases: [{duration: 1, arrivalCount: 1}]\n"


# ---- Artillery's counts, for real


@pytest.mark.parametrize(
    ("script", "created"),
    [
        ("packages/artillery/test/scripts/ramp.json", 7),
        ("packages/artillery/test/scripts/ramp-regression-1682.json", 10),
        ("packages/artillery/test/core/scripts/arrival_phases.json", 60),
    ],
)
def test_artillery_reference_scripts_create_exactly_their_users(
    server: ServerThread, script: str, created: int
) -> None:
    compat_dir()
    summary = run(COMPAT / script, server.url)
    assert summary.counter("vusers.created") == created
    assert summary.counter("vusers.completed") == created
    assert summary.counter("http.codes.200") == created


def test_max_vusers_skips_arrivals_over_the_cap(server: ServerThread) -> None:
    compat_dir()
    script = COMPAT / "packages/artillery/test/core/scripts/concurrent_requests_ramp_to.json"
    summary = run(
        script,
        server.url,
        PlanOptions(
            overrides='{"config":{"phases":[{"duration":1,"arrivalRate":50,"maxVusers":1}]}}'
        ),
    )
    assert summary.counter("vusers.created") == 1
    assert summary.counter("vusers.skipped") == 49


# ---- measuring


def test_a_50ms_server_reports_a_median_between_50_and_55ms(
    server: ServerThread, write_plan
) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 2, arrivalRate: 20}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /sleep/50}\n"
    )
    summary = run(plan, server.url)
    latency = summary.histogram("http.response_time")
    assert latency.count == 40
    assert 50.0 <= latency.percentile(0.5) <= 55.0
    assert summary.counter("vusers.completed") == 40


def test_arrival_lag_is_recorded_for_every_user(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalRate: 10}]\nscenarios:\n  - flow:\n      - get: {url: /ok}\n"
    )
    summary = run(plan, server.url)
    assert summary.histogram("yamlload.arrival_lag").count == 10


# ---- flows


def test_capture_chain_login_token_then_authorized_request(
    server: ServerThread, write_plan
) -> None:
    plan = write_plan(
        ONE_USER + "scenarios:\n  - flow:\n"
        "      - post:\n          url: /login\n          json: {username: ann}\n"
        "          capture:\n            - json: $.token\n              as: token\n"
        "            - jmespath: user.name\n              as: who\n"
        "      - get:\n          url: /me\n          headers: {authorization: 'Bearer {{ token }}'}\n"
        "          expect:\n            - statusCode: 200\n            - equals: ['{{ who }}', ann]\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("http.codes.200") == 2
    assert summary.counter("plugins.expect.ok") == 2
    assert summary.counter("vusers.completed") == 1


def test_failed_strict_capture_ends_the_user(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "scenarios:\n  - flow:\n"
        "      - get:\n          url: /ok\n          capture: {json: $.missing, as: x}\n"
        "      - get: {url: /test}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("vusers.failed") == 1
    assert summary.counter("errors.Failed capture or match") == 1
    assert summary.counter("http.requests") == 1


def test_non_strict_capture_goes_on(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "scenarios:\n  - flow:\n"
        "      - get:\n          url: /ok\n          capture: {json: $.missing, as: x, strict: false}\n"
        "      - get: {url: /test, ifTrue: x}\n      - get: {url: /test}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("vusers.completed") == 1
    assert summary.counter("http.requests") == 2


def test_failed_expectation_is_counted_and_the_user_goes_on(
    server: ServerThread, write_plan
) -> None:
    flow = (
        "scenarios:\n  - flow:\n"
        "      - get:\n          url: /status/404\n"
        "          expect:\n            - statusCode: 200\n            - contentType: json\n"
        "      - get: {url: /test}\n"
    )
    summary = run(write_plan(ONE_USER + flow), server.url)
    assert summary.counter("plugins.expect.failed.statusCode") == 1
    assert summary.counter("plugins.expect.ok.contentType") == 1
    assert summary.counter("vusers.completed") == 1
    assert summary.counter("http.requests") == 2
    assert summary.counter("http.requests_failed") == 1  # the 404 that expected a 200
    stopping = ONE_USER + "  plugins:\n    expect: {reportFailuresAsErrors: true}\n" + flow
    summary = run(write_plan(stopping), server.url)
    assert summary.counter("vusers.failed") == 1
    assert summary.counter("http.requests") == 1
    assert summary.counter("errors.Failed expectations") == 1


def test_loops_count_over_and_range(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "  variables:\n    outer: {items: [1, 2, 3]}\n"
        "scenarios:\n  - flow:\n"
        "      - loop:\n          - get: {url: '/echo?n={{ $loopCount }}'}\n        count: 4\n"
        "      - loop:\n          - get: {url: '/echo?e={{ $loopElement }}'}\n        over: outer.items\n"
        "      - loop:\n          - get: {url: /ok}\n        count: '2-2'\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("http.requests") == 4 + 3 + 2


def test_parallel_and_probability_and_if_true(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "  variables:\n    name: Hassy\n"
        "scenarios:\n  - flow:\n"
        "      - parallel:\n          - get: {url: /sleep/100}\n          - get: {url: /sleep/100}\n"
        "          - get: {url: /sleep/100}\n"
        "      - get: {url: /ok, probability: 0}\n"
        "      - get: {url: /test, ifTrue: \"name === 'Hassy'\"}\n"
        "      - get: {url: /test, ifTrue: notDefined}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("http.requests") == 4
    assert summary.histogram("vusers.session_length").max < 290  # the three ran together


def test_each_user_has_its_own_cookie_jar_and_defaults_apply(
    server: ServerThread, write_plan
) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 2}]\n"
        "  defaults:\n    cookie: {theme: dark}\n    headers: {x-team: load}\n"
        "scenarios:\n  - flow:\n"
        "      - get: {url: /echo, capture: {json: $.cookies.session, as: before, strict: false}}\n"
        "      - get: {url: '/set-cookie?value=u{{ $randomNumber(1, 1000000) }}'}\n"
        "      - get:\n          url: /echo\n          cookie: {extra: 'yes'}\n"
        "          capture:\n            - {json: $.cookies.session, as: session}\n"
        "            - {json: $.cookies.theme, as: theme}\n            - {json: $.cookies.extra, as: extra}\n"
        "            - {json: '$.headers[\"x-team\"]', as: team}\n"
        "          expect:\n            - equals: ['{{ theme }}', dark]\n            - equals: ['{{ extra }}', 'yes']\n"
        "            - equals: ['{{ team }}', load]\n"
        "      - get: {url: /ok, ifTrue: before}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.ok") == 6
    assert summary.counter("vusers.completed") == 2
    assert summary.counter("http.requests") == 6  # neither user saw the other's cookie first


def test_bodies_query_strings_and_basic_auth(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "scenarios:\n  - flow:\n"
        "      - post:\n          url: /echo\n          json: {n: '{{ $randomNumber(5, 5) }}', s: 'a{{ $randomNumber(5, 5) }}'}\n"
        "          capture: {json: $.body, as: body}\n"
        '          expect:\n            - equals: [\'{{ body }}\', \'{"n": 5, "s": "a5"}\']\n'
        "      - post:\n          url: /echo\n          form: {a: '1', b: two}\n"
        "          expect:\n            - jmespath: \"body == 'a=1&b=two'\"\n"
        "      - post:\n          url: /echo\n          body: raw text\n          headers: {content-type: text/plain}\n"
        "          expect:\n            - jmespath: \"body == 'raw text'\"\n"
        "      - get:\n          url: /echo\n          qs: {q: lamp, page: 2}\n"
        "          expect:\n            - jmespath: \"query.q == 'lamp' && query.page == '2'\"\n"
        "      - get:\n          url: /protected\n          auth: {user: leo, pass: secret}\n"
        "          expect: {statusCode: 200}\n"
        "      - get:\n          url: /redirect\n          followRedirect: false\n"
        "          expect: {statusCode: 302}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.failed") == 0, summary.counters_with("plugins.expect.")
    assert summary.counter("plugins.expect.ok") == 6


def test_multipart_form_data_reads_files_relative_to_the_plan(
    server: ServerThread, write_plan
) -> None:
    plan = write_plan(
        ONE_USER + "scenarios:\n  - flow:\n"
        "      - post:\n          url: /echo\n          formData:\n            note: hello\n"
        "            doc: {fromFile: ./upload.txt, contentType: text/plain}\n"
        "          capture: {json: $.body, as: body}\n"
        "          expect:\n            - jmespath: \"contains(body, 'file-content') && contains(body, 'hello')\"\n",
        **{"upload.txt": "file-content"},
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.ok") == 1


def test_weights_scenario_name_seed_and_solo(server: ServerThread, write_plan) -> None:
    text = (
        "config:\n  phases: [{duration: 1, arrivalRate: 40}]\n"
        "scenarios:\n  - name: heavy\n    weight: 3\n    flow: [{get: {url: /ok}}]\n"
        "  - name: light\n    weight: 1\n    flow: [{get: {url: /test}}]\n"
    )
    first = run(write_plan(text), server.url)
    heavy = first.counter("vusers.created_by_name.heavy")
    assert heavy + first.counter("vusers.created_by_name.light") == 40
    assert 20 <= heavy <= 38
    again = run(write_plan(text), server.url)
    assert again.counter("vusers.created_by_name.heavy") == heavy  # same seed, same choices
    only = run(write_plan(text), server.url, scenario_name="light")
    assert only.counter("vusers.created_by_name.light") == 40
    solo = run(write_plan(text), server.url, solo=True)
    assert solo.counter("vusers.created") == 1


def test_closed_model_keeps_users_looping_until_the_phase_ends(
    server: ServerThread, write_plan
) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 2, users: 3, spawnRate: 30}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /sleep/20}\n      - think: {min: 0.05, max: 0.1}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("vusers.created") == 3
    assert summary.counter("vusers.completed") == 3
    assert summary.counter("http.requests") > 3 * 5  # each user went round many times
    assert summary.duration < 10


def test_payload_rows_in_sequence_and_load_all(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 3}]\n"
        "  payload:\n    - path: users.csv\n      fields: [name, age]\n      order: sequence\n      skipHeader: true\n"
        "    - path: users.csv\n      loadAll: true\n      name: everyone\n"
        "scenarios:\n  - flow:\n      - get: {url: '/echo?name={{ name }}&age={{ age }}'}\n"
        "      - loop:\n          - get: {url: '/echo?who={{ $loopElement.name }}'}\n        over: everyone\n",
        **{"users.csv": "name,age\nann,31\nbob,42\ncid,53\n"},
    )
    summary = run(plan, server.url)
    assert summary.counter("http.requests") == 3 + 3 * 3
    assert summary.counter("vusers.completed") == 3


def test_processor_hooks_are_called(server: ServerThread, write_plan) -> None:
    hooks = (
        "def pick(context):\n    context.vars['who'] = 'zed'\n\n"
        "async def sign(request, context):\n    request['headers']['x-signed'] = context.vars['who']\n\n"
        "def remember(request, response, context):\n    context.vars['status'] = response.status\n\n"
        "def boom(context):\n    raise RuntimeError('no')\n"
    )
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 1}]\n  processor: hooks.py\n"
        "scenarios:\n  - beforeScenario: pick\n    flow:\n"
        "      - get:\n          url: /echo\n          beforeRequest: sign\n          afterResponse: remember\n"
        "          capture: {json: '$.headers[\"x-signed\"]', as: signed}\n"
        "          expect: [{equals: ['{{ signed }}', zed]}]\n"
        "      - get: {url: '/echo?s={{ status }}', expect: [{jmespath: \"query.s == '200'\"}]}\n"
        "      - function: boom\n",
        **{"hooks.py": hooks},
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.ok") == 2
    assert summary.counter("errors.EPROCESSOR") == 1
    assert summary.counter("vusers.failed") == 1


def test_before_flow_captures_are_shared_with_every_user(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 3}]\n"
        "before:\n  flow:\n    - post: {url: /login, json: {username: root}, capture: {json: $.token, as: token}}\n"
        "after:\n  flow:\n    - get: {url: /test}\n"
        "scenarios:\n  - flow:\n"
        "      - get: {url: /me, headers: {authorization: 'Bearer {{ token }}'}, expect: [{statusCode: 200}]}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.ok") == 3
    assert server.hits().get("GET /test", 0) >= 1


# ---- errors are values


def test_connection_refused_is_counted_and_the_run_goes_on(write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalRate: 5}]\nscenarios:\n  - flow: [{get: {url: /}}, {get: {url: /}}]\n"
    )
    summary = run(plan, f"http://127.0.0.1:{free_port()}")
    assert summary.counter("errors.ECONNREFUSED") == 5
    assert summary.counter("vusers.failed") == 5
    assert summary.counter("vusers.created") == 5


def test_timeout_is_etimedout(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 2}]\n  http: {timeout: 0.2}\n"
        "scenarios:\n  - flow: [{get: {url: /sleep/1000}}]\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("errors.ETIMEDOUT") == 2
    assert summary.counter("vusers.failed") == 2


def test_reset_connection_is_econnreset(write_plan) -> None:
    plan = write_plan(ONE_USER + "scenarios:\n  - flow: [{get: {url: /}}]\n")
    with raw_tcp_server(reset_after_request) as url:
        summary = run(plan, url)
    assert summary.counter("errors.ECONNRESET") == 1


class FailingResolver(AbstractResolver):
    """Every lookup fails, as for a name that does not exist: no real DNS is asked."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        raise OSError(socket.EAI_NONAME, f"Name or service not known: {host}")

    async def close(self) -> None:
        return None


def test_dns_failure_is_enotfound(write_plan) -> None:
    plan = write_plan(ONE_USER + "scenarios:\n  - flow: [{get: {url: /}}]\n")
    summary = run(plan, "http://no-such-host.invalid:8080", resolver=FailingResolver())
    assert summary.counter("errors.ENOTFOUND") == 1


@pytest.fixture(scope="module")
def tls_server() -> Any:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with ServerThread(make_test_app(), ssl_context=context) as running:
        yield running


def test_untrusted_certificate_is_an_error_unless_insecure(
    tls_server: ServerThread, write_plan
) -> None:
    plan = write_plan(ONE_USER + "scenarios:\n  - flow: [{get: {url: /ok}}]\n")
    strict = run(plan, tls_server.url)
    errors = strict.counters_with("errors.")
    assert list(errors.values()) == [1], errors
    assert set(errors) <= {
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        "EPROTO",
    }
    lax = run(plan, tls_server.url, insecure=True)
    assert lax.counter("http.codes.200") == 1
    assert not lax.counters_with("errors.")


def test_tls_reject_unauthorized_false_in_the_plan(tls_server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "  tls: {rejectUnauthorized: false}\nscenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )
    assert run(plan, tls_server.url).counter("http.codes.200") == 1


def test_error_code_names() -> None:
    from yamlload.runtime.http.aiohttp_transport import error_code

    assert error_code(TimeoutError()) == "ETIMEDOUT"
    assert error_code(aiohttp.ServerDisconnectedError()) == "ECONNRESET"
    assert error_code(ConnectionResetError(104, "reset")) == "ECONNRESET"
