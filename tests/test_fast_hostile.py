"""The fast transport against what an adversarial review threw at it: responses that
arrive together or unasked, endless headers, multi-member gzip, HEAD on keep-alive,
credentials in URLs, requests a hook made unsendable. Each case runs on both transports
and must count the same outcome (the aiohttp one is the reference)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ServerThread, raw_tcp_server
from tests.test_transports import SEEN, compared, recording_app
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan

TRANSPORTS = ("fast", "aiohttp")
PLAN = """config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 1}}]
  http: {{transport: {transport}, timeout: 2}}
{extra}scenarios:
  - flow: {flow}
"""
MEMBERS = gzip.compress(b"abcd") + gzip.compress(b"efgh")


class Hostile:
    """A keep-alive server answering by path; counts the connections it accepted."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()

    def __call__(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections += 1
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                with self.lock:
                    self.requests += 1
                method, path = head.split(b" ")[:2]
                if not self.answer(conn, method, path):
                    return

    def answer(self, conn: socket.socket, method: bytes, path: bytes) -> bool:
        if path == b"/twice":  # two responses in one write: the second was never asked for
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                b"HTTP/1.1 500 Evil\r\nContent-Length: 5\r\n\r\nEVIL!"
            )
        elif path == b"/hints-split":  # 103 and the 200's head together, its body later
            conn.sendall(
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
            )
            time.sleep(0.1)
            conn.sendall(b'{"id": 7}')
        elif path == b"/endless-value":  # a header value that never ends
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: ")
            try:
                for _ in range(400):  # at most 25 MB, so the test ends whatever happens
                    conn.sendall(b"a" * 65536)
            except OSError:
                pass
            return False
        elif path == b"/members":
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
                + str(len(MEMBERS)).encode()
                + b"\r\n\r\n"
                + MEMBERS
            )
        elif method == b"HEAD":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True


@pytest.fixture
def hostile() -> Iterator[tuple[str, Hostile]]:
    server = Hostile()
    with raw_tcp_server(server) as url:
        yield url, server


def run(tmp_path: Path, transport: str, target: str, flow: str, extra: str = "") -> Summary:
    path = tmp_path / f"{transport}.yml"
    text = PLAN.format(target=target, transport=transport, flow=flow, extra=extra)
    path.write_text(text, encoding="utf-8")
    plan = load_plan(str(path), PlanOptions())
    return summarize(plan, run_plan(plan, RunOptions(seed=1)), "t")


def both(tmp_path: Path, target: str, flow: str, extra: str = "") -> dict[str, dict[str, int]]:
    found = {t: compared(run(tmp_path, t, target, flow, extra)) for t in TRANSPORTS}
    assert found["fast"] == found["aiohttp"], found
    return found


def test_a_response_nobody_asked_for_is_never_taken_for_the_next(
    tmp_path: Path, hostile: tuple[str, Hostile]
) -> None:
    url, _ = hostile
    flow = '[{get: {url: /twice, capture: {regexp: "ok", as: a}}}, {get: {url: /after}}]'
    found = both(tmp_path, url, flow)
    assert found["fast"]["http.codes.200"] == 2 and "http.codes.500" not in found["fast"]


def test_an_interim_response_with_the_final_head_in_one_write(
    tmp_path: Path, hostile: tuple[str, Hostile]
) -> None:
    url, server = hostile
    flow = '[{get: {url: /hints-split, capture: {json: "$.id", as: id}}}, {get: {url: "/ok?{{ id }}"}}]'
    found = both(tmp_path, url, flow)
    assert found["fast"]["http.codes.200"] == 2 and found["fast"]["http.requests"] == 2
    assert server.requests == 4  # two per transport: each one counted


def test_an_endless_header_is_cut_off_alike(tmp_path: Path, hostile: tuple[str, Hostile]) -> None:
    url, _ = hostile
    found = both(tmp_path, url, "[{get: {url: /endless-value}}]")
    assert found["fast"]["errors.EPROTO"] == 1


def test_every_gzip_member_is_read_alike(tmp_path: Path, hostile: tuple[str, Hostile]) -> None:
    url, _ = hostile
    flow = '[{get: {url: /members, capture: {regexp: "abcdefgh", as: all}}}]'
    found = both(tmp_path, url, flow)
    assert found["fast"]["http.downloaded_bytes"] == 8
    assert (
        found["fast"]["http.codes.200"] == 1
        and "errors.Failed capture or match" not in found["fast"]
    )


def test_head_requests_keep_their_connection_alike(
    tmp_path: Path, hostile: tuple[str, Hostile]
) -> None:
    url, server = hostile
    flow = "[{head: {url: /h}}, {head: {url: /h}}, {head: {url: /h}}, {get: {url: /g}}]"
    for transport in TRANSPORTS:
        before = server.connections
        summary = run(tmp_path, transport, url, flow)
        assert summary.counter("http.codes.200") == 4
        assert server.connections - before == 1, transport


def test_credentials_in_the_url_are_sent_alike(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    for transport in TRANSPORTS:
        with ServerThread(recording_app()) as server:
            target = server.url.replace("http://", "http://alice:s3cret@")
            assert (
                run(tmp_path, transport, target, "[{get: {url: /echo}}]").counter("http.codes.200")
                == 1
            )
            assert server.app is not None
            seen[transport] = dict(server.app[SEEN][0][2]).get("authorization")
    assert seen["fast"] == seen["aiohttp"] == "Basic YWxpY2U6czNjcmV0"


HOOKS = """
def inject(request, context, events=None, done=None):
    request["method"] = "GET /evil HTTP/1.1\\r\\nX-Inj: 1\\r\\n\\r\\nGET"


def unsendable(request, context, events=None, done=None):
    request["json"] = {"a": object()}
"""


@pytest.mark.parametrize("hook", ["inject", "unsendable"])
def test_a_request_a_hook_made_unsendable_is_a_request_error_alike(
    tmp_path: Path, hostile: tuple[str, Hostile], hook: str
) -> None:
    url, server = hostile
    (tmp_path / "hooks.py").write_text(HOOKS, encoding="utf-8")
    flow = f"[{{post: {{url: /p, beforeRequest: {hook}}}}}, {{get: {{url: /after}}}}]"
    found = both(tmp_path, url, flow, "  processor: hooks.py\n")
    assert found["fast"]["errors.EINVALIDREQUEST"] == 1
    assert server.requests == 0  # nothing unsendable reached the wire


def test_an_impossible_port_is_the_same_error_alike(tmp_path: Path) -> None:
    found = both(tmp_path, "http://127.0.0.1:99999", "[{get: {url: /}}]")
    assert found["fast"]["errors.EINVALIDURL"] == 1


def bare_lf(conn: socket.socket) -> None:
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")


def test_lines_ending_in_a_bare_lf_are_read_alike(tmp_path: Path) -> None:
    with raw_tcp_server(bare_lf) as url:
        found = both(tmp_path, url, "[{get: {url: /}}]")
    assert found["fast"]["http.codes.200"] == 1
