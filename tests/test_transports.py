"""The fast transport against the aiohttp one: the same plans through both, against
servers on 127.0.0.1 that record what they received, must give the same requests on
the server's side and the same counters on ours (issue 15's differential test)."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import MultipartReader, web
from multidict import CIMultiDict

from tests.faults import FaultServer
from tests.servers import ServerThread, free_port, raw_tcp_server, reset_after_request
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan, transport_choice
from yamlload.runtime.http import cookies, fast_transport
from yamlload.runtime.http.cookies import Jar

TRANSPORTS = ("aiohttp", "fast")
# The counters both transports must agree on exactly (timings and CPU differ).
COMPARED = ("errors.", "http.codes.", "http.requests", "http.responses", "http.downloaded_bytes")
SEEN = web.AppKey("seen", list)
WORD = {"word": "chunky", "pad": "x" * 300}
BIG = json.dumps({"x": "y" * 200_000}).encode()


def recorder(app: web.Application) -> Any:
    """A middleware that records each request as the server parsed it in app[SEEN],
    headers in the order they came: a multipart body as its parts (name, filename,
    headers, bytes), since its boundary is random per request."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        headers = [(k.lower(), v) for k, v in request.headers.items()]
        if request.content_type == "multipart/form-data":
            body: Any = await multipart_parts(request)
            headers = [(k, v.split(";")[0] if k == "content-type" else v) for k, v in headers]
        else:
            body = await request.read()
        app[SEEN].append((request.method, request.path_qs, headers, body))
        response: web.StreamResponse = await handler(request)
        return response

    return record


async def multipart_parts(request: web.Request) -> list[tuple[Any, ...]]:
    reader = await request.multipart()
    parts: list[tuple[Any, ...]] = []
    while (part := await reader.next()) is not None:
        assert not isinstance(part, MultipartReader)
        headers = sorted((k.lower(), v) for k, v in part.headers.items())
        parts.append((part.name, part.filename, headers, bytes(await part.read())))
    return parts


def recording_app() -> web.Application:
    """Records each request as the server parsed it; answers with every body framing."""
    app = web.Application()
    app[SEEN] = []

    app.middlewares.append(recorder(app))

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
      - put: {{url: /echo, body: "sized", headers: {{content-length: "5"}}}}
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
    assert transport_choice(plan) == transport
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


def test_the_corpus_reaches_the_server_alike(
    tmp_path: Path, fast_sessions: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    jars: list[object] = []  # a plan with no cookie makes no jar: its requests cost nothing more
    monkeypatch.setattr(cookies, "Jar", lambda: jars.append(1) or Jar())
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
    assert not jars
    assert seen["fast"] == seen["aiohttp"]
    assert any(p == "/echo?seen=chunked-gzip-deflate" for _, p, _, _ in seen["fast"])
    assert compared(summaries["fast"]) == compared(summaries["aiohttp"])
    assert summaries["fast"].counter("errors.Body over maxBodyBytes") == 2
    assert summaries["fast"].counter("http.codes.404") == 2


# What /login sets: kept for the whole site, for one path, until a later deletion,
# already expired, for the IP's domain, https only, for an hour, quoted.
LOGIN_COOKIES = (
    "sid=s1; Path=/",
    "scoped=p; Path=/scoped",
    "gone=soon; Path=/",
    "stale=old; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/",
    "dom=d; Domain=127.0.0.1; Path=/",
    "sec=s; Secure; Path=/",
    "long=l; Max-Age=3600",
    'quoted="x y"; Path=/',
)


def cookie_app() -> web.Application:
    """Sets, deletes and redirects with cookies; records the Cookie each request carried."""
    app = web.Application()
    app[SEEN] = []
    app.middlewares.append(recorder(app))

    def setting(*cookies: str, status: int = 200, location: str = "") -> Any:
        async def handler(request: web.Request) -> web.Response:
            headers = [("Set-Cookie", cookie) for cookie in cookies]
            if location:
                headers.append(("Location", location))
            return web.Response(status=status, headers=CIMultiDict(headers), text="ok")

        return handler

    app.add_routes(
        [
            web.route("*", "/echo", setting()),
            web.get("/scoped/page", setting()),
            web.get("/login", setting(*LOGIN_COOKIES)),
            web.get("/logout", setting("gone=; Max-Age=0; Path=/")),
            web.get("/hop", setting("hop=h; Path=/", status=302, location="/landing")),
            web.get("/landing", setting()),
        ]
    )
    return app


COOKIES = """
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 2}}]
  http: {{transport: {transport}, timeout: 2}}
  defaults: {{cookie: {{dflt: d}}}}
scenarios:
  - flow:
      - get: {{url: "/echo?step=first"}}
      - get: {{url: /login}}
      - get: {{url: "/echo?step=logged-in"}}
      - get: {{url: /scoped/page}}
      - get: {{url: /logout}}
      - get: {{url: "/echo?step=logged-out", cookie: {{plan: p}}}}
      - get: {{url: /hop}}
      - get: {{url: "/echo?step=given", headers: {{cookie: "h=1; sid=override"}}}}
      - post: {{url: "/echo?step=post", body: "x"}}
"""


def cookies_seen(app: web.Application) -> list[tuple[str, str | None]]:
    return sorted((path, dict(headers).get("cookie")) for _, path, headers, _ in app[SEEN])


def test_cookies_are_kept_and_sent_alike(tmp_path: Path, fast_sessions: list[object]) -> None:
    seen: dict[str, list[Any]] = {}
    for transport in TRANSPORTS:
        with ServerThread(cookie_app()) as server:
            summary = run(tmp_path, COOKIES, transport, target=server.url)
            assert server.app is not None
            seen[transport] = cookies_seen(server.app)
        assert summary.counter("http.codes.200") == 2 * 9
    assert len(fast_sessions) == 2
    assert seen["fast"] == seen["aiohttp"]
    sent = dict(seen["fast"])
    assert sent["/echo?step=first"] == "dflt=d"
    logged_in = sent["/echo?step=logged-in"]
    assert logged_in is not None
    assert {"sid=s1", "gone=soon", "dom=d", "long=l", "dflt=d"} <= set(logged_in.split("; "))
    assert not any(gone in logged_in for gone in ("stale=", "sec=", "scoped="))
    assert "scoped=p" in (sent["/scoped/page"] or "")
    assert "gone=" not in (sent["/echo?step=logged-out"] or "")
    assert "plan=p" in (sent["/echo?step=logged-out"] or "")
    assert "hop=h" in (sent["/landing"] or "")
    assert "h=1" in (sent["/echo?step=given"] or "")


UPLOADS = """
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 2}}]
  http: {{transport: {transport}, timeout: 2}}
scenarios:
  - flow:
      - post:
          url: /echo
          formData:
            note: "hello wörld"
            "é field": {{fromFile: ./upload.txt}}
            doc: {{fromFile: ./upload.txt, contentType: text/plain}}
            raw: {{fromFile: ./upload.bin}}
            named: {{fromFile: ./upload.txt, filename: 'résumé "final" 1.txt'}}
      - put:
          url: /echo
          formData: {{a: "1 2", b: "&=é"}}
      - post:
          url: /echo
          cookie: {{c: v}}
          formData:
            doc: {{fromFile: ./upload.txt, contentType: "application/json; charset=utf-8"}}
"""


def test_multipart_uploads_reach_the_server_alike(
    tmp_path: Path, fast_sessions: list[object]
) -> None:
    (tmp_path / "upload.txt").write_text("some text\r\n--not-a-boundary\n", encoding="utf-8")
    (tmp_path / "upload.bin").write_bytes(bytes(range(256)))
    seen: dict[str, list[Any]] = {}
    for transport in TRANSPORTS:
        with ServerThread(recording_app()) as server:
            summary = run(tmp_path, UPLOADS, transport, target=server.url)
            assert server.app is not None
            seen[transport] = [
                (m, p, [(k, v) for k, v in h if k != "host"], b) for m, p, h, b in server.app[SEEN]
            ]
        assert summary.counter("http.codes.200") == 2 * 3
    assert len(fast_sessions) == 2
    assert seen["fast"] == seen["aiohttp"]
    parts = seen["fast"][0][3]
    assert [(name, filename) for name, filename, _, _ in parts] == [
        ("note", None),
        ("é field", "upload.txt"),
        ("doc", "upload.txt"),
        ("raw", "upload.bin"),
        ("named", "r%C3%A9sum%C3%A9%20%22final%22%201.txt"),  # aiohttp percent-encodes it
    ]
    assert parts[3][3] == bytes(range(256))
    assert dict(parts[2][2])["content-type"] == "text/plain"
    # Text fields alone are multipart too, as Artillery sends formData (form-data's
    # rule), not url-encoded (aiohttp's FormData default)
    text_only = seen["fast"][1][3]
    assert [(name, value) for name, _, _, value in text_only] == [
        ("a", b"1 2"),
        ("b", "&=é".encode()),
    ]


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
        ("http://127.0.0.1:9", "", "fast"),
        ("http://127.0.0.1:9", "  http: {transport: aiohttp}\n", "aiohttp"),
        ("http://127.0.0.1:9", "  http: {transport: fast}\n", "fast"),
        ("https://127.0.0.1:9", "  http: {transport: fast, pool: 2}\n", "fast"),
        (
            "https://127.0.0.1:9",
            "  http: {transport: fast, maxSockets: 2, extendedMetrics: true}\n",
            "fast",
        ),
    ],
)
def test_the_transport_is_the_one_the_plan_names_fast_by_default(
    tmp_path: Path, target: str, http: str, choice: str, default_transport: str
) -> None:
    if not http and default_transport != "fast":
        pytest.skip("pytest --transport changes the default")
    path = tmp_path / "plan.yml"
    path.write_text(PLAIN.format(target=target, http=http) + FLOW, encoding="utf-8")
    assert transport_choice(load_plan(str(path), PlanOptions())) == choice


NEEDS_JAR_AND_UPLOAD = """scenarios:
  - flow:
      - get: {url: /, cookie: {sid: x}}
      - post: {url: /, formData: {f: {fromFile: ./plan.yml, contentType: text/yaml}}}
"""


def test_cookies_and_uploads_run_on_the_fast_transport(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    config = PLAIN.format(target="http://127.0.0.1:9", http="  http: {transport: fast}\n")
    path.write_text(config + "  defaults: {cookie: {theme: dark}}\n" + NEEDS_JAR_AND_UPLOAD)
    assert transport_choice(load_plan(str(path), PlanOptions())) == "fast"


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


def interim_then_final(conn: socket.socket) -> None:
    """Keep-alive: /hints gets a 103 Early Hints, then (a moment later) a 500 with a
    body; /continue gets a 100 Continue and its 200 in one write; /big-header a 20 KB
    header line; anything else a 200."""
    with conn:
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            path = head.split(b" ")[1]
            if path == b"/hints":
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
                time.sleep(0.05)
                conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 8\r\n\r\nfailed!!")
            elif path == b"/continue":
                conn.sendall(
                    b"HTTP/1.1 100 Continue\r\n\r\n"
                    b'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{"id": 7}'
                )
            elif path == b"/big-header":
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nX-Big: "
                    + b"x" * 20_000
                    + b"\r\nContent-Length: 2\r\n\r\nok"
                )
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


INTERIM = """
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 1}}]
  http: {{transport: {transport}, timeout: 2}}
scenarios:
  - flow:
      - get: {{url: /hints}}
      - get: {{url: /after, capture: {{regexp: "ok", as: said}}}}
      - get: {{url: /continue, capture: {{json: "$.id", as: id}}}}
      - get: {{url: "/after?id={{{{ id }}}}"}}
"""


def test_interim_1xx_responses_are_skipped_alike(tmp_path: Path) -> None:
    """A 1xx before the final response is not the response: counting it would put every
    later response of the connection on the wrong request."""
    with raw_tcp_server(interim_then_final) as target:
        found = {t: compared(run(tmp_path, INTERIM, t, target=target)) for t in TRANSPORTS}
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["http.codes.500"] == 1
    assert found["fast"]["http.codes.200"] == 3  # the capture found the id: 4 requests ran
    assert "http.codes.103" not in found["fast"] and "http.codes.100" not in found["fast"]


def test_an_oversized_header_is_the_same_error_alike(tmp_path: Path) -> None:
    with raw_tcp_server(interim_then_final) as target:
        found = {
            t: compared(run(tmp_path, FAULT, t, target=target, path="/big-header"))
            for t in TRANSPORTS
        }
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["errors.EPROTO"] == 1
