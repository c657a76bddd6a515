"""A ws failure can be diagnosed from the run's output (issue 19, review): the failure
line shows the start of the message read, masked and on one line, and --debug prints
each message sent and received, as it prints HTTP requests and responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import ServerThread
from tests.ws_servers import make_ws_app
from yamlload import PlanOptions, load_plan
from yamlload.runtime.engine import RunOptions, run_plan


class CollectLogs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def tick(self, progress: Any) -> None: ...

    def period_done(self, period: Any, width: float) -> None: ...

    def log(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture(scope="module")
def ws_server() -> Iterator[ServerThread]:
    with ServerThread(make_ws_app()) as running:
        yield running


def run_logged(write_plan, text: str, target: str, debug: bool = False) -> list[str]:
    plan = load_plan(str(write_plan(text)), PlanOptions(target=target))
    logs = CollectLogs()
    run_plan(plan, RunOptions(seed=7, debug=debug), logs)
    return logs.lines


PLAN = """config:
  phases: [{duration: 1, arrivalCount: 1}]
  variables: {token: hunter2-secret}
  secrets: [token]
scenarios:
  - engine: ws
    flow:
      - connect: /echo
      - send: {payload: "token {{ token }} then line\\nbreak %s", capture: {json: $.n, as: n}}
"""


def test_a_failed_capture_shows_the_message_it_read_masked_and_cut(
    write_plan, ws_server: ServerThread
) -> None:
    lines = run_logged(write_plan, PLAN % ("x" * 400), ws_server.url)
    (failure,) = [line for line in lines if "Failed capture or match" in line]
    assert "json '$.n' found nothing" in failure
    assert "message: token *** then line break xxx" in failure
    assert "hunter2" not in failure and "\n" not in failure
    assert "x" * 300 not in failure and failure.endswith("…")


def test_debug_prints_each_message_sent_and_received(write_plan, ws_server: ServerThread) -> None:
    lines = run_logged(write_plan, PLAN % "short", ws_server.url, debug=True)
    debug = [line for line in lines if line.startswith("debug: ws")]
    assert any(line.startswith("debug: ws connected ws://") for line in debug), debug
    sent = [line for line in debug if " sent " in line]
    received = [line for line in debug if " received " in line]
    assert len(sent) == 1 and len(received) == 1, debug
    assert "token *** then line break short" in sent[0]
    assert "token *** then line break short" in received[0]
    assert all("hunter2" not in line for line in lines)
