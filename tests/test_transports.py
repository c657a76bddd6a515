"""The fast transport against the aiohttp one: the same plans through both, against
servers on 127.0.0.1 that record what they received, must give the same requests on
the server's side and the same counters on ours (issue 15's differential test)."""

from __future__ import annotations

import gzip
import json
import socket
import zlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.faults import FaultServer
from tests.servers import ServerThread, free_port, raw_tcp_server, reset_after_request
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan, transport_choice
from yamlload.runtime.http import fast_transport

TRANSPORTS = ("aiohttp", "fast")
# The counters both transports must agree on exactly (timings and CPU differ).
COMPARED = ("errors.", "http.codes.", "http.requests", "http.responses", "http.downloaded_bytes")
SEEN = web.AppKey("seen", list)
WORD = {"word": "chunky", "pad": "x" * 300}
BIG = json.dumps({"x": "y" * 200_000}).encode()


def recording_app() -> web.Application:
    """Records each request as the server parsed it; answers with every body framing."""
    app = web.Application()
    app[SEEN] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        headers = sorted((k.lower(), v) for k, v in request.headers.items())
        app[SEEN].append((request.method, request.path_qs, headers, body))
        response: web.StreamResponse = await handler(request)
        return response

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"body": (await request.read()).decode("utf-8", "replace")})

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        text = json.dumps({**WORD, "word": "chunked"}).encode()
        for start in range(0, len(text), 50):
            await response.write(text[start : start + 50])
        await response.write_eof()
        return response

    def encoded(encoding: str, compress: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = compress(json.dumps({**WORD, "word": encoding}).encode())
            headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
            return web.Response(body=body, headers=headers)

        return handler

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BIG, content_type="application/json")

    app.middlewares.append(record)
    app.add_routes(
        [
            web.route("*", "/echo", echo),
            web.get("/chunked", chunked),
            web.get("/gzip", encoded("gzip", gzip.compress)),
            web.get("/deflate", encoded("deflate", zlib.compress)),
            web.get("/big", big),
        ]
    )
    return app


CORPUS = """
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 2}}]
  http: {{transport: {transport}, timeout: 2, maxBodyBytes: 100000}}
  defaults: {{headers: {{x-default: d}}}}
scenarios:
  - flow:
      - get: {{url: "/echo?a=1&b=two", qs: {{c: "x y", d: "é"}}, headers: {{X-Trace: abc}}}}
      - post: {{url: /echo, json: {{n: 1, s: "x", l: [1, 2.5], o: {{k: null}}}}}}
      - put: {{url: /echo, body: "plain text"}}
      - patch: {{url: /echo, form: {{a: "1 2", b: "&=é"}}}}
      - delete: {{url: /echo}}
      - head: {{url: /echo}}
      - get: {{url: /chunked, capture: {{json: "$.word", as: c}}}}
      - get: {{url: /gzip, gzip: true, capture: {{json: "$.word", as: g}}}}
      - get: {{url: /deflate, gzip: true, capture: {{json: "$.word", as: d}}}}
      - get: {{url: "/echo?seen={{{{ c }}}}-{{{{ g }}}}-{{{{ d }}}}"}}
      - get: {{url: /missing}}
      - get: {{url: /big}}
      - get: {{url: /big, capture: {{json: "$.x", as: x}}}}
"""

FAULT = """
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 1}}]
  http: {{transport: {transport}, timeout: 0.5}}
scenarios:
  - flow: [{{get: {{url: "{path}"}}}}]
"""


def run(tmp_path: Path, text: str, transport: str, **values: str) -> Summary:
    path = tmp_path / f"{transport}.yml"
    path.write_text(text.format(transport=transport, **values), encoding="utf-8")
    plan = load_plan(str(path), PlanOptions())
    assert transport_choice(plan) == (transport, "")
    return summarize(plan, run_plan(plan, RunOptions(seed=5)), "test")


def compared(summary: Summary) -> dict[str, int]:
    counters = summary.to_json()["aggregate"]["counters"]
    return {k: v for k, v in counters.items() if k.startswith(COMPARED)}


@pytest.fixture
def fast_sessions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The sessions the fast transport made: proof that it, not aiohttp, ran."""
    made: list[object] = []
    real = fast_transport.FastTransport.session

    def session(self: fast_transport.FastTransport) -> fast_transport.FastSession:
        made.append(self)
        return real(self)

    monkeypatch.setattr(fast_transport.FastTransport, "session", session)
    return made


def test_the_corpus_reaches_the_server_alike(tmp_path: Path, fast_sessions: list[object]) -> None:
    seen: dict[str, list[Any]] = {}
    summaries: dict[str, Summary] = {}
    for transport in TRANSPORTS:
        with ServerThread(recording_app()) as server:
            summaries[transport] = run(tmp_path, CORPUS, transport, target=server.url)
            assert server.app is not None
            seen[transport] = sorted(
                (m, p, [(k, v) for k, v in h if k != "host"], b) for m, p, h, b in server.app[SEEN]
            )
    assert len(fast_sessions) == 2
    assert seen["fast"] == seen["aiohttp"]
    assert any(p == "/echo?seen=chunked-gzip-deflate" for _, p, _, _ in seen["fast"])
    assert compared(summaries["fast"]) == compared(summaries["aiohttp"])
    assert summaries["fast"].counter("errors.Body over maxBodyBytes") == 2
    assert summaries["fast"].counter("http.codes.404") == 2


@pytest.fixture(scope="module")
def hostile() -> Any:
    with FaultServer() as server:
        yield server


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/ok", None),
        ("/reset", "EPROTO"),
        ("/cut-json", "EPROTO"),
        ("/garbage", "EPROTO"),
        ("/stall", "ETIMEDOUT"),
        ("/slow", None),
        ("/big-chunked", None),
    ],
)
def test_a_hostile_target_counts_alike(
    tmp_path: Path, hostile: FaultServer, path: str, error: str | None
) -> None:
    found = {
        t: compared(run(tmp_path, FAULT, t, target=hostile.url, path=path)) for t in TRANSPORTS
    }
    assert found["fast"] == found["aiohttp"]
    if error is not None:
        assert found["fast"][f"errors.{error}"] == 1


def test_a_refused_port_and_a_dropped_connection_count_alike(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{free_port()}"
    found = {t: compared(run(tmp_path, FAULT, t, target=refused, path="/")) for t in TRANSPORTS}
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["errors.ECONNREFUSED"] == 1
    with raw_tcp_server(reset_after_request) as dropping:
        found = {
            t: compared(run(tmp_path, FAULT, t, target=dropping, path="/")) for t in TRANSPORTS
        }
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["errors.ECONNRESET"] == 1


PLAIN = "config:\n  target: {target}\n  phases: [{{duration: 1, arrivalCount: 1}}]\n{http}"
FLOW = "scenarios:\n  - flow: [{get: {url: /}}]\n"


@pytest.mark.parametrize(
    ("target", "http", "choice"),
    [
        ("http://127.0.0.1:9", "", ("aiohttp", "")),
        ("http://127.0.0.1:9", "  http: {transport: aiohttp}\n", ("aiohttp", "")),
        ("http://127.0.0.1:9", "  http: {transport: fast}\n", ("fast", "")),
        ("https://127.0.0.1:9", "  http: {transport: fast, pool: 2}\n", ("fast", "")),
        (
            "https://127.0.0.1:9",
            "  http: {transport: fast, maxSockets: 2, extendedMetrics: true}\n",
            ("fast", ""),
        ),
    ],
)
def test_the_transport_is_fast_only_when_asked_and_able(
    tmp_path: Path, target: str, http: str, choice: tuple[str, str], default_transport: str
) -> None:
    if not http and default_transport != "aiohttp":
        pytest.skip("pytest --transport changes the default")
    path = tmp_path / "plan.yml"
    path.write_text(PLAIN.format(target=target, http=http) + FLOW, encoding="utf-8")
    assert transport_choice(load_plan(str(path), PlanOptions())) == choice


def test_an_unknown_transport_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    text = PLAIN.format(target="http://127.0.0.1:9", http="  http: {transport: curl}\n")
    path.write_text(text + FLOW, encoding="utf-8")
    with pytest.raises(Exception, match="transport"):
        load_plan(str(path), PlanOptions())


def answer_once_then_drop(conn: socket.socket) -> None:
    """Answers a connection's first request (keep-alive), then reads the next one and
    closes unanswered: a server dropping an idle keep-alive connection as a request went."""
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.recv(65536)


REUSED = """
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 1}}]
  http: {{transport: {transport}, timeout: 2}}
scenarios:
  - flow: [{{get: {{url: /a}}}}, {{get: {{url: /b}}}}, {{post: {{url: /c}}}}]
"""


def test_a_dropped_keep_alive_connection_is_retried_alike(tmp_path: Path) -> None:
    """GET is sent again on a new connection; POST, not idempotent, is an error."""
    with raw_tcp_server(answer_once_then_drop) as target:
        found = {t: compared(run(tmp_path, REUSED, t, target=target)) for t in TRANSPORTS}
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["http.codes.200"] == 2
    assert found["fast"]["errors.ECONNRESET"] == 1
