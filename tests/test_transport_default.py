"""YAMLLOAD_TRANSPORT: the transport of every plan that names none, for a team moving
all its plans at once (and for the suite, which runs child processes on each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread

PLAN = """config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 2}}]
{http}scenarios:
  - flow: [{{get: {{url: /ok}}}}]
"""


def write(tmp_path: Path, target: str, http: str = "") -> Path:
    path = tmp_path / "plan.yml"
    path.write_text(PLAN.format(target=target, http=http), encoding="utf-8")
    return path


@pytest.mark.parametrize("named", ["fast", "aiohttp", "AIOHTTP "])
def test_the_variable_names_the_transport_that_runs(
    tmp_path: Path, server: ServerThread, named: str
) -> None:
    plan = write(tmp_path, server.url)
    result = run_cli(
        "run", str(plan), "-o", str(tmp_path / "r.json"), env={"YAMLLOAD_TRANSPORT": named}
    )
    assert result.exit_code == 0, result.output
    assert f", {named.strip().lower()} transport)" in result.output
    assert "http.codes.200" in (tmp_path / "r.json").read_text()


def test_the_plan_wins_over_the_variable(tmp_path: Path, server: ServerThread) -> None:
    plan = write(tmp_path, server.url, "  http: {transport: aiohttp}\n")
    result = run_cli(
        "run", str(plan), "-o", str(tmp_path / "r.json"), env={"YAMLLOAD_TRANSPORT": "fast"}
    )
    assert result.exit_code == 0, result.output
    assert ", aiohttp transport)" in result.output


def test_an_unknown_transport_in_the_variable_is_a_plan_error(tmp_path: Path) -> None:
    plan = write(tmp_path, "http://127.0.0.1:9")
    result = run_cli("validate", str(plan), env={"YAMLLOAD_TRANSPORT": "curl"})
    assert result.exit_code == 2
    assert "YAMLLOAD_TRANSPORT=curl: must be one of fast, aiohttp" in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


# Runs the CLI in a fresh interpreter, then says which aiohttp modules it loaded.
LOADED = """import sys
from yamlload.cli.app import cli
try:
    cli(sys.argv[1:])
except SystemExit as stop:
    print("exit", stop.code)
print("loaded", sorted(m for m in sys.modules if m == "aiohttp" or m.startswith("aiohttp.")))
"""


@pytest.mark.parametrize(("named", "loads_aiohttp"), [("", False), ("aiohttp", True)])
def test_a_run_on_the_default_fast_transport_never_loads_aiohttp(
    tmp_path: Path, server: ServerThread, named: str, loads_aiohttp: bool
) -> None:
    """A tenth of a second of start-up and several MB a fast run does not need."""
    plan = write(tmp_path, server.url, f"  http: {{transport: {named}}}\n" if named else "")
    env = {k: v for k, v in os.environ.items() if k != "YAMLLOAD_TRANSPORT"}
    done = subprocess.run(
        [sys.executable, "-c", LOADED, "run", str(plan), "-o", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert "exit 0" in done.stdout, done.stdout + done.stderr
    assert f", {named or 'fast'} transport)" in done.stdout
    assert ("loaded []" not in done.stdout) is loads_aiohttp, done.stdout
