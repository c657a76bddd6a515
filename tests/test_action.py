"""The GitHub Action (action.yml): its run step is .github/actions/run_plan.py, run here
as the action runs it, with a fake $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY, against the
demo target on 127.0.0.1. The other steps (setup-python, pip install, upload-artifact)
are GitHub's own actions and only run on GitHub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import REPO, run_cli

ACTION = REPO / "action.yml"
SCRIPT = REPO / ".github" / "actions" / "run_plan.py"
SHORT = """--demo-target --overrides '{"config":{"phases":[{"duration":1,"arrivalRate":2}]}}'"""
TIMEOUT = 120


def _outputs(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines())
    return dict(pairs)


def _run_action(tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    outputs = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    # The default command is `yamlload` on PATH: this venv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("YAMLLOAD", None)
    env.update(GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary))
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    return result, outputs


@pytest.fixture
def plan(tmp_path: Path) -> str:
    result = run_cli("init", str(tmp_path / "plan.yml"))
    assert result.exit_code == 0, result.stderr
    return "plan.yml"


def test_action_passes_and_sets_verdict_and_grade(tmp_path: Path, plan: str) -> None:
    result, outputs = _run_action(
        tmp_path,
        plan=plan,
        ensure="p95<10000\n\n# a comment line\nerror_rate<50%\n",
        args=SHORT,
        report_dir="out/reports",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = _outputs(outputs)
    assert values["verdict"] == "pass", values
    assert re.fullmatch(r"[A-F]", values["grade"]), values
    assert values["exit-code"] == "0"
    reports = tmp_path / "out" / "reports"
    assert values["report"] == str(Path("out/reports/report.json"))
    for name in ("report.json", "report.html", "junit.xml"):
        assert (reports / name).stat().st_size > 0, name
    # Each ensure line is its own check; yamlload wrote the job summary.
    junit = (reports / "junit.xml").read_text(encoding="utf-8")
    assert "p95&lt;10000" in junit or "p95<10000" in junit
    assert "error_rate" in junit
    assert (tmp_path / "step_summary").read_text(encoding="utf-8").strip()


def test_action_failing_check_is_verdict_fail_and_a_failed_step(tmp_path: Path, plan: str) -> None:
    result, outputs = _run_action(tmp_path, plan=plan, ensure="p50<0.001", args=SHORT)
    assert result.returncode == 1, result.stdout + result.stderr
    values = _outputs(outputs)
    assert values["verdict"] == "fail", values
    assert re.fullmatch(r"[A-F]", values["grade"]), values
    assert (tmp_path / "yamlload-reports" / "report.json").is_file()  # the default folder


def test_action_missing_plan_is_verdict_error_and_sends_nothing(tmp_path: Path) -> None:
    result, outputs = _run_action(tmp_path, plan="nowhere.yml", args=SHORT)
    assert result.returncode == 2, result.stdout + result.stderr
    values = _outputs(outputs)
    assert values["verdict"] == "error", values
    assert values["grade"] == ""


def test_action_yml_wires_the_script_inputs_and_outputs() -> None:
    action = YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {
        "plan",
        "ensure",
        "args",
        "report-dir",
        "python-version",
        "version",
    }
    assert action["inputs"]["plan"]["required"] is True
    assert action["inputs"]["report-dir"]["default"] == "yamlload-reports"
    steps = action["runs"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    run = next(s for s in steps if s.get("id") == "run")
    assert ".github/actions/run_plan.py" in run["run"]
    # Inputs reach the script through the environment, never pasted into the shell.
    assert "${{" not in run["run"]
    for name in ("plan", "ensure", "args", "report-dir"):
        assert run["env"][f"INPUT_{name.upper().replace('-', '_')}"] == f"${{{{ inputs.{name} }}}}"
    assert action["outputs"]["verdict"]["value"] == "${{ steps.run.outputs.verdict }}"
    assert action["outputs"]["grade"]["value"] == "${{ steps.run.outputs.grade }}"
