"""`run --demo-target` with an Artillery-style ws plan (issue 19, review): the plan's
target path (`ws://127.0.0.1:8000/ws/echo`, no connect step) is kept when the demo's
address replaces its scheme, host and port; `yamlload target --help` lists the ws routes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli

PLAN = """config:
  target: "{target}"
  phases: [{{duration: 1, arrivalCount: 2}}]
scenarios:
  - engine: ws
    flow:
      - send: {{payload: {{n: 1}}, capture: {{json: $.n, as: n}}}}
"""


def run_demo(tmp_path: Path, target: str, *extra: str) -> dict:
    plan = tmp_path / "plan.yml"
    plan.write_text(PLAN.format(target=target), encoding="utf-8")
    report = tmp_path / "report.json"
    result = run_cli("run", "-q", "--demo-target", *extra, str(plan), "-o", str(report))
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(report.read_text())


def test_the_demo_target_keeps_a_ws_target_path(tmp_path: Path) -> None:
    report = run_demo(tmp_path, "ws://127.0.0.1:8000/ws/echo")
    counters = report["aggregate"]["counters"]
    assert counters["vusers.completed"] == 2, counters
    assert counters["websocket.messages_received"] == 2
    target = report["plan"]["target"]
    assert target.endswith("/ws/echo") and ":8000" not in target


def test_the_demo_target_keeps_the_path_of_a_target_given_with_t(tmp_path: Path) -> None:
    report = run_demo(tmp_path, "ws://example.test/nowhere", "-t", "wss://h.test:1/ws/echo")
    assert report["aggregate"]["counters"]["vusers.completed"] == 2


def test_target_help_lists_the_ws_routes() -> None:
    result = run_cli("target", "--help")
    assert "/ws/echo" in result.stdout and "/ws/chat/" in result.stdout


def test_a_chat_member_that_never_reads_does_not_stall_its_room() -> None:
    """Member A joins and never reads; member B says 300 messages of 64 KiB (more than
    the socket buffers hold): B hears every one back, as A is dropped when it cannot
    keep up. Bounded: each receive waits at most 30 s."""
    import asyncio
    import base64
    import os

    import aiohttp

    from tests.servers import ServerThread
    from yamlload.demo_target import make_app

    async def main(base: str) -> int:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws/chat/stall HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)  # then never reads
        heard = 0
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{base}/ws/chat/stall") as ws,
        ):
            await asyncio.wait_for(ws.receive(), 30)  # joined
            text = "x" * 65536
            for _ in range(300):
                await ws.send_str(text)
                message = await asyncio.wait_for(ws.receive(), 30)
                heard += message.type == aiohttp.WSMsgType.TEXT
        writer.close()
        return heard

    with ServerThread(make_app()) as server:
        assert asyncio.run(main(server.url)) == 300
