"""Every Artillery script in the shared corpus gives the outcome its manifest names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import COMPAT, compat_dir, run_cli


def manifest() -> list[tuple[str, list[str], str]]:
    path = COMPAT / "manifest.tsv"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        script, args, expected, _why = line.split("\t")
        # JSON arguments hold spaces-free objects; keep {...} whole.
        rows.append((script, re.findall(r"\{.*?\}|\S+", args), expected))
    return rows


ROWS = manifest()


def test_manifest_has_the_expected_size() -> None:
    compat_dir()
    assert len(ROWS) == 45
    assert sum(1 for *_, expected in ROWS if expected == "valid") == 43
    assert sum(1 for *_, expected in ROWS if expected == "refused") == 2


@pytest.mark.parametrize(("script", "args", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_compat_script(
    script: str, args: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(compat_dir())
    result = run_cli("validate", script, *args)
    assert "Traceback" not in result.output + result.stderr
    if expected == "valid":
        assert result.exit_code == 0, result.stderr
        assert f"ok: {script}" in result.stdout
    else:
        assert result.exit_code == 2
        problems = [line for line in result.stderr.splitlines() if not line.startswith("invalid:")]
        assert len(problems) == 1, problems
        assert "unsupported feature: JavaScript processor" in problems[0]
        assert re.match(rf"{re.escape(script)}:\d+:\d+: ", problems[0])


def arrivals_reported(script: str) -> int:
    result = run_cli("validate", script)
    assert result.exit_code == 0, result.stderr
    m = re.search(r"(\d[\d,]*) arrivals\n", result.stdout.split("\n", 2)[2])
    assert m, result.stdout
    return int(m.group(1).replace(",", ""))


@pytest.mark.parametrize(
    ("script", "count"),
    [
        ("packages/artillery/test/core/scripts/arrival_phases.json", 60),
        ("packages/artillery/test/core/scripts/arrival_phases_time_format.json", 61),
        ("packages/artillery/test/scripts/ramp.json", 7),
        ("packages/artillery/test/scripts/ramp-regression-1682.json", 10),
    ],
)
def test_validate_reports_artillerys_arrival_counts(
    script: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(compat_dir())
    assert arrivals_reported(script) == count


def test_sources_file_sits_beside_the_corpus() -> None:
    sources = compat_dir() / "SOURCES.md"
    assert "artilleryio/artillery" in sources.read_text(encoding="utf-8")
    assert Path(COMPAT / "manifest.tsv").is_file()
