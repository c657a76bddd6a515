"""A formData file that is missing is the plan's mistake, never "could not reach the
target": a constant path is a positioned plan error before any request (exit 2); a
templated one is counted as an error that names the file.

Each run loads a server this test starts on 127.0.0.1: two arrivals, a second at most."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from tests.servers import ServerThread
from yamlload.errors import EXIT_USAGE

PLAN = """\
config:
  target: {url}
  phases: [{{duration: 1, arrivalCount: 2}}]
  variables: {{name: [missing]}}
scenarios:
  - flow:
      - post:
          url: /echo
          formData:
            file: {{fromFile: "{path}"}}
"""


def test_a_missing_constant_formdata_file_is_a_plan_error_before_any_request(
    write_plan: Any, server: ServerThread
) -> None:
    plan = write_plan(PLAN.format(url=server.url, path="./missing.txt"))
    before = sum(server.hits().values())

    result = run_cli("run", "-q", str(plan), "-o", str(Path(plan).parent / "r.json"))

    assert result.exit_code == EXIT_USAGE, result.stdout + result.stderr
    assert f"{plan}:10:30: scenarios[0].flow[0].post.formData.file.fromFile: " in result.stderr
    assert "missing.txt: No such file or directory" in result.stderr
    assert "could not reach" not in result.stdout + result.stderr
    assert sum(server.hits().values()) == before


def test_a_missing_templated_formdata_file_is_named_and_not_an_unreachable_target(
    write_plan: Any, server: ServerThread
) -> None:
    plan = write_plan(PLAN.format(url=server.url, path="./{{ name }}.txt"))

    result = run_cli("run", str(plan), "-o", str(Path(plan).parent / "r.json"))

    said = result.stdout + result.stderr
    assert "could not reach the target" not in said
    assert "missing.txt" in said
    assert "no request was sent" in said
    assert result.exit_code != 0
