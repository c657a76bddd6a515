"""Commands that only read reports load nothing of the runtime: `yamlload report`,
`compare`, `merge` and `trend` start fast and work where aiohttp or uvloop could not load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread, make_test_app

# What a report-reading command must never import (a prefix also bans its submodules).
FORBIDDEN = ("aiohttp", "uvloop", "yamlload.runtime")


def imported_by(*args: str) -> set[str]:
    """The modules `python -X importtime -m yamlload ARGS` imports, read from stderr."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "yamlload", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert lines, "python -X importtime printed nothing"
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real reports, from `yamlload quick` against a local server."""
    folder = tmp_path_factory.mktemp("reports")
    paths = (folder / "a.json", folder / "b.json")
    with ServerThread(make_test_app()) as server:
        for path in paths:
            done = run_cli("quick", f"{server.url}/ok", "-c", "2", "-n", "2", "-q", "-o", str(path))
            assert done.exit_code == 0, done.stdout + done.stderr
    return paths


def test_report_loads_no_runtime(reports: tuple[Path, Path], tmp_path: Path) -> None:
    modules = imported_by("report", str(reports[0]), "-o", str(tmp_path / "r.html"))
    assert "yamlload.report.html" in modules  # the command really ran
    assert forbidden_in(modules) == []


def test_compare_loads_no_runtime(reports: tuple[Path, Path]) -> None:
    modules = imported_by("compare", str(reports[0]), str(reports[1]))
    assert forbidden_in(modules) == []


def test_merge_loads_no_runtime(reports: tuple[Path, Path], tmp_path: Path) -> None:
    # Two whole runs are refused by merge (exit 2), so merge one report: still a merge.
    modules = imported_by("merge", str(reports[0]), "-o", str(tmp_path / "m.json"))
    assert "yamlload.scale.merge" in modules
    assert forbidden_in(modules) == []


def test_trend_loads_no_runtime(reports: tuple[Path, Path], tmp_path: Path) -> None:
    page = tmp_path / "trend.html"
    modules = imported_by("trend", *map(str, reports), "--html", str(page))
    assert "yamlload.report.trend_page" in modules and page.is_file()
    assert forbidden_in(modules) == []
