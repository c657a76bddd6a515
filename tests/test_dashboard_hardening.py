"""The dashboard's server against hostile clients, in a real `yamlload run`: malformed
requests leave nothing on standard error, and a request naming another host (DNS
rebinding: a web page whose name now points here) is refused."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.servers import ServerThread
from tests.test_dashboard import RUN_TIMEOUT, start_cli_run, write_plan
from tests.test_dashboard_limits import PLAN, driven
from yamlload import PlanOptions, load_plan
from yamlload.live.dashboard import Dashboard
from yamlload.plan.secrets import Redactor

MALFORMED = (
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # TLS to plain HTTP
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 70000 + b"\r\n\r\n",  # a header too long
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
)


def send(port: int, data: bytes) -> bytes:
    """`data` to the dashboard; whatever it answers before closing (or a second)."""
    with socket.create_connection(("127.0.0.1", port), timeout=RUN_TIMEOUT) as sock:
        sock.settimeout(1.0)
        try:
            sock.sendall(data)
            return sock.recv(65536)
        except OSError:
            return b""  # reset or no answer: either is fine, as long as nothing is printed


def test_malformed_requests_print_nothing(tmp_path: Path, fresh_server: ServerThread) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 3)
    process, url = start_cli_run(plan, "-q", "-o", str(tmp_path / "r.json"))
    port = int(url.rsplit(":", 1)[1].strip("/"))
    try:
        answers = [send(port, data) for data in MALFORMED]
        _, said = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, said
    assert any(b" 400 " in a[:16] for a in answers), answers  # told, not just dropped
    assert "Traceback" not in said and "Error handling request" not in said, said


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST.:{port}", 200),
        ("[::1]:{port}", 200),
        ("127.0.0.1:8000", 200),  # a tunnel to another local port (ssh -L 8000:...)
        ("attacker.example:{port}", 421),  # DNS rebinding: a page whose name points here
        ("attacker.example", 421),
        ("127.0.0.1.attacker.example:{port}", 421),
        ("", 421),
        ("[::1", 421),
    ],
)
def test_only_requests_naming_this_dashboard_are_answered(
    tmp_path: Path, host: str, status: int
) -> None:
    async def ask() -> list[int]:
        async with driven(tmp_path) as run, aiohttp.ClientSession() as session:
            statuses = []
            for route in ("", "events", "metrics", "state.json"):
                headers = {"Host": host.format(port=run.port)}
                async with session.get(run.url + route, headers=headers) as response:
                    statuses.append(response.status)
            return statuses

    assert asyncio.run(asyncio.wait_for(ask(), RUN_TIMEOUT)) == [status] * 4


def test_a_request_with_no_host_is_answered(tmp_path: Path) -> None:
    """HTTP/1.0 needs no Host, and a browser always sends one: nothing to rebind."""

    async def ask() -> bytes:
        async with driven(tmp_path) as run:
            reader, writer = await asyncio.open_connection("127.0.0.1", run.port)
            writer.write(b"GET /state.json HTTP/1.0\r\n\r\n")
            answer = await reader.read()
            writer.close()
            return answer

    assert asyncio.run(asyncio.wait_for(ask(), RUN_TIMEOUT)).startswith(b"HTTP/1.0 200")


def test_off_loopback_any_name_that_reaches_it_is_answered(tmp_path: Path) -> None:
    """Put on 0.0.0.0 on purpose (and warned of), the dashboard is reachable by any name:
    a DNS name, a Kubernetes Service. Only a loopback one checks names."""
    path = tmp_path / "plan.yml"
    path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(str(path), PlanOptions())
    exposed = Dashboard(plan, [], Redactor(), "0.0.0.0", 0, (), lambda line: None)
    assert exposed.named("loadgen.corp.example:5665")
    assert exposed.named("loadgen-svc")
    private = Dashboard(plan, [], Redactor(), "127.0.0.1", 0, (), lambda line: None)
    assert not private.named("loadgen.corp.example:5665")
