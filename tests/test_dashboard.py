"""The dashboard (`--dashboard`): its page, /events and /metrics fetched during real
runs on 127.0.0.1, their numbers against the final report, and the run unharmed by it
(a port in use stops the run before traffic; a page that never reads slows nothing)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import browser
from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from tests.test_exposition import parse
from yamlload import PlanOptions, load_plan
from yamlload.checks.parse import checks_for_run
from yamlload.live import dashboard as dashboard_module
from yamlload.live.board import MAX_POINTS, Board
from yamlload.live.dashboard import Client, Dashboard, is_loopback
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.live import LiveSeries, Second
from yamlload.plan.secrets import Redactor
from yamlload.results.run import Progress
from yamlload.results.summary import summarize
from yamlload.runtime.engine import RunOptions, run_plan

PLAN = """config:
  target: {target}
  phases: [{{name: steady, duration: {seconds}, arrivalRate: 20}}]
scenarios:
  - flow: [{{get: {{url: /ok}}}}, {{get: {{url: /sleep/5, name: "slow one"}}}}]
"""
# Every wait in these tests ends: a run of a few seconds is given this long at most.
RUN_TIMEOUT = 120.0
URL_LINE = re.compile(r"^Dashboard: (http://127\.0\.0\.1:\d+/)$", re.MULTILINE)


def write_plan(tmp_path: Path, target: str, seconds: int, text: str = PLAN) -> Path:
    path = tmp_path / "plan.yml"
    path.write_text(text.format(target=target, seconds=seconds), encoding="utf-8")
    return path


def requests_in(metrics_text: str) -> float:
    _, samples = parse(metrics_text)
    return sum(v for name, _, v in samples if name == "yamlload_http_requests_total")


class OnItsOwnThread:
    """A client of the dashboard on a thread and loop of its own (the run keeps its
    loop to itself), started with the URL the dashboard says when it starts."""

    def __init__(self, script: Callable[[str], Awaitable[Any]]) -> None:
        self.script = script
        self.url = ""
        self.told = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def say(self, line: str) -> None:
        if line.startswith("Dashboard: "):
            self.url = line.removeprefix("Dashboard: ")
            self.told.set()

    def _main(self) -> None:
        if not self.told.wait(RUN_TIMEOUT):
            return
        try:
            self.result = asyncio.run(asyncio.wait_for(self.script(self.url), RUN_TIMEOUT))
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> Any:
        self.told.set()  # a run that never started its dashboard: nothing to wait for
        self.thread.join(RUN_TIMEOUT)
        if self.error is not None:
            raise self.error
        return self.result


def dashboard_for(plan: Any, client: OnItsOwnThread, ensure: tuple[str, ...] = ()) -> Dashboard:
    checks = checks_for_run(plan, ensure)
    reports = ("/reports/run.json",)
    return Dashboard(plan, checks, Redactor.for_plan(plan), "127.0.0.1", 0, reports, client.say)


async def read_events(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    """Every frame of /events until the one that says the run is done."""
    frames: list[dict[str, Any]] = []
    async with session.get(url + "events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for line in response.content:
            if line.startswith(b"data: "):
                frames.append(json.loads(line[len(b"data: ") :]))
                if frames[-1]["done"]:
                    break
    return frames


async def watch(url: str) -> dict[str, Any]:
    """What a watcher sees during a run: the page, /metrics scraped every half second,
    and every frame of /events."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            page = await response.text()
            page_type = response.headers["Content-Type"]
        events = asyncio.ensure_future(read_events(session, url))
        scraped: list[float] = []
        while not events.done():
            try:
                async with session.get(url + "metrics") as response:
                    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    scraped.append(requests_in(await response.text()))
            except aiohttp.ClientError:
                break  # the run ended and its server with it
            await asyncio.sleep(0.5)
        return {"page": page, "type": page_type, "frames": await events, "scraped": scraped}


def test_page_events_and_metrics_during_a_run_grow_and_end_as_the_report(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = load_plan(str(write_plan(tmp_path, fresh_server.url, 5)), PlanOptions())
    client = OnItsOwnThread(watch)
    dashboard = dashboard_for(plan, client, ("p95<1000",))
    result = run_plan(plan, RunOptions(seed=1, watchers=(dashboard,)))
    seen = client.outcome()
    report = summarize(plan, result, "t").to_json()["aggregate"]["counters"]
    assert report["http.requests"] == 200

    assert seen["type"].startswith("text/html")
    assert "yamlload live" in seen["page"] and "cdn" not in seen["page"].lower()
    assert not re.search(r'(src|href)="(https?:)?//', seen["page"])  # nothing from a network
    scraped = seen["scraped"]
    assert scraped == sorted(scraped) and scraped[-1] > scraped[0], scraped

    frames = seen["frames"]
    last = frames[-1]
    assert last["done"] and last["reports"] == ["/reports/run.json"]
    assert last["numbers"]["requests"] == report["http.requests"]
    assert last["checks"] == [
        {
            "check": "p95<1000",
            "value": last["checks"][0]["value"],
            "limit": "< 1,000 ms",
            "state": "ok",
        }
    ]
    # about a frame a second of the run's own clock: never fewer than its seconds less one
    elapsed = [f["elapsed"] for f in frames]
    assert elapsed == sorted(elapsed)
    assert len(frames) >= elapsed[-1] - elapsed[0] - 1, elapsed
    assert all(f["html"]["charts"].count('<svg class="chart"') == 5 for f in frames)
    # the final /metrics (what a scrape at the end gets) is the report's
    assert requests_in(dashboard.board.metrics_text()) == report["http.requests"]
    # the memory chart draws what the ticker sampled, as the report's rows do
    if Path("/proc/self/statm").exists():
        drawn = [p.rss_mb for p in dashboard.board.points if p.rss_mb is not None]
        sampled = [row.rss_mb for row in result.seconds if row.rss_mb is not None]
        assert drawn and max(drawn) == pytest.approx(max(sampled), rel=0.01)


def test_a_page_that_never_reads_slows_nothing(
    tmp_path: Path, fresh_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small buffers, so that the stuck page fills them within the run and frames drop.
    monkeypatch.setattr(dashboard_module, "SEND_BUFFER_BYTES", 4096)
    plan = load_plan(str(write_plan(tmp_path, fresh_server.url, 6)), PlanOptions())

    async def stuck(url: str) -> None:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        stuck_sockets.append(sock)  # never read; closed when the test is done

    stuck_sockets: list[socket.socket] = []
    client = OnItsOwnThread(stuck)
    dashboard = dashboard_for(plan, client)
    try:
        result = run_plan(plan, RunOptions(seed=1, watchers=(dashboard,)))
        client.outcome()
    finally:
        for sock in stuck_sockets:
            sock.close()
    counters = summarize(plan, result, "t").to_json()["aggregate"]["counters"]
    assert counters["http.requests"] == counters["http.responses"] == 240
    assert "yamlload.output_errors" not in counters
    assert stuck_sockets and dashboard.dropped > 0  # the page fell behind: frames dropped
    assert not dashboard.clients


def test_a_queue_keeps_the_newest_frames() -> None:
    async def offered() -> tuple[list[bytes | None], int]:
        client = Client()
        for n in range(5):
            client.offer(str(n).encode())
        kept = [client.queue.get_nowait() for _ in range(client.queue.qsize())]
        return kept, client.dropped

    kept, dropped = asyncio.run(offered())
    assert kept == [b"3", b"4"] and dropped == 3


def test_a_port_in_use_stops_the_run_before_any_traffic(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "run", str(plan), "--dashboard", f"127.0.0.1:{port}", "-o", str(tmp_path / "r.json")
        )
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"--dashboard 127.0.0.1:{port}: cannot listen there" in result.stderr
    assert fresh_server.hits() == {}
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dashboard", "5665", "--workers", "2"], "--dashboard needs the run in one process"),
        (["--dashboard", "127.0.0.1:0", "--dask", "tcp://x:1"], "--dashboard needs the run"),
        (["--dashboard", "host:port"], "expected [HOST:]PORT"),
        (["--dashboard", "127.0.0.1:70000"], "expected [HOST:]PORT"),
    ],
)
def test_dashboard_flags_that_cannot_work_are_refused(
    tmp_path: Path, fresh_server: ServerThread, args: list[str], message: str
) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 1)
    result = run_cli("run", str(plan), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert fresh_server.hits() == {}


def test_the_dashboard_address() -> None:
    from yamlload.cli.args import parse_dashboard

    assert parse_dashboard("8089") == ("127.0.0.1", 8089)
    assert parse_dashboard("0.0.0.0:5665") == ("0.0.0.0", 5665)
    assert parse_dashboard("[::1]:0") == ("::1", 0)
    assert parse_dashboard("localhost:1") == ("localhost", 1)
    assert [
        is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "example.org")
    ] == [
        True,
        True,
        True,
        False,
        False,
    ]


def start_cli_run(plan: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`yamlload run PLAN --dashboard 127.0.0.1:0 ARGS` in a process; its dashboard URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "yamlload", "run", str(plan), "--dashboard", "127.0.0.1:0", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    said = ""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and not URL_LINE.search(said):
        line = process.stderr.readline()
        if not line:
            break
        said += line
    found = URL_LINE.search(said)
    if found is None:
        process.kill()
        raise AssertionError(f"no dashboard URL: {said}")
    return process, found.group(1)


def test_the_cli_prints_the_url_and_serves_during_the_run(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 4)
    report = tmp_path / "r.json"
    process, url = start_cli_run(plan, "-o", str(report), "--ensure", "p95<1000")

    async def fetch() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "state.json") as response:
                state = await response.json()
            frames = await read_events(session, url)
        return {"state": state, "frames": frames}

    try:
        seen = asyncio.run(asyncio.wait_for(fetch(), RUN_TIMEOUT))
        _, rest = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert "warning" not in rest  # a loopback address: nothing to warn of
    assert seen["state"]["checks"][0]["check"] == "p95<1000"
    total = json.loads(report.read_text())["aggregate"]["counters"]["http.requests"]
    assert total == 160
    assert seen["frames"][-1]["numbers"]["requests"] == total
    assert seen["frames"][-1]["reports"][0] == str(report)


SECRET_PLAN = """config:
  target: http://leo:hunter22@{target}
  phases: [{{duration: {seconds}, arrivalRate: 5, name: "warm tok-alpha-111"}}]
  secrets: [token]
  variables:
    token: [tok-alpha-111]
scenarios:
  - name: "buyers of tok-alpha-111"
    flow: [{{get: {{url: "/ok?t=tok-alpha-111", name: "ok for tok-alpha-111"}}}}]
"""


def test_secrets_are_masked_on_the_page_and_in_metrics(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    host = fresh_server.url.removeprefix("http://")
    plan = load_plan(str(write_plan(tmp_path, host, 3, SECRET_PLAN)), PlanOptions())

    async def everything(url: str) -> str:
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(1.5)  # a second or so of traffic first
            texts = []
            for route in ("", "metrics", "state.json"):
                async with session.get(url + route) as response:
                    texts.append(await response.text())
            texts.append(json.dumps(await read_events(session, url)))
        return "\n".join(texts)

    client = OnItsOwnThread(everything)
    run_plan(plan, RunOptions(seed=1, watchers=(dashboard_for(plan, client),)))
    seen = client.outcome()
    assert "ok for ***" in seen and "leo:***@" in seen and "warm ***" in seen
    assert "tok-alpha-111" not in seen and "hunter22" not in seen


def test_a_long_run_is_drawn_in_coarser_points_that_add_up() -> None:
    plan = load_plan(str(REPO / "plans" / "ramp_up.yml"), PlanOptions())
    board = Board(plan, [], Redactor(), [])
    live = LiveSeries()
    for at in range(1, 1001):
        second = Second(float(at), Metrics(counters={"http.requests": at % 7, "http.codes.200": 1}))
        live.seconds.append(second)
        live.total.merge(second.metrics)
        board.update(live, Progress(float(at), 300.0, "hold", 1, 0, 0, 0, 0.0))
    points = board.points
    assert len(points) <= MAX_POINTS
    assert points[0].start == 0 and points[-1].end == 1000
    assert all(a.end == b.start for a, b in itertools.pairwise(points))
    assert sum(p.metrics.counters["http.requests"] for p in points) == sum(
        a % 7 for a in range(1, 1001)
    )
    charts = board.frame()["html"]["charts"]
    assert '<path class="line s0"' in charts and "<circle" not in charts  # lines only


def test_a_run_without_a_dashboard_never_loads_aiohttp_web(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 1)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "yamlload", "run", str(plan), "--solo", "-q"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "yamlload.live" in modules  # the CLI asked which watchers to build
    assert "aiohttp.web" not in modules and "yamlload.live.dashboard" not in modules


@pytest.mark.skipif(
    browser.chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_in_real_chromium_the_live_page_draws_and_keeps_its_final_state(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 6)
    process, url = start_cli_run(plan, "-o", str(tmp_path / "r.json"))

    async def look() -> dict[str, Any]:
        page, chromium, session = await browser.open_page(url)
        try:
            frames = "Number(document.body.dataset.frames || 0)"
            for _ in range(int(RUN_TIMEOUT * 10)):
                if await page.evaluate(frames) >= 3:
                    break
                await asyncio.sleep(0.1)
            marks = "Array.from(document.querySelectorAll('svg.chart')).map(s => s.querySelectorAll('circle.dot, rect.bar').length)"
            found = {"marks": await page.evaluate(marks), "errors": list(page.errors)}
            await asyncio.to_thread(process.wait, RUN_TIMEOUT)
            for _ in range(int(RUN_TIMEOUT * 10)):
                if await page.evaluate("document.body.dataset.done") == "yes":
                    break
                await asyncio.sleep(0.1)
            found["done"] = await page.evaluate("document.body.dataset.done")
            found["after"] = await page.evaluate(marks)
            found["status"] = await page.evaluate("document.getElementById('status').textContent")
            return found
        finally:
            await browser.close(page, chromium, session)

    try:
        found = asyncio.run(asyncio.wait_for(look(), RUN_TIMEOUT * 2))
    finally:
        process.kill()
    assert found["errors"] == []
    assert len(found["marks"]) == 5 and found["marks"][0] > 0 and found["marks"][2] > 0
    assert found["done"] == "yes" and "done" in found["status"]
    assert found["after"][0] >= found["marks"][0]  # the final state stays on the page


def test_the_docs_name_only_metrics_that_exist() -> None:
    """docs/live.md's table and the sample Grafana dashboard's queries name real metrics."""
    from yamlload.live.exposition import Snapshot, exposition

    monitored = Metrics()  # config.monitor's families are there only with a series
    monitored.gauge("monitor.api.cpu_percent", 12.5, at=1.0)
    monitored.count("websocket.sessions")  # and the websocket ones with a ws scenario
    types, _ = parse(exposition(Snapshot(monitored, 0, 0.0, {}, [("p95<1", True)])))
    docs = (REPO / "docs" / "live.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `(yamlload_\w+)` \| (\w+) \|", docs, flags=re.MULTILINE))
    assert table == types
    grafana = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    queries = [t["expr"] for p in grafana["panels"] for t in p["targets"]]
    named = {
        re.sub(r"_(bucket|sum|count)$", "", n)
        for q in queries
        for n in re.findall(r"yamlload_\w+", q)
    }
    assert named and named <= set(types), named - set(types)


def test_an_address_off_loopback_is_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Served on 127.0.0.1 all the same: as if it were 0.0.0.0, without opening one.
    monkeypatch.setattr(dashboard_module, "is_loopback", lambda host: False)
    plan = load_plan(str(write_plan(tmp_path, "http://127.0.0.1:9", 1)), PlanOptions())
    said: list[str] = []
    dashboard = Dashboard(plan, [], Redactor(), "127.0.0.1", 0, (), said.append)

    async def start_and_finish() -> None:
        await dashboard.start()
        await dashboard.finish(LiveSeries(), Progress(0.0, 1.0, "", 0, 0, 0, 0, 0.0))

    asyncio.run(start_and_finish())
    assert said[0].startswith("Dashboard: http://127.0.0.1:")
    assert said[1].startswith("warning: --dashboard 127.0.0.1 is not this machine's loopback")


def test_report_paths_are_listed_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yamlload.live.board import Board
    from yamlload.plan.secrets import Redactor

    plan = load_plan(str(write_plan(tmp_path, "http://127.0.0.1:9", 1)), PlanOptions())
    monkeypatch.chdir(tmp_path)
    board = Board(plan, [], Redactor(), ["r.json", "out/r.html"])
    assert board.reports == [str(tmp_path / "r.json"), str(tmp_path / "out" / "r.html")]
