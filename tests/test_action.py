"""The GitHub Action (action.yml): its run step is .github/actions/run_plan.py, run here
as the action runs it, with a fake $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY, against the
demo target on 127.0.0.1. The other steps (setup-python, pip install, upload-artifact)
are GitHub's own actions and only run on GitHub."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import REPO, run_cli

ACTION = REPO / "action.yml"
SCRIPT = REPO / ".github" / "actions" / "run_plan.py"
if not (ACTION.is_file() and SCRIPT.is_file()):
    pytest.skip(
        "action.yml and .github/actions/run_plan.py are not in the sdist (the action is the"
        " repository's, not the package's): these tests run from a checkout",
        allow_module_level=True,
    )
SHORT = """--demo-target --overrides '{"config":{"phases":[{"duration":1,"arrivalRate":2}]}}'"""
TIMEOUT = 120


def _output_pairs(path: Path) -> list[tuple[str, str]]:
    """$GITHUB_OUTPUT read as GitHub reads it: `name=value` lines and `name<<DELIMITER`
    blocks (the value is every line up to the one that is exactly DELIMITER)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "the file ends with a newline"
    lines.pop()
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)  # ValueError: an unterminated block
            pairs.append((name, "\n".join(lines[i + 1 : end])))
            i = end + 1
        else:
            name, value = line.split("=", 1)
            pairs.append((name, value))
            i += 1
    return pairs


def _outputs(path: Path) -> dict[str, str]:
    pairs = _output_pairs(path)
    names = [name for name, _ in pairs]
    assert sorted(names) == [
        "artifact-name",
        "exit-code",
        "files",
        "grade",
        "report",
        "verdict",
    ], pairs  # each once
    return dict(pairs)


def _action_env(
    tmp_path: Path, yamlload: str | None, env_extra: dict[str, str] | None, inputs: dict[str, str]
) -> tuple[dict[str, str], Path]:
    outputs = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_")) and k not in ("JOB_INDEX", "MATRIX")
    }
    # The default command is `yamlload` on PATH: this venv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("YAMLLOAD", None)
    if yamlload is not None:
        env["YAMLLOAD"] = yamlload
    env.update(GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary))
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    env.update(env_extra or {})
    return env, outputs


def _start_action(
    tmp_path: Path, yamlload: str | None = None, **inputs: str
) -> tuple[subprocess.Popen[str], Path]:
    env, outputs = _action_env(tmp_path, yamlload, None, inputs)
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    return process, outputs


def _run_action(
    tmp_path: Path,
    yamlload: str | None = None,
    env: dict[str, str] | None = None,
    **inputs: str,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    env, outputs = _action_env(tmp_path, yamlload, env, inputs)
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
    run = next(s for s in steps if s.get("id") == "run")
    assert "always()" in upload["if"] and "steps.run.outputs.files != ''" in upload["if"]
    # Only the files this run wrote, listed by the script, never the raw report-dir
    # (`report-dir: .` would upload the workspace); a name unique per use (matrix).
    assert upload["with"]["path"] == "${{ steps.run.outputs.files }}"
    assert upload["with"]["name"] == "${{ steps.run.outputs.artifact-name }}"
    assert action["inputs"]["artifact-name"]["default"] == ""
    assert run["env"]["INPUT_ARTIFACT_NAME"] == "${{ inputs.artifact-name }}"
    assert run["env"]["JOB_INDEX"] == "${{ strategy.job-index }}"
    assert run["env"]["MATRIX"] == "${{ toJSON(matrix) }}"
    assert action["outputs"]["artifact-name"]["value"] == "${{ steps.run.outputs.artifact-name }}"
    assert ".github/actions/run_plan.py" in run["run"]
    # Inputs reach the script through the environment, never pasted into the shell.
    assert "${{" not in run["run"]
    for name in ("plan", "ensure", "args", "report-dir"):
        assert run["env"][f"INPUT_{name.upper().replace('-', '_')}"] == f"${{{{ inputs.{name} }}}}"
    assert action["outputs"]["verdict"]["value"] == "${{ steps.run.outputs.verdict }}"
    assert action["outputs"]["grade"]["value"] == "${{ steps.run.outputs.grade }}"


def _fake_yamlload(
    tmp_path: Path, code: int, grade: str | None = None, log: Path | None = None
) -> str:
    """A stand-in for yamlload (the action's YAMLLOAD): it exits `code`, after writing a
    report.json graded `grade` where -o says when `grade` is given."""
    script = tmp_path / "fake_yamlload.py"
    script.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"log = {None if log is None else str(log)!r}\n"
        "if log is not None:\n"
        "    open(log, 'w').close()\n"
        f"grade = {grade!r}\n"
        "if grade is not None:\n"
        "    with open(args[args.index('-o') + 1], 'w') as f:\n"
        "        json.dump({'grade': {'overall': grade}}, f)\n"
        f"sys.exit({code})\n",
        encoding="utf-8",
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def _assert_one_error(result: subprocess.CompletedProcess[str], outputs: Path) -> dict[str, str]:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    values = _outputs(outputs)  # each output exactly once
    assert values["verdict"] == "error", values
    assert values["grade"] == "", values
    return values


def test_action_stale_report_grade_is_never_output_with_an_error(tmp_path: Path) -> None:
    reports = tmp_path / "yamlload-reports"
    reports.mkdir()
    (reports / "report.json").write_text('{"grade": {"overall": "A"}}', encoding="utf-8")
    (reports / "report.html").write_text("old", encoding="utf-8")
    result, outputs = _run_action(tmp_path, yamlload=_fake_yamlload(tmp_path, 2), plan="plan.yml")
    assert result.returncode == 2, result.stdout + result.stderr
    values = _assert_one_error(result, outputs)
    assert values["report"] == ""  # no report written by this run
    # The last run's reports are gone: the artifact never shows them as this run's.
    assert not (reports / "report.json").exists()
    assert not (reports / "report.html").exists()


@pytest.mark.parametrize("code", [2, 4, 70, 129, 130, 143, 5])
def test_action_error_exit_codes_never_output_a_grade(tmp_path: Path, code: int) -> None:
    # yamlload wrote a graded report and still exited with an error (70: a bug, 130/143:
    # stopped): the verdict is error and no grade stands next to it.
    result, outputs = _run_action(
        tmp_path, yamlload=_fake_yamlload(tmp_path, code, grade="B"), plan="plan.yml"
    )
    assert result.returncode == code, result.stdout + result.stderr
    values = _assert_one_error(result, outputs)
    assert values["exit-code"] == str(code)


@pytest.mark.parametrize(("code", "verdict"), [(0, "pass"), (1, "fail"), (3, "invalid")])
def test_action_verdicts_with_a_grade(tmp_path: Path, code: int, verdict: str) -> None:
    result, outputs = _run_action(
        tmp_path, yamlload=_fake_yamlload(tmp_path, code, grade="C"), plan="plan.yml"
    )
    assert result.returncode == code, result.stdout + result.stderr
    values = _outputs(outputs)
    assert (values["verdict"], values["grade"]) == (verdict, "C")
    assert values["report"] == str(Path("yamlload-reports/report.json"))


def test_action_every_exit_code_is_documented_with_its_verdict() -> None:
    ci = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    line = next(x for x in ci.splitlines() if x.startswith("| `verdict` |"))
    for code in ("0", "1", "2", "3", "4", "70", "129", "130", "143", "127"):
        assert re.search(rf"\b{code}\b", line), (code, line)


def test_action_output_values_cannot_inject_other_outputs(tmp_path: Path) -> None:
    # A report-dir with a newline is refused (upload-artifact would read each line as a
    # path); the outputs stay one block each: written as name<<DELIMITER blocks.
    report_dir = "out\nverdict=pass\ngrade=A"
    result, outputs = _run_action(
        tmp_path,
        yamlload=_fake_yamlload(tmp_path, 1, grade="D"),
        plan="p.yml",
        report_dir=report_dir,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    values = _assert_one_error(result, outputs)
    assert values["files"] == "" and values["report"] == ""
    assert "report-dir" in result.stderr
    # The delimiter is random: a value cannot guess it.
    raw = outputs.read_text(encoding="utf-8").splitlines()
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    _, outputs2 = _run_action(second_dir, yamlload=_fake_yamlload(tmp_path, 0), plan="p.yml")
    first = {line.split("<<", 1)[1] for line in raw if line.startswith("verdict<<")}
    second = {
        line.split("<<", 1)[1]
        for line in outputs2.read_text(encoding="utf-8").splitlines()
        if line.startswith("verdict<<")
    }
    assert len(first) == 1 and len(second) == 1 and first != second


@pytest.mark.parametrize(
    "report_dir",
    ["out\nelse", "*", "re?orts", "[ab]", "!secret", "a/**", "#out", "./#out", "~/out", "~x"],
)
def test_action_report_dir_with_glob_or_newline_is_refused(tmp_path: Path, report_dir: str) -> None:
    result, outputs = _run_action(
        tmp_path,
        yamlload=_fake_yamlload(tmp_path, 0, grade="A"),
        plan="p.yml",
        report_dir=report_dir,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_error(result, outputs)
    assert "yamlload action: the input `report-dir`" in result.stderr


def test_action_uploads_only_the_reports_it_wrote(tmp_path: Path) -> None:
    # `report-dir: .` must not upload the workspace (a .env, the sources): the artifact's
    # paths are the reports this run wrote, one exact path a line.
    (tmp_path / ".env").write_text("TOKEN=secret\n", encoding="utf-8")
    result, outputs = _run_action(
        tmp_path, yamlload=_fake_yamlload(tmp_path, 0, grade="B"), plan="p.yml", report_dir="."
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = _outputs(outputs)
    assert values["files"].split("\n") == [str(Path(".") / "report.json")], values
    for path in values["files"].split("\n"):
        assert (tmp_path / path).is_file()


def _artifact_name(tmp_path: Path, **extra: str) -> str:
    env = {"GITHUB_JOB": "load", "JOB_INDEX": "0", "MATRIX": "null"}
    env.update(extra)
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # a $GITHUB_OUTPUT of its own
    result, outputs = _run_action(
        tmp_path, yamlload=_fake_yamlload(tmp_path, 0), env=env, plan="plans/smoke.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    name = _outputs(outputs)["artifact-name"]
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name  # what upload-artifact accepts
    return name


def test_action_default_artifact_name_is_unique_per_use(tmp_path: Path) -> None:
    # upload-artifact@v4 refuses a second artifact of the same name in one workflow run:
    # a matrix's jobs, two jobs, or two uses with other inputs each get their own.
    first = _artifact_name(tmp_path)
    assert first.startswith("yamlload-") and "load" in first and "smoke" in first, first
    assert _artifact_name(tmp_path) == first  # the same use, the same name
    assert _artifact_name(tmp_path, JOB_INDEX="1", MATRIX='{"os": "b"}') != first
    assert _artifact_name(tmp_path, MATRIX='{"os": "b"}') != first
    assert _artifact_name(tmp_path, GITHUB_JOB="other") != first
    assert _artifact_name(tmp_path, INPUT_ARGS="--seed 1") != first
    assert _artifact_name(tmp_path, INPUT_ARTIFACT_NAME="mine") == "mine"


@pytest.mark.parametrize("name", ["a/b", "a\nb", 'a"b', "a:b", "a*b", " "])
def test_action_artifact_name_input_upload_artifact_refuses_is_refused(
    tmp_path: Path, name: str
) -> None:
    result, outputs = _run_action(
        tmp_path, yamlload=_fake_yamlload(tmp_path, 0), plan="p.yml", artifact_name=name
    )
    if not name.strip():  # blank: the default name
        assert result.returncode == 0, result.stdout + result.stderr
        return
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_error(result, outputs)
    assert "yamlload action: the input `artifact-name`" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        "-o x.json",
        "--output=x.json",
        "--html r.html",
        "--junit=j.xml",
        "-qo x.json",
        "-h",
        "--help",
    ],
)
def test_action_args_that_take_over_its_reports_are_refused(tmp_path: Path, args: str) -> None:
    # `-o` in args would win over the action's own -o: the verdict pass, the report empty.
    log = tmp_path / "ran"
    result, outputs = _run_action(
        tmp_path,
        yamlload=_fake_yamlload(tmp_path, 0, grade="A", log=log),
        plan="p.yml",
        args=args,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_error(result, outputs)
    assert "yamlload action: the input `args`" in result.stderr
    assert not log.exists()  # yamlload never ran


def test_action_args_that_only_look_alike_run(tmp_path: Path) -> None:
    result, outputs = _run_action(
        tmp_path,
        yamlload=_fake_yamlload(tmp_path, 0, grade="A"),
        plan="p.yml",
        args="-t http://h --summary-md s.md --csv out --seed 3 -q -k",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _outputs(outputs)["verdict"] == "pass"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_action_cancelled_forwards_the_signal_and_writes_its_outputs(
    tmp_path: Path, signum: int
) -> None:
    # GitHub cancels a job with SIGINT, then SIGTERM: the script forwards the signal to
    # yamlload once, waits for it (it writes its report), then writes its outputs.
    ready = tmp_path / "ready"
    got = tmp_path / "got"
    script = tmp_path / "slow_yamlload.py"
    script.write_text(
        "import json, signal, sys, time\n"
        "args = sys.argv[1:]\n"
        "def stop(signum, frame):\n"
        f"    open({str(got)!r}, 'a').write(str(signum) + '\\n')\n"
        "    with open(args[args.index('-o') + 1], 'w') as f:\n"
        "        json.dump({'grade': {'overall': 'B'}}, f)\n"
        "    sys.exit(128 + signum)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "while True:\n"
        "    time.sleep(0.05)\n",
        encoding="utf-8",
    )
    yamlload = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    process, outputs = _start_action(tmp_path, yamlload=yamlload, plan="p.yml")
    deadline = time.monotonic() + TIMEOUT
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the stand-in yamlload never started"
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    code = 128 + signum
    assert process.returncode == code, stdout + stderr
    assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stderr, stderr
    values = _outputs(outputs)
    assert (values["verdict"], values["grade"], values["exit-code"]) == ("error", "", str(code))
    assert values["report"] == str(Path("yamlload-reports/report.json"))
    assert values["files"] == values["report"]
    assert got.read_text(encoding="utf-8").split() == [str(int(signum))]  # forwarded once


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"plan": "plan.yml", "args": "--target 'http://127.0.0.1:1"}, "args"),
        ({"plan": ""}, "plan"),
        ({"plan": "   "}, "plan"),
    ],
)
def test_action_bad_inputs_are_one_verdict_error_without_a_traceback(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    result, outputs = _run_action(tmp_path, yamlload=_fake_yamlload(tmp_path, 0), **inputs)
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_error(result, outputs)
    assert f"yamlload action: the input `{message}`" in result.stderr


def test_action_report_dir_that_is_a_file_is_verdict_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    result, outputs = _run_action(
        tmp_path, yamlload=_fake_yamlload(tmp_path, 0), plan="p.yml", report_dir="taken"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_error(result, outputs)
    assert "report-dir" in result.stderr


def test_action_yamlload_not_found_is_verdict_error(tmp_path: Path) -> None:
    result, outputs = _run_action(
        tmp_path, yamlload=str(tmp_path / "no-such-yamlload"), plan="p.yml"
    )
    assert result.returncode == 127, result.stdout + result.stderr
    values = _assert_one_error(result, outputs)
    assert values["exit-code"] == "127"


def test_action_plan_named_like_an_option_is_a_file(tmp_path: Path) -> None:
    # `--help` is a file name here: yamlload must not print its help and exit 0 (a pass).
    result, outputs = _run_action(tmp_path, plan="--help", args=SHORT)
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_error(result, outputs)
    assert "Usage:" not in result.stdout


def test_action_plan_file_beginning_with_dashes_runs(tmp_path: Path, plan: str) -> None:
    (tmp_path / plan).rename(tmp_path / "--x.yml")
    result, outputs = _run_action(tmp_path, plan="--x.yml", args=SHORT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _outputs(outputs)["verdict"] == "pass"


def _install_step_argv(tmp_path: Path, version: str) -> list[str]:
    """Run action.yml's install step as GitHub would (bash, its env with the input
    filled in), with a stand-in `python` that records its arguments."""
    action = YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))
    step = next(s for s in action["runs"]["steps"] if s.get("name") == "install yamlload")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv"
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {shlex.quote(str(log))}\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "GITHUB_ACTION_PATH": "/the/action"}
    for name, value in step.get("env", {}).items():
        env[name] = value.replace("${{ inputs.version }}", version)
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, timeout=TIMEOUT)
    return log.read_text(encoding="utf-8").splitlines()


def test_action_installs_its_own_version_by_default(tmp_path: Path) -> None:
    # The default `version` is empty: yamlload is installed from the action's own
    # checkout, so `uses: OWNER/yamlload@v0.1.0` runs yamlload 0.1.0.
    action = YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))
    assert action["inputs"]["version"]["default"] == ""
    argv = _install_step_argv(tmp_path, "")
    assert argv[-1] == "/the/action", argv


def test_action_version_input_is_what_pip_installs(tmp_path: Path) -> None:
    argv = _install_step_argv(tmp_path, "yamlload==0.1.0")
    assert argv[:3] == ["-m", "pip", "install"], argv
    assert argv[-1] == "yamlload==0.1.0", argv
