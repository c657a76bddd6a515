"""What a frame costs with many endpoints: the endpoint table is redrawn every few
seconds when there are many (the rest of the frame every second), and the last frame,
the one a page keeps, has it afresh: the same table the final numbers make."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_dashboard_limits import traffic
from yamlload import PlanOptions, load_plan
from yamlload.live import board as board_module
from yamlload.live.board import Board
from yamlload.metrics.live import LiveSeries, Second
from yamlload.plan.secrets import Redactor
from yamlload.report.html import _endpoint_table
from yamlload.results.run import Progress


def board_of(tmp_path: Path, endpoints: int) -> Board:
    flow = "".join(f"      - get: {{url: /endpoint/{n}}}\n" for n in range(endpoints))
    path = tmp_path / "plan.yml"
    path.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 60, arrivalRate: 1}]\n"
        f"scenarios:\n  - flow:\n{flow}",
        encoding="utf-8",
    )
    return Board(load_plan(str(path), PlanOptions()), [], Redactor(), [])


def seconds_drawn(board: Board, endpoints: int, seconds: int) -> list[str]:
    """Each second's frame, as a page open all along gets it; the last one done."""
    live = LiveSeries()
    tables = []
    for at in range(1, seconds + 1):
        second = Second(float(at), traffic(endpoints, at))
        live.seconds.append(second)
        live.total.merge(second.metrics)
        progress = Progress(float(at), 60.0, "", 1, 0, 0, 0, 0.0)
        board.update(live, progress, done=at == seconds)
        tables.append(board.event() and board.frame()["html"]["endpoint-rows"])
    return tables


@pytest.mark.parametrize(("endpoints", "drawn"), [(3, 10), (250, 4)])
def test_the_endpoint_table_is_drawn_every_few_seconds_when_there_are_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoints: int, drawn: int
) -> None:
    monkeypatch.setattr(board_module, "TABLE_ENDPOINTS_PER_SECOND", 100)
    calls: list[int] = []

    def counted(summary: object) -> str:
        calls.append(1)
        return _endpoint_table(summary)  # type: ignore[arg-type]

    monkeypatch.setattr(board_module, "endpoint_table", counted)
    board = board_of(tmp_path, endpoints)
    tables = seconds_drawn(board, endpoints, 10)
    # 250 endpoints: every 3 seconds (1, 4, 7), and the last frame afresh
    assert len(calls) == drawn
    assert tables[-1] == _endpoint_table(board.summary())  # the final numbers, exactly
    assert tables[-1].count("<tr>") == endpoints + 1
