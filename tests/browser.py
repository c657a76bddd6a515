"""Drive Debian's headless Chromium over the DevTools protocol (aiohttp's websocket
client; no extra dependency): load a page, collect console errors, run JavaScript,
take a screenshot."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.next_id = 0
        self.errors: list[str] = []
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        await self.socket.send_str(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads((await self.socket.receive(timeout=30)).data)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self._note(message)

    def _note(self, message: dict[str, Any]) -> None:
        self.events.append(message)
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(json.dumps(params.get("args")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))

    async def wait_for(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self._note(json.loads((await self.socket.receive(timeout=30)).data))

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    async def screenshot(
        self, path: Path, width: int = 1200, max_height: int | None = None
    ) -> None:
        height = int(await self.evaluate("document.documentElement.scrollHeight"))
        if max_height:
            height = min(height, max_height)
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = await self.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )
        path.write_bytes(base64.b64decode(shot["data"]))


async def open_page(
    html_file: Path | str, width: int = 1200, height: int = 900
) -> tuple[Page, subprocess.Popen[bytes], aiohttp.ClientSession]:
    """Open a file, or a URL given as a string (a live page)."""
    binary = chromium()
    assert binary, "chromium is not installed"
    profile = tempfile.mkdtemp(prefix="yamlload-chromium-")
    process = subprocess.Popen(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    port = None
    for _ in range(200):
        line = process.stderr.readline().decode("utf-8", "replace")
        found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if found:
            port = int(found.group(1))
            break
    assert port, "chromium did not announce its DevTools port"
    session = aiohttp.ClientSession()
    async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
        targets = await response.json()
    page_target = next(t for t in targets if t.get("type") == "page")
    socket = await session.ws_connect(
        page_target["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024
    )
    page = Page(socket)
    for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
        await page.call(domain)
    url = html_file if isinstance(html_file, str) else html_file.resolve().as_uri()
    await page.call("Page.navigate", url=url)
    await page.wait_for("Page.loadEventFired")
    return page, process, session


async def close(
    page: Page, process: subprocess.Popen[bytes], session: aiohttp.ClientSession
) -> None:
    await page.socket.close()
    await session.close()
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
