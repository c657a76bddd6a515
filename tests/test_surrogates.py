"""A lone surrogate (half of a UTF-16 pair, `\\uD800` in a YAML double-quoted string or
in JSON) is not text: the plan reader refuses it with its place, exit 2, and the
redactor never crashes on one (issue 20, third review)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli
from yamlload.plan.secrets import Redactor
from yamlload.plan.source import parse_document

YAML_PLAN = """\
config:
  target: http://127.0.0.1:9
  phases: [{duration: 1, arrivalRate: 1}]
scenarios:
  - flow:
      - get:
          url: /a
          headers:
            authorization: "Bearer abc\\uD800defgh"
"""
JSON_PLAN = {
    "config": {"target": "http://127.0.0.1:9", "phases": [{"duration": 1, "arrivalRate": 1}]},
    "scenarios": [{"flow": [{"get": {"url": "/a", "json": {"k\ud800": "v"}}}]}],
}


def _json_text() -> str:
    return json.dumps(JSON_PLAN)  # ensure_ascii: the surrogate is written `\ud800`


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_yaml_plan_with_a_lone_surrogate_is_refused_with_its_place(
    tmp_path: Path, command: str
) -> None:
    plan = tmp_path / "p.yml"
    plan.write_text(YAML_PLAN, encoding="utf-8")
    result = run_cli(command, str(plan))
    assert result.exit_code == 2, result.stderr
    assert f"{plan}:9:" in result.stderr and "surrogate" in result.stderr


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_json_plan_with_a_lone_surrogate_in_a_key_is_refused(
    tmp_path: Path, command: str
) -> None:
    plan = tmp_path / "p.json"
    plan.write_text(_json_text(), encoding="utf-8")
    result = run_cli(command, str(plan))
    assert result.exit_code == 2, result.stderr
    assert "surrogate" in result.stderr and f"{plan}:1:" in result.stderr


def test_a_surrogate_pair_reads_as_the_character_it_encodes() -> None:
    data = parse_document(b'a: "\\uD83D\\uDE00"\n', "p.yml").data
    assert data == {"a": "\U0001f600"}


def test_the_redactor_takes_a_lone_surrogate() -> None:
    redactor = Redactor(values=["abc\ud800defgh"])
    assert "abc\ud800defgh" not in redactor.text("sent abc\ud800defgh")
