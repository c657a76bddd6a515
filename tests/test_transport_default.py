"""YAMLLOAD_TRANSPORT: the transport of every plan that names none, for a team moving
all its plans at once (and for the suite, which runs child processes on each)."""

from __future__ import annotations

import json
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


# Runs the CLI in a fresh interpreter; the engine is made before any traffic, and the
# modules loaded by then are printed.
LOADED = """import sys
from yamlload.runtime import engine

made = engine.Engine.__init__

def note(self, *args, **kwargs):
    made(self, *args, **kwargs)
    print("before traffic", sorted(m for m in sys.modules if m.startswith("yamlload.runtime.http")))

engine.Engine.__init__ = note
from yamlload.cli.app import cli
try:
    cli(sys.argv[1:])
except SystemExit as stop:
    print("exit", stop.code)
"""


@pytest.mark.parametrize("named", ["", "aiohttp"])
def test_only_the_chosen_transport_is_loaded_and_the_cookie_jar_before_traffic(
    tmp_path: Path, server: ServerThread, named: str
) -> None:
    """aiohttp's client only for the aiohttp transport; the fast one's jar (aiohttp's)
    before the first request: loaded at a first Set-Cookie, it cost that request 70 ms."""
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
    loaded = next(line for line in done.stdout.splitlines() if line.startswith("before traffic"))
    fast = named != "aiohttp"
    assert ("yamlload.runtime.http.aiohttp_transport" in loaded) is not fast
    assert ("yamlload.runtime.http.fast_transport" in loaded) is fast
    assert ("yamlload.runtime.http.cookies" in loaded) is fast  # the fast one's jar


@pytest.mark.parametrize("named", ["fast", "aiohttp"])
def test_the_transport_that_ran_is_in_the_report_and_quick_follows_the_variable(
    tmp_path: Path, server: ServerThread, named: str
) -> None:
    report, html = tmp_path / "r.json", tmp_path / "r.html"
    env = {"YAMLLOAD_TRANSPORT": named}
    ran = run_cli(
        "quick", f"{server.url}/ok", "-c", "2", "-n", "1", "-q", "-o", str(report), env=env
    )
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(report.read_text(encoding="utf-8"))["run"]["transport"] == named
    shown = run_cli("report", str(report), "-o", str(html))
    assert shown.exit_code == 0, shown.stderr
    assert f"{named} transport" in html.read_text(encoding="utf-8")
