"""Every file a run writes is named at its end, as `-o` ("Report:") and `--html`
("HTML report:") are: `--junit` and `--summary-md` too.

The run loads a server this test starts on 127.0.0.1: two arrivals over a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from tests.servers import ServerThread

PLAN = """\
config:
  target: {url}
  phases: [{{duration: 1, arrivalCount: 2}}]
scenarios:
  - flow: [{{get: {{url: /ok}}}}]
"""


def test_junit_and_summary_md_paths_are_echoed_after_the_run(
    write_plan: Any, server: ServerThread
) -> None:
    plan: Path = write_plan(PLAN.format(url=server.url))
    junit, markdown = plan.parent / "j.xml", plan.parent / "s.md"
    result = run_cli(
        "run",
        "-q",
        str(plan),
        "-o",
        str(plan.parent / "r.json"),
        "--junit",
        str(junit),
        "--summary-md",
        str(markdown),
    )
    assert result.exit_code == 0, result.stderr
    assert f"JUnit: {junit}" in result.stdout
    assert f"Markdown summary: {markdown}" in result.stdout
