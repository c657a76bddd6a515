"""`yamlload convert`, the issue-20 third review's findings: plans too large for the
reader, lone surrogates, the most recent response wins a capture, malformed OpenAPI
parts, examples through $ref, origins, server variables, header values, CORS
preflights and WebSocket entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from tests.test_convert_round2 import ORIGIN, _entry, _har, _write
from yamlload.plan.source import MAX_NODES


def _convert(tmp_path: Path, data: Any, name: str = "r.har") -> tuple[Any, Path]:
    out = tmp_path / "plan.yml"
    source = _write(tmp_path / name, data)
    return run_cli("convert", str(source), "-o", str(out)), out


# 1: a plan over the reader's node cap is refused, never written -----------------------


def test_a_body_of_more_nodes_than_the_reader_takes_is_refused(tmp_path: Path) -> None:
    body = {"mimeType": "application/json", "text": json.dumps([0] * (MAX_NODES + 10))}
    result, out = _convert(tmp_path, _har(_entry(f"{ORIGIN}/a", "POST", post=body)))
    assert result.exit_code == 2, result.stderr
    assert "nodes" in result.stderr and f"{MAX_NODES:,}" in result.stderr
    assert "please report" not in result.stderr
    assert not out.exists()


def test_many_bodies_adding_up_past_the_node_cap_are_refused(tmp_path: Path) -> None:
    body = {"mimeType": "application/json", "text": json.dumps([0] * 9000)}
    entries = [_entry(f"{ORIGIN}/a", "POST", post=body, at=i) for i in range(60)]
    result, out = _convert(tmp_path, _har(*entries))
    assert result.exit_code == 2, result.stderr
    assert "nodes" in result.stderr
    assert not out.exists()
