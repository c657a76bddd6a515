"""config.monitor during a run (issue 17): a real Prometheus-format endpoint on
127.0.0.1 (a counter with a reset, a gauge with labels) and a real local process (a
child python, by pid) sampled while the load runs; an unreachable source changes none
of the run's numbers nor its exit code. Runs are a few seconds, sampled every second;
no wall-clock time is asserted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread, free_port, make_test_app

# A counter that grows by 50 per scrape and is reset (to 20) at the third one, and a
# gauge with labels of which only state="active" is selected.
RESET_AT_SCRAPE = 3
COUNTER_STEP = 50


def exposition(scrape: int) -> str:
    counter = (
        20 + COUNTER_STEP * (scrape - RESET_AT_SCRAPE)
        if scrape >= RESET_AT_SCRAPE
        else 100 + COUNTER_STEP * scrape
    )
    active = 4 + scrape % 3
    return (
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{code="200"}} {counter}\n'
        "# TYPE pg_stat_activity_count gauge\n"
        f'pg_stat_activity_count{{state="active"}} {active}\n'
        'pg_stat_activity_count{state="idle"} 100\n'
    )


def app_with_metrics() -> web.Application:
    app = make_test_app()
    scrapes = {"n": 0}

    async def metrics(request: web.Request) -> web.Response:
        scrapes["n"] += 1
        return web.Response(text=exposition(scrapes["n"]), content_type="text/plain")

    app.router.add_get("/metrics", metrics)
    return app


@pytest.fixture
def server() -> Iterator[str]:
    with ServerThread(app_with_metrics()) as running:
        yield running.url


def plan_for(target: str, monitor: str, seconds: int = 3, arrivals: int = 6) -> str:
    return (
        f"config:\n  target: {target}\n"
        f"  phases: [{{duration: {seconds}, arrivalCount: {arrivals}}}]\n"
        + (f"  monitor:\n{monitor}" if monitor else "")
        + "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )


def run_report(
    write_plan: Any, tmp_path: Path, text: str, *flags: str
) -> tuple[int, dict[str, Any], str]:
    plan = write_plan(text)
    out = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-o", str(out), *flags)
    report = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, report, result.output + result.stderr


def test_a_prometheus_endpoint_is_sampled_into_gauges(
    write_plan: Any, tmp_path: Path, server: str
) -> None:
    monitor = f"""\
    - name: api
      prometheus: {server}/metrics
      interval: 1s
      metrics:
        requests_per_second: rate(http_requests_total)
        active: pg_stat_activity_count{{state="active"}}
        all_connections: sum(pg_stat_activity_count)
"""
    code, report, said = run_report(write_plan, tmp_path, plan_for(server, monitor))
    assert code == 0, said
    gauges = report["aggregate"]["gauges"]
    active = gauges["monitor.api.active"]
    assert active["count"] >= 2
    assert 4 <= active["min"] <= active["max"] <= 6
    assert gauges["monitor.api.all_connections"]["min"] >= 104
    # rate() has no value at the first scrape, and never goes below 0 at the reset
    rate = gauges["monitor.api.requests_per_second"]
    assert rate["count"] == active["count"] - 1
    assert rate["min"] >= 0
    assert "monitor.api.scrape_errors" not in report["aggregate"]["counters"]
    per_period = [
        p.get("gauges", {}).get("monitor.api.active", {}).get("count", 0)
        for p in report["intermediate"]
    ]
    assert sum(per_period) == active["count"]


def test_a_local_process_is_sampled_by_pid(write_plan: Any, tmp_path: Path, server: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monitor = f"    - name: worker\n      pid: {child.pid}\n      interval: 1s\n"
        code, report, said = run_report(
            write_plan, tmp_path, plan_for(server, monitor, seconds=2, arrivals=2)
        )
    finally:
        child.kill()
        child.wait()
    assert code == 0, said
    gauges = report["aggregate"]["gauges"]
    assert gauges["monitor.worker.rss_mb"]["min"] > 0
    assert gauges["monitor.worker.threads"]["min"] >= 1
    assert gauges["monitor.worker.cpu_percent"]["min"] >= 0


def accounting(report: dict[str, Any]) -> dict[str, int]:
    """The run's own counts: requests, responses, codes, errors, users (the generator's
    health counters, such as its CPU time, differ from run to run)."""
    return {
        name: n
        for name, n in report["aggregate"]["counters"].items()
        if not name.startswith(("monitor.", "yamlload."))
    }


def test_an_unreachable_source_changes_none_of_the_runs_numbers(
    write_plan: Any, tmp_path: Path, server: str
) -> None:
    dead = f"http://scraper:pw-{free_port()}-secret@127.0.0.1:{free_port()}/metrics"
    monitor = f"    - name: gone\n      prometheus: {dead}\n      interval: 1s\n      metrics: {{up: up}}\n"
    plain_code, plain, _ = run_report(write_plan, tmp_path, plan_for(server, ""))
    code, watched, said = run_report(write_plan, tmp_path, plan_for(server, monitor))
    assert code == plain_code == 0, said
    assert accounting(watched) == accounting(plain)
    assert watched["aggregate"]["counters"]["monitor.gone.scrape_errors"] >= 1
    assert "gauges" not in watched["aggregate"]
    # told once, masked, and the run went on
    told = [line for line in said.splitlines() if "monitor gone:" in line]
    assert len(told) == 1, said
    assert "cannot connect" in told[0]
    assert "secret" not in said


def test_monitor_with_workers_is_refused_before_any_traffic(write_plan: Any, server: str) -> None:
    plan = write_plan(plan_for(server, "    - name: api\n      pid: 1\n"))
    result = run_cli("run", "-q", str(plan), "--workers", "2")
    assert result.exit_code == 2
    assert "config.monitor needs the run in one process" in result.stderr


class SlowSource:
    """A source whose samples take longer than its interval; it notes how many were in
    flight at once, and whether it was closed."""

    name = "slow"
    metrics = ("x",)

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.samples = 0
        self.closed = False

    async def sample(self) -> dict[str, float | None]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(SLOW_SAMPLE_SECONDS)
            self.samples += 1
            return {"x": float(self.samples)}
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        self.closed = True


SLOW_SAMPLE_SECONDS = 0.05
SHORT_INTERVAL_SECONDS = 0.02
SAMPLES_WAITED_FOR = 4


def test_at_most_one_sample_is_in_flight_per_source_and_sources_are_closed() -> None:
    from yamlload.metrics.periods import Recorder
    from yamlload.plan.ir import MonitorSource
    from yamlload.plan.secrets import Redactor
    from yamlload.runtime.log import RunLog
    from yamlload.runtime.monitoring import Monitoring

    slow = SlowSource()
    spec = MonitorSource(name="slow", kind="pid", pid=1, interval=SHORT_INTERVAL_SECONDS)
    recorder = Recorder()

    async def watch() -> None:
        monitoring = Monitoring(
            (spec,), recorder, RunLog(None, Redactor(), (), False), lambda _: slow
        )
        monitoring.start()
        while slow.samples < SAMPLES_WAITED_FOR:
            await asyncio.sleep(SLOW_SAMPLE_SECONDS)
        await monitoring.stop()

    asyncio.run(asyncio.wait_for(watch(), 10))
    assert slow.most_in_flight == 1
    assert slow.closed
    gauge = recorder.periods[0].metrics.gauges["monitor.slow.x"]
    assert gauge.count == slow.samples >= SAMPLES_WAITED_FOR


class HangingSource:
    """A source whose first sample never answers (an endpoint that accepted and went
    quiet, its timeout longer than the run)."""

    name = "quiet"
    metrics = ("x",)

    async def sample(self) -> dict[str, float | None]:
        await asyncio.Event().wait()
        raise AssertionError("never answers")

    async def close(self) -> None:
        pass


class OneScrapeSource:
    """A source that answered once, with no value for a rate (it needs two scrapes)."""

    name = "once"
    metrics = ("rps",)

    def __init__(self) -> None:
        self.samples = 0

    async def sample(self) -> dict[str, float | None]:
        if self.samples:
            await asyncio.Event().wait()
        self.samples += 1
        return {"rps": None}

    async def close(self) -> None:
        pass


class Lines:
    """An observer that keeps what the run logs."""

    quiet = False

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


def watch_briefly(spec: Any, source: Any, until: Any) -> tuple[Any, list[str]]:
    from yamlload.metrics.periods import Recorder
    from yamlload.plan.secrets import Redactor
    from yamlload.runtime.log import RunLog
    from yamlload.runtime.monitoring import Monitoring

    recorder, lines = Recorder(), Lines()

    async def watch() -> None:
        monitoring = Monitoring(
            (spec,),
            recorder,
            RunLog(lines, Redactor(), (), False),
            lambda _: source,  # type: ignore[arg-type]
        )
        monitoring.start()
        while not until():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await monitoring.stop()

    asyncio.run(asyncio.wait_for(watch(), 10))
    return recorder, lines.lines


def test_a_source_that_never_answered_before_the_end_is_counted_and_told() -> None:
    from yamlload.plan.ir import MonitorSource

    spec = MonitorSource(name="quiet", kind="prometheus", url="http://127.0.0.1:9/", timeout=60)
    recorder, lines = watch_briefly(spec, HangingSource(), lambda: True)
    assert recorder.periods[0].metrics.counters["monitor.quiet.scrape_errors"] == 1
    assert any(
        "monitor quiet: never sampled: its first sample had not answered when the run ended" in line
        for line in lines
    ), lines


def test_a_rate_with_one_scrape_is_explained_not_called_a_typo() -> None:
    from yamlload.monitor.selector import parse
    from yamlload.plan.ir import MonitorSource

    source = OneScrapeSource()
    spec = MonitorSource(
        name="once",
        kind="prometheus",
        url="http://127.0.0.1:9/",
        metrics=(("rps", parse("rate(http_requests_total)")),),
    )
    recorder, lines = watch_briefly(spec, source, lambda: source.samples >= 1)
    assert not any(
        "monitor.once.scrape_errors" in p.metrics.counters for p in recorder.periods.values()
    )
    told = " ".join(lines)
    assert "do they select any series" not in told
    assert "no value for rps: rate() needs two scrapes and the run ended after one" in told


def test_each_sample_lands_in_its_own_second_of_the_report(
    write_plan: Any, tmp_path: Path, server: str
) -> None:
    """Sampled every second, a source has one sample in each second's row: after the
    first (at once), samples are taken half a second past their tick, well inside a
    second the ticker closes a few ms after it ends (they fell on the boundary, two in
    the first row and none in the last)."""
    monitor = f"""\
    - name: api
      prometheus: {server}/metrics
      interval: 1s
      metrics:
        active: pg_stat_activity_count{{state="active"}}
        rps: rate(http_requests_total)
"""
    code, report, said = run_report(write_plan, tmp_path, plan_for(server, monitor, seconds=4))
    assert code == 0, said
    rows = report["seconds"]["rows"]
    per_second = report["seconds"]["gauges"]
    assert len(rows) == 4
    assert None not in per_second["monitor.api.active"], per_second
    assert per_second["monitor.api.rps"][0] is None  # a rate needs a second scrape
    assert None not in per_second["monitor.api.rps"][1:], per_second
    assert report["aggregate"]["gauges"]["monitor.api.active"]["count"] == 4
