"""The yamlload GitHub Action's run step (action.yml calls it): run one plan with the
action's inputs, write the reports into the report folder, and set the step's outputs.

Inputs come from the environment, as action.yml passes them:
  INPUT_PLAN        the plan file (required)
  INPUT_ENSURE      checks, one expression per line (blank lines and `#` lines skipped)
  INPUT_ARGS        more arguments for `yamlload run`, split as a shell would
  INPUT_REPORT_DIR  where report.json, report.html and junit.xml go
  YAMLLOAD          the command to run (default: `yamlload` on PATH)

Outputs, appended to $GITHUB_OUTPUT: `verdict` (pass, fail, invalid, or error when the
plan, an option or an output was wrong: exit 2 or 4), `grade` (the JSON report's
`grade.overall`, empty without one), `exit-code` and `report` (the JSON report's path).
yamlload itself appends its Markdown summary to $GITHUB_STEP_SUMMARY. The script exits
with yamlload's exit code, so the step fails when the run does.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

VERDICTS = {0: "pass", 1: "fail", 3: "invalid"}


def ensure_lines(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def command(env: dict[str, str], report_dir: Path) -> list[str]:
    plan = env.get("INPUT_PLAN", "").strip()
    if not plan:
        raise SystemExit("yamlload action: the input `plan` is required")
    yamlload = shlex.split(env.get("YAMLLOAD", "") or "yamlload")
    cmd = [
        *yamlload,
        "run",
        plan,
        "-o",
        str(report_dir / "report.json"),
        "--html",
        str(report_dir / "report.html"),
        "--junit",
        str(report_dir / "junit.xml"),
    ]
    for expression in ensure_lines(env.get("INPUT_ENSURE", "")):
        cmd += ["--ensure", expression]
    cmd += shlex.split(env.get("INPUT_ARGS", ""))
    return cmd


def grade_of(report: Path) -> str:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        overall = data["grade"]["overall"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return overall if isinstance(overall, str) else ""


def write_outputs(path: str | None, values: dict[str, str]) -> None:
    lines = "".join(f"{name}={value}\n" for name, value in values.items())
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(lines)
    else:
        sys.stdout.write(lines)


def main() -> int:
    env = dict(os.environ)
    report_dir = Path(env.get("INPUT_REPORT_DIR", "").strip() or "yamlload-reports")
    report_dir.mkdir(parents=True, exist_ok=True)
    cmd = command(env, report_dir)
    print("+ " + shlex.join(cmd), flush=True)
    code = subprocess.run(cmd, check=False).returncode
    report = report_dir / "report.json"
    verdict = VERDICTS.get(code, "error")
    grade = grade_of(report)
    write_outputs(
        env.get("GITHUB_OUTPUT"),
        {"verdict": verdict, "grade": grade, "exit-code": str(code), "report": str(report)},
    )
    print(f"yamlload action: verdict={verdict} grade={grade or '-'} (exit {code})", flush=True)
    return code if code >= 0 else 128 - code  # killed by a signal: as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
