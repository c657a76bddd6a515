"""The project's shape: published schema in sync, example plans valid, imports point down."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.helpers import PLANS, REPO, run_cli
from yamlload import build_schema

SCHEMA_FILE = REPO / "schema" / "plan.schema.json"
SCHEMA_LINE = "# yaml-language-server: $schema=../schema/plan.schema.json"


def test_published_schema_matches_the_code() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == build_schema(), "run: yamlload schema > schema/plan.schema.json"


def test_published_report_schema_matches_the_code() -> None:
    from yamlload.plan.schema import build_report_schema

    published = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    assert published == build_report_schema(), (
        "run: yamlload schema --report > schema/report.schema.json"
    )
    assert json.loads(run_cli("schema", "--report").stdout) == published


def test_schema_command_prints_the_schema() -> None:
    result = run_cli("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == build_schema()


def test_schema_is_itself_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(build_schema())


PLAN_FILES = sorted(PLANS.glob("*.yml"))


def test_there_are_example_plans() -> None:
    assert len(PLAN_FILES) >= 8


@pytest.mark.parametrize("plan", PLAN_FILES, ids=[p.name for p in PLAN_FILES])
def test_every_example_plan_validates_and_names_the_schema(plan: Path) -> None:
    assert plan.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    result = run_cli("validate", str(plan))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "", result.stderr


# What each package (or top-level module) of yamlload may import from yamlload: data
# flows plan → schedule → runtime → results → checks/report, never back (docs/design.md,
# "The house"). A package may always import its own modules.
BASE = {"errors", "units", "text", "_version", "_child"}
MAY_IMPORT: dict[str, set[str]] = {
    "_version": set(),
    # how yamlload starts a Python child of its own (the monitor worker, the demo target)
    "_child": set(),
    # the command's first step takes the signals, then imports the command line (in its
    # main(), never at import); errors reads the exit codes of signals from it
    "_entry": {"cli"},
    "errors": {"_entry"},
    "units": set(),
    "text": set(),
    # the compiler parses config.monitor's selectors (monitor.selector: pure, no I/O)
    "plan": BASE | {"monitor"},
    "schedule": BASE | {"plan"},
    "metrics": BASE,
    "results": BASE | {"plan", "metrics"},
    # the run samples config.monitor's sources on its loop (issue 17)
    "runtime": BASE | {"plan", "schedule", "metrics", "results", "monitor"},
    "checks": BASE | {"plan", "metrics", "results"},
    "report": BASE | {"plan", "schedule", "metrics", "results", "checks"},
    "live": BASE | {"plan", "metrics", "results", "checks", "report"},
    "scale": BASE | {"plan", "schedule", "metrics", "results", "checks", "runtime"},
    "demo_target": BASE,
    # watching the system under test (issue 17): pure parsing, selectors and samplers,
    # below the plan so that the compiler can check a plan's selectors
    "monitor": BASE,
    # `yamlload convert`: HAR and OpenAPI into a plan dict (pure), read like a plan
    "convert": BASE | {"plan"},
    "cli": BASE
    | {"plan", "schedule", "metrics", "results", "checks", "report", "runtime", "scale"}
    | {"demo_target", "live", "convert"},
    "__init__": BASE | {"plan", "schedule"},
    "__main__": {"_entry"},
}


def _imports_of(source: Path, package: Path) -> set[str]:
    """The yamlload packages and top-level modules a source file imports."""
    relative = source.relative_to(package)
    here = list(relative.parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
            parts = [*base, *(node.module.split(".") if node.module else [])]
            if parts:
                found.add(parts[0])
            else:  # `from . import x` at the top level
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("yamlload."):
            found.add(node.module.split(".")[1])  # type: ignore[union-attr]
    return found


@pytest.mark.parametrize("unit", sorted(MAY_IMPORT))
def test_each_package_imports_only_what_it_may(unit: str) -> None:
    package = REPO / "yamlload"
    sources = (
        sorted((package / unit).rglob("*.py"))
        if (package / unit).is_dir()
        else [package / f"{unit}.py"]
    )
    assert sources, f"{unit} has no sources"
    for source in sources:
        for imported in _imports_of(source, package) - {unit}:
            assert imported in MAY_IMPORT[unit], (
                f"{source.relative_to(REPO)} imports {imported}, which {unit} may not"
            )


# The only modules that may import aiohttp: the transport seam keeps it behind one
# module of the runtime (a second transport needs none of its client), the cookie jar
# the fast transport borrows from it (cookies.py: one set of cookie rules for both
# transports), the demo target, and the dashboard's server (aiohttp.web on the run's
# loop; live/__init__.py imports it only when --dashboard is given).
AIOHTTP_IMPORTERS = {
    "runtime/http/aiohttp_transport.py",
    "runtime/http/cookies.py",
    "demo_target.py",
    "live/dashboard.py",
    # The Pushgateway output's HTTP client, imported when that output starts.
    "live/pushgateway.py",
    # config.monitor's Prometheus scrapes, imported on a source's first scrape.
    "monitor/source.py",
    # WebSocket scenarios' client (issue 19), imported only for a plan with one.
    "runtime/ws.py",
}


def _imports_aiohttp(source: Path) -> bool:
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "aiohttp" or name.startswith("aiohttp.") for name in names):
            return True
    return False


def test_only_the_aiohttp_transport_imports_aiohttp() -> None:
    package = REPO / "yamlload"
    importers = {
        source.relative_to(package).as_posix()
        for source in package.rglob("*.py")
        if _imports_aiohttp(source)
    }
    assert importers == AIOHTTP_IMPORTERS


def test_every_package_has_import_rules() -> None:
    package = REPO / "yamlload"
    units = {p.name if p.is_dir() else p.stem for p in package.iterdir() if p.name != "__pycache__"}
    assert units - {"py.typed"} <= set(MAY_IMPORT), units - set(MAY_IMPORT)


def test_python_dash_m_works() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "yamlload", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.startswith("yamlload, version ")


def readme_examples() -> list[tuple[str, str]]:
    """Each ```yaml block of the README followed by the `yamlload validate` it shows."""
    import itertools
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.DOTALL)
    pairs = []
    for (kind, body), (_, shown) in itertools.pairwise(blocks):
        if kind == "yaml" and shown.startswith("$ yamlload validate plan.yml\n"):
            pairs.append((body, shown.split("\n", 1)[1]))
    return pairs


def test_readme_examples_show_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = readme_examples()
    assert len(examples) == 2
    monkeypatch.chdir(tmp_path)
    for plan, shown in examples:
        (tmp_path / "plan.yml").write_text(plan, encoding="utf-8")
        result = run_cli("validate", "plan.yml")
        assert result.stdout + result.stderr == shown


def test_every_test_named_in_reliability_md_exists() -> None:
    """docs/reliability.md says which test shows each promise: those tests must exist."""
    text = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    named = re.findall(r"(test_\w+\.py)::(test_\w+)", text)
    assert len(named) >= 15
    for filename, test in named:
        source = (REPO / "tests" / filename).read_text(encoding="utf-8")
        assert f"def {test}(" in source, f"{filename}::{test} is named in reliability.md"
    # the shorthand `::test_name` (same file as the last full name) must exist somewhere too
    everything = "".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("*.py"))
    for test in re.findall(r"`(?:…\[[^]]*\]|::)(test_\w+)", text):
        assert f"def {test}(" in everything, f"::{test} is named in reliability.md"
