"""The fast transport against the aiohttp one for what it used to leave to aiohttp: TLS,
config.http.pool and maxSockets, extendedMetrics, a test's fake resolver. Servers on
127.0.0.1 count the connections they were sent requests on; both transports must give
the same counters, the same requests and, where a limit says so, as few connections."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from tests.helpers import REPO
from tests.servers import ServerThread, raw_tcp_server
from tests.test_engine import FailingResolver
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import RunOptions, run_plan, transport_choice
from yamlload.runtime.http.fast_pool import Pool
from yamlload.runtime.http.fast_response import TIMED_OUT, Reply

trustme = pytest.importorskip("trustme")

TRANSPORTS = ("aiohttp", "fast")
COMPARED = ("errors.", "http.codes.", "http.requests", "http.responses", "http.downloaded_bytes")
PEERS = web.AppKey("peers", list)
FAKE_HOST = "yamlload.test"  # a name no real DNS answers: only the fake resolver knows it


def peers_app() -> web.Application:
    """Records each request with the client's port: one port, one connection."""
    app = web.Application()
    app[PEERS] = []

    async def answer(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        app[PEERS].append((request.method, request.path_qs, peer[1] if peer else None))
        await asyncio.sleep(int(request.match_info.get("ms", "0")) / 1000)
        return web.Response(text="ok")

    app.add_routes([web.get("/ok", answer), web.get("/sleep/{ms}", answer)])
    return app


def server_context(cert: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@pytest.fixture(scope="module")
def authority() -> Any:
    return trustme.CA()


@pytest.fixture
def tls_server(authority: Any) -> Iterator[ServerThread]:
    """Its certificate names 127.0.0.1 and FAKE_HOST, from a CA no one trusts."""
    context = server_context(authority.issue_cert("127.0.0.1", FAKE_HOST))
    with ServerThread(peers_app(), ssl_context=context) as running:
        yield running


@pytest.fixture
def self_signed_server(authority: Any, tmp_path: Path) -> Iterator[ServerThread]:
    """Serves the CA's own certificate: signed by itself."""
    pem = tmp_path / "self.pem"
    pem.write_bytes(authority.private_key_pem.bytes() + authority.cert_pem.bytes())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pem))
    with ServerThread(peers_app(), ssl_context=context) as running:
        yield running


@pytest.fixture
def http_server() -> Iterator[ServerThread]:
    with ServerThread(peers_app()) as running:
        yield running


class LoopbackResolver(AbstractResolver):
    """Every name is 127.0.0.1: a name resolved without real DNS."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


def plan_text(transport: str, users: int, http: str, flow: str, tls: str = "") -> str:
    return (
        "config:\n"
        f"  phases: [{{duration: 1, arrivalCount: {users}}}]\n"
        f"  http: {{transport: {transport}, timeout: 2{http}}}\n"
        f"{tls}"
        f"scenarios:\n  - flow: {flow}\n"
    )


def run(tmp_path: Path, text: str, target: str, **options: Any) -> Summary:
    path = tmp_path / "plan.yml"
    path.write_text(text, encoding="utf-8")
    plan = load_plan(str(path), PlanOptions(target=target))
    assert transport_choice(plan) == plan.http.transport
    return summarize(plan, run_plan(plan, RunOptions(seed=5, **options)), "test")


def compared(summary: Summary) -> dict[str, int]:
    counters = summary.to_json()["aggregate"]["counters"]
    return {k: v for k, v in counters.items() if k.startswith(COMPARED)}


def both(
    tmp_path: Path, server: ServerThread, users: int, http: str, flow: str, **kw: Any
) -> dict[str, tuple[dict[str, int], list[Any], Summary]]:
    """Each transport's counters, the requests the server saw (method, path, port), and
    the summary; the server forgets between the two runs."""
    found = {}
    target = kw.pop("target", server.url)
    tls = kw.pop("tls", "")
    for transport in TRANSPORTS:
        assert server.app is not None
        server.app[PEERS].clear()
        text = plan_text(transport, users, http, flow, tls)
        summary = run(tmp_path, text, target, **kw)
        found[transport] = (compared(summary), list(server.app[PEERS]), summary)
    return found


def requests_seen(peers: list[Any]) -> list[tuple[str, str]]:
    return sorted((method, path) for method, path, _ in peers)


def connections(peers: list[Any]) -> int:
    return len({port for _, _, port in peers})


INSECURE = "  tls: {rejectUnauthorized: false}\n"
TWO_GETS = "[{get: {url: /sleep/20}}, {get: {url: /ok}}]"


# ---- TLS


@pytest.mark.parametrize("how", ["plan", "--insecure"])
def test_an_untrusted_certificate_is_accepted_when_told_alike(
    tmp_path: Path, tls_server: ServerThread, how: str
) -> None:
    tls, options = (INSECURE, {}) if how == "plan" else ("", {"insecure": True})
    found = both(tmp_path, tls_server, 3, "", TWO_GETS, tls=tls, **options)
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["http.codes.200"] == 6
    assert requests_seen(found["fast"][1]) == requests_seen(found["aiohttp"][1])
    # each user kept its one connection for both its requests
    assert connections(found["fast"][1]) == connections(found["aiohttp"][1]) == 3


def test_an_untrusted_certificate_is_the_same_error_on_both(
    tmp_path: Path, tls_server: ServerThread
) -> None:
    found = both(tmp_path, tls_server, 2, "", TWO_GETS)
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["errors.UNABLE_TO_GET_ISSUER_CERT_LOCALLY"] == 2
    assert found["fast"][1] == found["aiohttp"][1] == []


def test_a_self_signed_certificate_is_the_same_error_on_both(
    tmp_path: Path, self_signed_server: ServerThread
) -> None:
    found = both(tmp_path, self_signed_server, 2, "", TWO_GETS)
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["errors.DEPTH_ZERO_SELF_SIGNED_CERT"] == 2


def test_an_absolute_https_url_in_an_http_plan(
    tmp_path: Path, http_server: ServerThread, tls_server: ServerThread
) -> None:
    flow = f"[{{get: {{url: /ok}}}}, {{get: {{url: '{tls_server.url}/ok'}}}}]"
    found = both(tmp_path, http_server, 2, "", flow, tls=INSECURE)
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["http.codes.200"] == 4


@pytest.fixture
def verified_servers(authority: Any, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """Three servers under a CA the run is told to trust: one right, one expired, one
    for another name."""
    yesterday = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    certs = {
        "good": authority.issue_cert("127.0.0.1"),
        "expired": authority.issue_cert(
            "127.0.0.1", not_before=yesterday - dt.timedelta(days=30), not_after=yesterday
        ),
        "other": authority.issue_cert("other.example"),
    }
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    servers = {name: ServerThread(peers_app(), server_context(c)) for name, c in certs.items()}
    for server in servers.values():
        server.__enter__()
    try:
        yield {name: s.url for name, s in servers.items()}, ca_file
    finally:
        for server in servers.values():
            server.__exit__()


def test_certificates_are_verified_alike(
    tmp_path: Path, verified_servers: tuple[dict[str, str], Path]
) -> None:
    """In a process of its own: the CA is trusted through SSL_CERT_FILE, which the
    default context reads when it is made (aiohttp's is made at import)."""
    urls, ca_file = verified_servers
    flow = "\n      - parallel:\n" + "".join(
        f"          - get: {{url: '{urls[name]}/ok'}}\n" for name in ("good", "expired", "other")
    )
    found = {}
    for transport in TRANSPORTS:
        plan = tmp_path / f"{transport}.yml"
        plan.write_text(plan_text(transport, 1, "", flow), encoding="utf-8")
        report = tmp_path / f"{transport}.json"
        command = ["run", "-q", str(plan), "-t", urls["good"], "-o", str(report)]
        done = subprocess.run(
            [sys.executable, "-m", "yamlload", *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "SSL_CERT_FILE": str(ca_file)},
            check=False,
        )
        counters = json.loads(report.read_text())["aggregate"]["counters"]
        found[transport] = {k: v for k, v in counters.items() if k.startswith(COMPARED)}
        assert found[transport].get("http.codes.200") == 1, done.stderr
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["errors.CERT_HAS_EXPIRED"] == 1
    assert found["fast"]["errors.ERR_TLS_CERT_ALTNAME_INVALID"] == 1


# ---- pools


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_pool_of_two_carries_every_user_alike(
    tmp_path: Path, http_server: ServerThread, tls_server: ServerThread, scheme: str
) -> None:
    server = http_server if scheme == "http" else tls_server
    found = both(tmp_path, server, 10, ", pool: 2", TWO_GETS, tls=INSECURE)
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["http.codes.200"] == 20
    assert requests_seen(found["fast"][1]) == requests_seen(found["aiohttp"][1])
    for transport in TRANSPORTS:
        assert 1 <= connections(found[transport][1]) <= 2, transport


GROUP = "{parallel: [{get: {url: /sleep/30}}, {get: {url: /ok}}, {get: {url: /sleep/10}}]}"


@pytest.mark.parametrize(("http", "most"), [(", maxSockets: 1", 1), ("", 3)])
def test_max_sockets_limits_each_users_connections_alike(
    tmp_path: Path, http_server: ServerThread, http: str, most: int
) -> None:
    """Three parallel requests: over one connection with maxSockets: 1, three without."""
    flow = f"[{GROUP}, {GROUP}]"
    found = both(tmp_path, http_server, 2, http, flow)
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["http.codes.200"] == 12
    for transport in TRANSPORTS:
        by_user = connections(found[transport][1])
        assert by_user == 2 * most, transport  # each user's own, kept for its second group


def test_a_full_pool_times_out_a_waiting_request() -> None:
    async def scenario() -> tuple[object, object]:
        pool = Pool(1)
        origin = ("http", "127.0.0.1", 9)
        held = await pool.acquire(origin, time.perf_counter() + 5)
        late = await pool.acquire(origin, time.perf_counter() + 0.01)
        pool.release(origin, None)
        return held, late

    held, late = asyncio.run(scenario())
    assert held is None  # a slot, and no idle connection: the caller opens one
    assert isinstance(late, Reply) and late.error == TIMED_OUT


class Idle:
    """A stand-in for a connection: the pool reads `closed`, closes its transport."""

    closed = False
    transport = None


def test_pool_waiters_are_served_first_come_first_served() -> None:
    async def scenario() -> list[str]:
        pool = Pool(1)
        origin = ("http", "127.0.0.1", 9)
        order: list[str] = []
        conn = Idle()
        await pool.acquire(origin, time.perf_counter() + 5)

        async def wait(name: str) -> None:
            got = await pool.acquire(origin, time.perf_counter() + 5)
            order.append(name)
            assert got is conn
            await asyncio.sleep(0)
            pool.release(origin, got)  # type: ignore[arg-type]

        tasks = [asyncio.create_task(wait(name)) for name in "abc"]
        await asyncio.sleep(0)
        pool.release(origin, conn)  # type: ignore[arg-type]
        await asyncio.gather(*tasks)
        # the one connection came back to the pool, idle, its slot free
        assert await pool.acquire(origin, time.perf_counter() + 5) is conn
        return order

    assert asyncio.run(scenario()) == ["a", "b", "c"]


# ---- extended metrics and the resolver


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connection_timings_alike(
    tmp_path: Path, http_server: ServerThread, tls_server: ServerThread, scheme: str
) -> None:
    server = http_server if scheme == "http" else tls_server
    found = both(tmp_path, server, 3, ", extendedMetrics: true", TWO_GETS, tls=INSECURE)
    assert found["fast"][0] == found["aiohttp"][0]
    opened, other = ("http.tcp", "http.tls") if scheme == "http" else ("http.tls", "http.tcp")
    for transport in TRANSPORTS:
        summary = found[transport][2]
        assert summary.histogram(opened).count == 3, transport  # one connection per user
        assert summary.histogram(other).count == 0, transport
        assert summary.histogram("http.dns").count == 0, transport  # an IP: no lookup


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_name_resolved_by_the_fake_resolver_alike(
    tmp_path: Path, http_server: ServerThread, tls_server: ServerThread, scheme: str
) -> None:
    server = http_server if scheme == "http" else tls_server
    target = server.url.replace("127.0.0.1", FAKE_HOST)
    resolvers = {t: LoopbackResolver() for t in TRANSPORTS}
    found = {}
    for transport in TRANSPORTS:
        assert server.app is not None
        server.app[PEERS].clear()
        text = plan_text(transport, 2, ", extendedMetrics: true", TWO_GETS, INSECURE)
        summary = run(tmp_path, text, target, resolver=resolvers[transport])
        found[transport] = (compared(summary), summary)
        assert summary.histogram("http.dns").count == 2, transport
    assert found["fast"][0] == found["aiohttp"][0]
    assert found["fast"][0]["http.codes.200"] == 4
    assert resolvers["fast"].asked == [FAKE_HOST] * 2


def test_a_failing_resolver_is_enotfound_alike(tmp_path: Path) -> None:
    found = {}
    for transport in TRANSPORTS:
        text = plan_text(transport, 2, "", "[{get: {url: /}}]")
        summary = run(tmp_path, text, f"https://{FAKE_HOST}:8443", resolver=FailingResolver())
        found[transport] = compared(summary)
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["errors.ENOTFOUND"] == 2


def test_a_handshake_that_never_ends_times_out_alike(tmp_path: Path) -> None:
    """The server accepts the TCP connection and never answers the TLS hello: opening
    the connection is bounded by config.http.timeout, and the run goes on."""
    hold = threading.Event()
    found = {}
    with raw_tcp_server(lambda conn: (hold.wait(10), conn.close())) as url:
        for transport in TRANSPORTS:
            text = plan_text(transport, 2, "", "[{get: {url: /}}]").replace(
                "timeout: 2", "timeout: 0.3"
            )
            summary = run(tmp_path, text, url.replace("http://", "https://"))
            found[transport] = compared(summary)
        hold.set()
    assert found["fast"] == found["aiohttp"]
    assert found["fast"]["errors.ETIMEDOUT"] == 2
