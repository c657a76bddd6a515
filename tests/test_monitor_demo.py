"""The demo target's /metrics and plans/monitored.yml, the worked example that runs
offline (issue 17)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from tests.helpers import PLANS, run_cli
from tests.servers import ServerThread
from yamlload.demo_target import make_app
from yamlload.monitor.exposition import parse_exposition
from yamlload.monitor.selector import parse

# The example, shortened: a 2-second run sampled every second.
SHORT_RUN = json.dumps({"config": {"phases": [{"duration": 3, "arrivalRate": 5}]}})


@pytest.fixture
def demo() -> Iterator[str]:
    with ServerThread(make_app()) as running:
        yield running.url


def test_the_demo_target_serves_its_process_metrics_and_a_labelled_request_counter(
    demo: str,
) -> None:
    for _ in range(3):
        urlopen(f"{demo}/products/1").read()
    body = urlopen(f"{demo}/metrics").read()
    samples = parse_exposition(body).by_name()
    assert parse("process_resident_memory_bytes / 1e6").evaluate(samples) > 0
    assert parse("process_cpu_seconds_total").evaluate(samples) >= 0
    by_route = parse('demo_http_requests_total{route="/products/{id}", code="200"}')
    assert by_route.evaluate(samples) == 3


def test_the_worked_example_runs_offline_with_its_series(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_cli(
        "run",
        "-q",
        "--demo-target",
        str(PLANS / "monitored.yml"),
        "--overrides",
        SHORT_RUN,
        "-o",
        str(out),
        "--ensure",
        "monitor.shop.memory_mb.max>0",
    )
    assert result.exit_code == 0, result.output + result.stderr
    gauges = json.loads(out.read_text())["aggregate"]["gauges"]
    assert gauges["monitor.shop.memory_mb"]["min"] > 0
    assert gauges["monitor.shop.cpu_percent"]["min"] >= 0
    assert "monitor.shop.requests_per_second" in gauges
