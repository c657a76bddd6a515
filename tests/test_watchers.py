"""Watchers (RunOptions.watchers): what the dashboard and the push outputs are built on.
Told every second of a real run, and of its end; their failures are counted, never the
run's; one that cannot start stops the run before any traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import ServerThread
from yamlload import PlanOptions, load_plan
from yamlload.errors import UsageError
from yamlload.metrics.histogram import merge_metrics
from yamlload.metrics.live import LiveSeries, Second
from yamlload.results.run import Progress
from yamlload.results.summary import summarize
from yamlload.runtime.engine import RunOptions, run_plan

PLAN = """config:
  target: {target}
  phases: [{{duration: 3, arrivalRate: 20}}]
scenarios:
  - flow: [{{get: {{url: /ok}}}}, {{get: {{url: /sleep/5}}}}]
"""


class Recording:
    name = "a recording watcher"

    def __init__(self, fail_in: str = "") -> None:
        self.fail_in = fail_in
        self.events: list[str] = []
        self.progress: list[Progress] = []
        self.live: LiveSeries | None = None
        self.seconds: list[Second] = []  # each second it was told of, whole

    async def start(self) -> None:
        self.events.append("start")
        if self.fail_in == "start":
            raise UsageError("--dashboard 127.0.0.1:1: the port is in use")

    def second(self, live: LiveSeries, progress: Progress) -> None:
        self.events.append("second")
        self.progress.append(progress)
        self.seconds.append(live.seconds[-1])
        if self.fail_in == "second":
            raise OSError("the collector went away")

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        self.events.append("finish")
        self.live = live
        self.seconds.append(live.seconds[-1])  # the run's last stretch


def plan_at(tmp_path: Path, target: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.yml"
    path.write_text(PLAN.format(target=target), encoding="utf-8")
    return load_plan(str(path), PlanOptions())


def test_a_watcher_sees_every_second_and_they_add_up_to_the_report(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    watcher = Recording()
    plan = plan_at(tmp_path, fresh_server.url)
    summary = summarize(plan, run_plan(plan, RunOptions(seed=1, watchers=(watcher,))), "t")
    assert watcher.events[0] == "start" and watcher.events[-1] == "finish"
    assert watcher.events.count("second") >= 2  # a 3-second run, told once a second
    assert watcher.live is not None
    seconds = merge_metrics(s.metrics for s in watcher.seconds)
    report = summary.to_json()["aggregate"]["counters"]
    assert report["http.requests"] == 120
    for name in ("http.requests", "http.responses", "http.codes.200", "vusers.created"):
        assert seconds.counters.get(name) == report[name] == watcher.live.total.counters[name]
    assert seconds.histograms["http.response_time"].count == 120
    assert watcher.progress[-1].requests <= 120


def test_a_failing_watcher_is_counted_and_the_run_goes_on(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    broken, fine = Recording(fail_in="second"), Recording()
    plan = plan_at(tmp_path, fresh_server.url)
    result = run_plan(plan, RunOptions(seed=1, watchers=(broken, fine)))
    counters = summarize(plan, result, "t").to_json()["aggregate"]["counters"]
    assert counters["http.responses"] == 120
    assert counters["yamlload.output_errors"] == broken.events.count("second") >= 2
    assert fine.events.count("second") == broken.events.count("second")
    assert broken.events[-1] == "finish"


def test_a_watcher_that_cannot_start_stops_the_run_before_any_traffic(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    first, cannot = Recording(), Recording(fail_in="start")
    plan = plan_at(tmp_path, fresh_server.url)
    with pytest.raises(UsageError, match="port is in use"):
        run_plan(plan, RunOptions(seed=1, watchers=(first, cannot)))
    assert fresh_server.hits() == {}
    assert first.events == ["start", "finish"]  # the one started is finished
    assert cannot.events == ["start"]
