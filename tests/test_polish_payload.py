"""config.payload's mistakes are reported all at once: a misspelled key beside a bad
`order` value is two problems, each positioned, in one run of `validate`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import run_cli
from yamlload.errors import EXIT_USAGE

ONE = """\
config:
  target: http://127.0.0.1:8000
  phases: [{duration: 1, arrivalCount: 1}]
  payload:
    path: users.csv
    feilds: [name]
    order: sideways
scenarios:
  - flow: [{get: {url: /}}]
"""
LIST = (
    ONE.replace("  payload:\n    path", "  payload:\n    - path")
    .replace("\n    feilds", "\n      feilds")
    .replace("\n    order", "\n      order")
)


@pytest.mark.parametrize("text", [ONE, LIST], ids=["one payload", "a list of payloads"])
def test_a_misspelled_key_and_a_bad_order_are_both_reported(write_plan: Any, text: str) -> None:
    plan = write_plan(text, **{"users.csv": "ada\nbob\n"})
    result = run_cli("validate", str(plan))
    assert result.exit_code == EXIT_USAGE
    assert "unknown key 'feilds'; did you mean 'fields'?" in result.stderr, result.stderr
    assert "'sideways' is not one of 'random', 'sequence'" in result.stderr, result.stderr
    assert "(2 problems)" in result.stderr, result.stderr
