"""The Pushgateway output against gateways that misbehave, on 127.0.0.1: an error
answer that never ends, a redirect, a gateway that never answers at the run's end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.servers import ServerThread, raw_tcp_server
from tests.test_live_outputs import SECRET, quick_periods, run, write_plan

__all__ = ["quick_periods"]  # a fixture, used by name

# What a hostile gateway streams in its error answer, chunk after chunk: a terminal
# escape, line breaks, a bell and the run's secret, so that each must be dealt with.
HOSTILE_CHUNK = f"\x1b[2J\x1b[31mboom {SECRET}\r\nfake: line\x07 ".encode() * 2048
# The most a hostile answer streams before it gives up: far more than any client reads
# whole within a push's (shortened) timeout, yet bounded.
HOSTILE_LIMIT_BYTES = 512 << 20
# A run stopped by SIGINT must exit within this; the point is that it exits at all.
EXIT_WAIT_SECONDS = 60


class EndlessErrorGateway(ServerThread):
    """Answers each push 500 with a body that never ends (up to HOSTILE_LIMIT_BYTES)."""

    def __init__(self) -> None:
        self.sent: list[int] = []  # bytes streamed to each push before it went away
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.answer)
        super().__init__(app)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=500)
        await response.prepare(request)
        sent = 0
        try:
            while sent < HOSTILE_LIMIT_BYTES:
                await response.write(HOSTILE_CHUNK)
                sent += len(HOSTILE_CHUNK)
        except (ConnectionError, RuntimeError):
            pass  # the client went away, as it should
        self.sent.append(sent)
        return response


class RedirectingGateway(ServerThread):
    """Answers a push with a redirect; counts what it sees, by path."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.paths: list[str] = []
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.answer)
        super().__init__(app)

    async def answer(self, request: web.Request) -> web.Response:
        await request.read()
        self.paths.append(request.path)
        if request.path.startswith("/elsewhere"):
            return web.Response(status=200)
        return web.Response(status=self.status, headers={"Location": "/elsewhere"})


def test_an_error_answer_is_read_only_in_part_and_told_escaped_and_masked(
    tmp_path: Path, fresh_server: ServerThread, quick_periods: None
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    with EndlessErrorGateway() as gateway:
        result, counters = run(tmp_path, plan, "--out", f"prometheus-push={gateway.url}")
    assert result.exit_code == 0, result.output + result.stderr
    told = result.output + result.stderr
    # Read whole, the answer would have taken longer than a push may (a timeout).
    assert "warning: prometheus-push http://127.0.0.1:" in told
    assert "HTTP 500: " in told, told
    assert "boom" in told and "no answer in time" not in told
    assert "\x1b" not in told and "\x07" not in told and "\r" not in told
    assert SECRET not in told
    assert counters["yamlload.output_errors"] >= 1
    assert gateway.sent and max(gateway.sent) < HOSTILE_LIMIT_BYTES


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_is_not_followed_and_is_an_output_error(
    tmp_path: Path, fresh_server: ServerThread, quick_periods: None, status: int
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    with RedirectingGateway(status) as gateway:
        result, counters = run(tmp_path, plan, "--out", f"prometheus-push={gateway.url}")
    assert result.exit_code == 0, result.output + result.stderr
    assert gateway.paths, "no push came"
    assert not any(path.startswith("/elsewhere") for path in gateway.paths), gateway.paths
    assert f"HTTP {status}" in result.output + result.stderr
    assert counters["yamlload.output_errors"] >= 1


@pytest.fixture
def silent_gateway() -> Iterator[tuple[str, threading.Event]]:
    """A gateway that takes connections and never answers: its URL, and an event set
    once the first push has come in."""
    pushed = threading.Event()

    def hang(conn: socket.socket) -> None:
        conn.settimeout(EXIT_WAIT_SECONDS)
        try:
            while data := conn.recv(65536):
                if b"PUT " in data:
                    pushed.set()
        except OSError:
            pass
        finally:
            conn.close()

    with raw_tcp_server(hang) as url:
        yield url, pushed


def test_a_gateway_that_never_answers_does_not_hold_up_the_exit_after_sigint(
    tmp_path: Path, fresh_server: ServerThread, silent_gateway: tuple[str, threading.Event]
) -> None:
    """The run's end waits for the last push a bounded time (FINAL_PUSH_TIMEOUT_SECONDS,
    once, however many pushes are still going): it exits, writes its report and counts
    the push that did not land. Periods are shortened in the child so that a push is
    already hanging when the signal comes."""
    url, pushed = silent_gateway
    plan = write_plan(tmp_path, fresh_server.url)
    plan.write_text(
        plan.read_text(encoding="utf-8").replace("duration: 3,", "duration: 120,"),
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    child = (
        "import sys; import yamlload.live.pushgateway as gateway; "
        "gateway.PERIOD_SECONDS = 0.5; "
        "from yamlload.cli.app import cli; sys.exit(cli())"
    )
    command = [sys.executable, "-c", child, "run", str(plan), "-o", str(report)]
    command += ["--out", f"prometheus-push={url}"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert pushed.wait(EXIT_WAIT_SECONDS), "no push came"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=EXIT_WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["run"]["stoppedBy"] == "SIGINT"
    assert data["aggregate"]["counters"]["yamlload.output_errors"] >= 1
    assert "warning: prometheus-push http://127.0.0.1:" in out + err
