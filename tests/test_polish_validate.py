"""`yamlload validate`: a standard output that cannot be written (/dev/full) is one
clear line on stderr and the output-error exit code, never "internal error"; names
from the plan are printed with their control characters escaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from yamlload.errors import EXIT_OUTPUT_FAILED

PLAN = """\
config:
  target: http://127.0.0.1:8000
  phases: [{name: "warm\\x1b[2Jup", duration: 1, arrivalCount: 1}]
scenarios:
  - name: "red\\x1b[31mflag"
    flow: [{get: {url: /}}]
"""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_stdout_is_an_output_error_in_one_line(write_plan: Any) -> None:
    plan = write_plan(PLAN)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "yamlload", "validate", str(plan)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert done.returncode == EXIT_OUTPUT_FAILED, done.stderr
    assert done.stderr == (
        "error: could not write to standard output: No space left on device\n"
    ), done.stderr


def test_names_with_control_characters_are_escaped(write_plan: Any) -> None:
    plan: Path = write_plan(PLAN)
    result = run_cli("validate", str(plan))
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "red\\x1b[31mflag" in result.stdout
    assert "warm\\x1b[2Jup" in result.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_run_with_a_full_stdout_still_writes_its_report(
    write_plan: Any, server: ServerThread, tmp_path: Path
) -> None:
    """The report is a run's product: a standard output that cannot be written is one
    warning on standard error, and the run goes on to write its report (it was exit 70,
    'a bug in yamlload', with no report)."""
    plan = write_plan(
        f"config:\n  target: {server.url}\n  phases: [{{duration: 1, arrivalCount: 2}}]\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )
    report = tmp_path / "r.json"
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "yamlload", "run", str(plan), "-o", str(report)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert done.returncode == 0, done.stderr
    assert "warning: could not write to standard output: No space left on device" in done.stderr
    assert done.stderr.count("could not write to standard output") == 1
    assert '"http.requests": 2' in report.read_text()


def test_validate_with_stdout_closed_is_no_bug(write_plan: Any) -> None:
    plan = write_plan(PLAN)
    done = subprocess.run(
        f'"{sys.executable}" -m yamlload validate "{plan}" >&-',
        shell=True,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_schema_to_a_full_stdout_is_an_output_error() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "yamlload", "schema"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert done.returncode == EXIT_OUTPUT_FAILED, done.stderr
    assert "could not write to standard output" in done.stderr
