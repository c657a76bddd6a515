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
    from yamlload._schema import build_report_schema

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


# Each module may import only from modules below it (DESIGN.md, "Modules").
LAYERS = [
    {"_errors", "_version"},
    {"_expr"},
    {"_plan"},
    {"_schema", "_schedule", "_metrics", "_target", "_redact", "_outputs"},
    {"_load"},
    {"_compile", "_describe"},
    {"_engine"},
    {"_summary"},
    {"_checks", "_shard"},
    {"_report"},
    {"_cli", "__init__"},
    {"__main__"},
]


def layer_of(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if module in layer:
            return index
    raise AssertionError(f"{module} is in no layer; add it to LAYERS and DESIGN.md")


def test_imports_point_down_only() -> None:
    package = REPO / "yamlload"
    for source in package.rglob("*.py"):
        relative = source.relative_to(package)
        module = relative.parts[0].removesuffix(".py")
        own = layer_of(module)
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module:
                target = node.module.split(".")[0]
                if target == module:
                    continue
                assert layer_of(target) < own or module == "__init__", (
                    f"{relative} imports {target}, which is not below it"
                )


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
