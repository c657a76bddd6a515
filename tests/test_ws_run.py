"""WebSocket scenarios run (issue 19) against a real aiohttp WebSocket server on
127.0.0.1: exact counts, captures and matches from replies, the handshake the server
saw, each error class, TLS, and the counts Artillery's ws engine gives for the same plan.
No wall-clock asserts: counts only."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import ServerThread, free_port
from tests.ws_servers import CLOSE_CODE, PUSHED, counts, make_ws_app, seen
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan


@pytest.fixture(scope="module")
def ws_server() -> Iterator[ServerThread]:
    with ServerThread(make_ws_app()) as running:
        yield running


@pytest.fixture
def fresh_ws_server() -> Iterator[ServerThread]:
    with ServerThread(make_ws_app()) as running:
        yield running


def plan_text(users: int, flow: str, config: str = "", engine: str = "ws") -> str:
    return (
        "config:\n"
        f"  phases: [{{duration: 1, arrivalCount: {users}}}]\n"
        f"{config}"
        "scenarios:\n"
        f"  - engine: {engine}\n"
        "    flow:\n"
        f"{flow}"
    )


def run_ws(write_plan, text: str, target: str, **options: Any) -> Summary:
    path = write_plan(text)
    plan = load_plan(str(path), PlanOptions(target=target))
    result = run_plan(plan, RunOptions(**{"seed": 7, **options}))
    return summarize(plan, result, "test")


def ws_counters(summary: Summary) -> dict[str, int]:
    return {k: v for k, v in summary.aggregate.counters.items() if k.startswith("websocket.")}


# ---- exact counts


def test_every_message_sent_and_every_reply_read_is_counted_once(
    write_plan, fresh_ws_server: ServerThread
) -> None:
    flow = """      - connect: /echo
      - loop:
          - send: {payload: {n: "{{ $loopCount }}"}, capture: {json: $.n, as: n}}
        count: 4
      - send: "last {{ n }}"
      - send: {plain: true}
"""
    summary = run_ws(write_plan, plan_text(3, flow), fresh_ws_server.url)
    found = ws_counters(summary)
    assert found["websocket.messages_sent"] == 3 * 6
    assert found["websocket.messages_received"] == 3 * 4
    assert found["websocket.sessions"] == found["websocket.sessions_completed"] == 3
    assert summary.histogram("websocket.connect_time").count == 3
    assert summary.histogram("websocket.response_time").count == 12
    assert summary.histogram("websocket.session_length").count == 3
    assert summary.counter("vusers.completed") == 3
    assert summary.counter("http.requests") == 0
    # the server got each message once, in order, the capture rendered into the next
    conversations = [h.received for h in seen(fresh_ws_server) if h.path == "/echo"]
    assert len(conversations) == 3
    for received in conversations:
        assert received == [
            '{"n": 0}',
            '{"n": 1}',
            '{"n": 2}',
            '{"n": 3}',
            "last 3",
            '{"plain": true}',
        ]
    assert counts(fresh_ws_server)["received"] == 18
    # the unread echoes of the last two sends are dropped, never read as a reply
    assert found.get("websocket.messages_unread", 0) <= 6


def test_a_reply_that_does_not_match_fails_its_user(write_plan, ws_server: ServerThread) -> None:
    flow = """      - connect: /echo
      - send: {payload: pong, match: {regexp: "^pong$", value: pong}}
      - send: {payload: ping, match: {regexp: "^p.ng$", value: pong}}
      - send: never sent
"""
    summary = run_ws(write_plan, plan_text(2, flow), ws_server.url)
    assert summary.counter("errors.Failed capture or match") == 2
    assert summary.counter("vusers.failed") == 2
    found = ws_counters(summary)
    assert found["websocket.messages_sent"] == 4
    assert found["websocket.messages_received"] == 4
    assert found["websocket.sessions_failed"] == 2


def test_a_capture_that_finds_nothing_fails_unless_not_strict(
    write_plan, ws_server: ServerThread
) -> None:
    flow = """      - connect: /echo
      - send: {payload: {a: 1}, capture: {json: $.b, as: b, strict: false}}
      - send: {payload: {a: 1}, capture: {json: $.b, as: b}}
"""
    summary = run_ws(write_plan, plan_text(1, flow), ws_server.url)
    assert summary.counter("errors.Failed capture or match") == 1
    assert ws_counters(summary)["websocket.messages_received"] == 2


# ---- the handshake


def test_subprotocols_and_headers_reach_the_server(
    write_plan, fresh_ws_server: ServerThread
) -> None:
    config = """  variables: {token: abc}
  ws:
    subprotocols: [nope, chat]
    headers: {X-Token: "t-{{ token }}", Sec-WebSocket-Protocol: extra}
"""
    summary = run_ws(
        write_plan,
        plan_text(1, "      - connect: /echo\n      - send: hi\n", config),
        fresh_ws_server.url,
    )
    assert summary.counter("vusers.completed") == 1
    (handshake,) = seen(fresh_ws_server)
    assert handshake.protocol == "chat"
    assert handshake.headers["Sec-WebSocket-Protocol"] == "nope,chat,extra"
    assert handshake.headers["X-Token"] == "t-abc"


def test_a_connect_step_gives_its_own_headers_and_subprotocols(
    write_plan, fresh_ws_server: ServerThread
) -> None:
    config = "  ws:\n    subprotocols: [chat]\n    headers: {X-From: config}\n"
    target = fresh_ws_server.url.replace("http://", "ws://") + "/echo"
    flow = f"""      - connect:
          target: "{target}"
          subprotocols: [json]
          headers: {{X-From: step}}
      - send: hi
"""
    run_ws(write_plan, plan_text(1, flow, config), "http://127.0.0.1:9")
    (handshake,) = seen(fresh_ws_server)
    assert handshake.protocol == "json"
    assert handshake.headers["X-From"] == "step"


def test_the_target_is_the_connection_without_a_connect_step(
    write_plan, fresh_ws_server: ServerThread
) -> None:
    target = fresh_ws_server.url.replace("http://", "ws://") + "/echo"
    text = plan_text(2, "      - send: {payload: a, capture: {regexp: a, as: x}}\n")
    summary = run_ws(write_plan, text, target)
    assert ws_counters(summary)["websocket.messages_received"] == 2
    assert [h.path for h in seen(fresh_ws_server)] == ["/echo", "/echo"]


# ---- each error class


def test_a_refused_connection(write_plan) -> None:
    summary = run_ws(
        write_plan, plan_text(2, "      - send: hi\n"), f"ws://127.0.0.1:{free_port()}"
    )
    assert summary.counter("errors.ECONNREFUSED") == 2
    assert summary.counter("vusers.failed") == 2
    assert "websocket.sessions" not in summary.aggregate.counters
    assert "websocket.messages_sent" not in summary.aggregate.counters


def test_a_handshake_refused_with_a_status(write_plan, ws_server: ServerThread) -> None:
    text = plan_text(2, "      - connect: /forbidden\n      - send: hi\n")
    summary = run_ws(write_plan, text, ws_server.url)
    assert summary.counter("errors.ws_handshake_403") == 2
    assert summary.counter("vusers.failed") == 2


def test_a_server_that_closes_mid_scenario(write_plan, ws_server: ServerThread) -> None:
    flow = """      - connect: /close
      - send: first
      - wait: {for: message, timeout: 5}
      - send: never
"""
    summary = run_ws(write_plan, plan_text(2, flow), ws_server.url)
    assert summary.counter(f"errors.ws_closed_{CLOSE_CODE}") == 2
    found = ws_counters(summary)
    assert found["websocket.messages_sent"] == 2
    assert found["websocket.sessions_failed"] == 2
    assert summary.counter("vusers.failed") == 2


def test_a_send_after_the_server_closed(write_plan, ws_server: ServerThread) -> None:
    flow = """      - connect: /close
      - send: {payload: first, capture: {regexp: x, as: x}}
      - send: never
"""
    summary = run_ws(write_plan, plan_text(1, flow), ws_server.url)
    assert summary.counter(f"errors.ws_closed_{CLOSE_CODE}") == 1
    assert ws_counters(summary)["websocket.messages_sent"] == 1


def test_a_server_that_never_answers_times_out(write_plan, ws_server: ServerThread) -> None:
    config = "  ws:\n    timeout: 0.3\n"
    flow = """      - connect: /silent
      - send: {payload: hello?, capture: {regexp: ".", as: x}}
"""
    summary = run_ws(write_plan, plan_text(2, flow, config), ws_server.url)
    assert summary.counter("errors.ws_timeout") == 2
    found = ws_counters(summary)
    assert found["websocket.messages_sent"] == 2
    assert "websocket.messages_received" not in found
    assert found["websocket.sessions_failed"] == 2


# ---- wait (ours)


def test_wait_reads_pushed_messages_until_one_matches(write_plan, ws_server: ServerThread) -> None:
    flow = f"""      - connect: /push
      - wait:
          for: message
          match: {{json: $.n, value: {PUSHED - 1}}}
          capture: {{json: $.type, as: kind}}
      - send: {{payload: "{{{{ kind }}}}", match: {{regexp: tick, value: tick}}}}
"""
    summary = run_ws(write_plan, plan_text(2, flow), ws_server.url)
    found = ws_counters(summary)
    assert summary.counter("vusers.completed") == 2, summary.aggregate.counters
    assert found["websocket.messages_received"] == 2 * (PUSHED + 1)
    assert found["websocket.messages_sent"] == 2


def test_wait_without_a_match_takes_the_next_message(
    write_plan, fresh_ws_server: ServerThread
) -> None:
    flow = """      - connect: /push
      - wait: {for: message, capture: {json: $.n, as: first}}
      - wait: {for: message, capture: {json: $.n, as: second}}
      - send: "got {{ first }} {{ second }}"
"""
    summary = run_ws(write_plan, plan_text(1, flow), fresh_ws_server.url)
    assert summary.counter("vusers.completed") == 1, summary.aggregate.counters
    assert summary.counter("websocket.messages_received") == 2
    (handshake,) = seen(fresh_ws_server)
    assert handshake.received == ["got 0 1"]


# ---- TLS


@pytest.fixture(scope="module")
def tls_ws_server() -> Iterator[ServerThread]:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with ServerThread(make_ws_app(), context) as running:
        yield running


def test_wss_with_an_untrusted_certificate_when_told_to_accept_it(
    write_plan, tls_ws_server: ServerThread
) -> None:
    assert tls_ws_server.url.startswith("https://")
    config = "  tls: {rejectUnauthorized: false}\n"
    flow = "      - connect: /echo\n      - send: {payload: s, capture: {regexp: s, as: s}}\n"
    summary = run_ws(write_plan, plan_text(2, flow, config), tls_ws_server.url)
    assert summary.counter("vusers.completed") == 2, summary.aggregate.counters
    assert ws_counters(summary)["websocket.messages_received"] == 2


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_wss_obeys_insecure_as_http_does(
    write_plan, tls_ws_server: ServerThread, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """-k (RunOptions.insecure) accepts the certificate for wss:// as for https://,
    whichever HTTP transport runs (issue 19, review)."""
    monkeypatch.setenv("YAMLLOAD_TRANSPORT", transport)
    target = tls_ws_server.url.replace("https://", "wss://")
    flow = "      - connect: /echo\n      - send: {payload: s, capture: {regexp: s, as: s}}\n"
    summary = run_ws(write_plan, plan_text(2, flow), target, insecure=True)
    assert summary.counter("vusers.completed") == 2, summary.aggregate.counters
    assert ws_counters(summary)["websocket.messages_received"] == 2


def test_wss_refuses_an_untrusted_certificate(write_plan, tls_ws_server: ServerThread) -> None:
    target = tls_ws_server.url.replace("https://", "wss://")
    summary = run_ws(write_plan, plan_text(1, "      - connect: /echo\n"), target)
    errors = summary.counters_with("errors.")
    assert sum(errors.values()) == 1 and summary.counter("vusers.failed") == 1
    assert set(errors) <= {"UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "EPROTO"}, errors


# ---- beside HTTP, and Artillery's counts


def test_http_scenarios_in_the_same_plan_keep_exact_counts(
    write_plan, ws_server: ServerThread
) -> None:
    text = """config:
  phases: [{duration: 1, arrivalCount: 4}]
scenarios:
  - name: sockets
    engine: ws
    flow:
      - connect: /echo
      - send: {payload: x, capture: {regexp: x, as: x}}
  - name: pages
    flow:
      - get: {url: /ok}
      - get: {url: /ok}
"""
    summary = run_ws(write_plan, text, ws_server.url)
    ws_users = summary.counter("vusers.created_by_name.sockets")
    http_users = summary.counter("vusers.created_by_name.pages")
    assert ws_users + http_users == 4
    assert summary.counter("http.requests") == summary.counter("http.responses") == 2 * http_users
    assert summary.counter("http.codes.200") == 2 * http_users
    assert ws_counters(summary).get("websocket.messages_sent", 0) == ws_users
    assert summary.counter("vusers.completed") == 4


def test_artillery_counts_for_its_documented_plan(write_plan, ws_server: ServerThread) -> None:
    """Artillery's ws engine (artillery-engine-ws, as in Artillery 2): every `send`
    with a payload counts websocket.messages_sent once; websocket.messages_received
    counts the messages a step waited for (a send with capture or match reads the next
    message after it), so the echoes of plain sends are not counted; a failed match
    fails the user. 5 users, each: 2 plain sends, a pause (their echoes come, unread),
    then a loop of 3 sends, each matched against its echo."""
    flow = """      - connect: /echo
      - send: "Hello world!"
      - send: {greeting: hi}
      - think: 0.2
      - loop:
          - send: {payload: "{{ $loopCount }}", match: {regexp: "\\\\d", value: "{{ $loopCount }}"}}
        count: 3
"""
    summary = run_ws(write_plan, plan_text(5, flow), ws_server.url)
    assert summary.counter("websocket.messages_sent") == 25
    assert summary.counter("websocket.messages_received") == 15
    assert summary.counter("vusers.completed") == 5, summary.aggregate.counters
    # ours beside Artillery's: the plain sends' echoes, dropped by the first reply's send
    assert summary.counter("websocket.messages_unread") == 10
    assert summary.counter("websocket.sessions_completed") == 5


def test_artillery_2_measured_counts_for_plain_sends(write_plan, ws_server: ServerThread) -> None:
    """The counts Artillery 2 gave for this plan against an aiohttp echo on loopback
    (run in a network namespace of its own, 3 Dec 2026): vusers.created 5, completed 5,
    failed 0, websocket.messages_sent 25, and no websocket.messages_received (a plain
    send reads nothing). The same counters here; ours beside them are ours."""
    config = "  ws:\n    subprotocols: [chat]\n"
    flow = """      - connect: /echo
      - send: "Hello world!"
      - send: {greeting: hi}
      - loop:
          - send: "n {{ $loopCount }}"
        count: 3
      - think: 0.2
"""
    summary = run_ws(write_plan, plan_text(5, flow, config), ws_server.url)
    artillery = {
        "vusers.created": 5,
        "vusers.completed": 5,
        "vusers.failed": 0,
        "websocket.messages_sent": 25,
        "websocket.messages_received": 0,
    }
    assert {name: summary.counter(name) for name in artillery} == artillery


def test_a_run_that_opened_no_connection_is_invalid(write_plan) -> None:
    from yamlload.checks.validity import invalid_reasons

    summary = run_ws(
        write_plan, plan_text(2, "      - send: hi\n"), f"ws://127.0.0.1:{free_port()}"
    )
    assert summary.counter("websocket.connect_failed") == 2
    (reason,) = invalid_reasons(summary, 100.0)
    assert reason.startswith("could not reach the target at all: no WebSocket connection opened")
    assert "ECONNREFUSED × 2" in reason


def test_a_wait_reads_a_plain_sends_echo_so_the_next_reply_is_its_own(
    write_plan, ws_server: ServerThread
) -> None:
    """docs/websocket.md's fix for an answer in flight: the `wait` reads `hello`'s echo,
    so the next send's reply is always its own (issue 19, review)."""
    flow = """      - connect: /echo
      - send: hello
      - wait: {for: message, match: {regexp: "^hello$", value: hello}}
      - send: {payload: {n: 1}, capture: {json: $.n, as: n}}
"""
    summary = run_ws(write_plan, plan_text(10, flow), ws_server.url)
    assert summary.counter("vusers.completed") == 10, summary.aggregate.counters
    assert ws_counters(summary)["websocket.messages_received"] == 20


def test_a_server_that_accepts_no_offered_subprotocol_fails_the_handshake(
    write_plan, ws_server: ServerThread
) -> None:
    """As the `ws` library under Artillery ("Server sent no subprotocol"): the user fails
    with errors.ws_subprotocol_refused, and no session is counted opened."""
    flow = "      - connect: {target: /echo, subprotocols: [nope]}\n      - send: hi\n"
    summary = run_ws(write_plan, plan_text(2, flow), ws_server.url)
    assert summary.counter("errors.ws_subprotocol_refused") == 2, summary.aggregate.counters
    assert summary.counter("vusers.failed") == 2
    found = ws_counters(summary)
    assert found["websocket.connect_failed"] == 2
    assert found.get("websocket.sessions", 0) == 0
    assert found.get("websocket.messages_sent", 0) == 0


def test_a_rendered_connect_url_of_another_scheme_is_einvalidurl(
    write_plan, ws_server: ServerThread
) -> None:
    config = "  variables: {url: 'ftp://127.0.0.1/x'}\n"
    flow = '      - connect: "{{ url }}"\n      - send: hi\n'
    summary = run_ws(write_plan, plan_text(1, flow, config), ws_server.url)
    assert summary.counters_with("errors.") == {"EINVALIDURL": 1}
