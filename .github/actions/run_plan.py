"""The yamlload GitHub Action's run step (action.yml calls it): run one plan with the
action's inputs, write the reports into the report folder, and set the step's outputs.

Inputs come from the environment, as action.yml passes them:
  INPUT_PLAN        the plan file (required; a name beginning with `-` is still a file)
  INPUT_ENSURE      checks, one expression per line (blank lines and `#` lines skipped)
  INPUT_ARGS        more arguments for `yamlload run`, split as a shell would
  INPUT_REPORT_DIR  where report.json, report.html and junit.xml go (no newline and no
                    glob character: `*?[]{}`, a leading `!`)
  INPUT_ARTIFACT_NAME  the artifact's name; empty: one unique per use (below)
  GITHUB_JOB, JOB_INDEX, MATRIX  the job's id, `strategy.job-index` and `toJSON(matrix)`
  YAMLLOAD          the command to run (default: `yamlload` on PATH)

`args` may not hold `-o/--output`, `--html`, `--junit` (they would take the action's own
report paths over: a pass with no grade and no report) nor `-h/--help` (exit 0, a pass).

The default artifact name is `yamlload-JOB-PLAN-HASH`: the job's id, the plan's stem,
and 10 hex digits of a hash of the job index, the matrix values and every input, so the
jobs of a matrix and two uses with other inputs in one run never share a name
(upload-artifact@v4 refuses a second artifact of the same name in a workflow run).

Before the run, the report folder's report.json, report.html and junit.xml are deleted:
the outputs and the uploaded artifact only ever show this run's reports.

Outputs, appended to $GITHUB_OUTPUT as `name<<DELIMITER` blocks with a random delimiter
(a value holding a newline stays one value): `verdict`, `grade`, `exit-code`, `report`,
`files` (the reports this run wrote, one exact path a line: what action.yml uploads, never
the whole report-dir) and `artifact-name`.
The verdict is `pass` (exit 0), `fail` (1: a check failed), `invalid` (3: the run measured
nothing trustworthy) or `error`: any other exit (2: a wrong plan, option or check; 4: a
report could not be written; 70: a bug in yamlload; 129/130/143: stopped by SIGHUP, Ctrl-C
or SIGTERM; 128+N: killed by signal N), 127 when the yamlload command is not found, and 2
when this script refuses an input (an empty `plan`, `args` a shell cannot split, a
`report-dir` that is not a folder). Every path ends in exactly one set of outputs and no
traceback, also when the step is cancelled: SIGINT, SIGTERM and SIGHUP are forwarded
to yamlload (started in a session of its own, so it gets each signal once), which
writes its report and exits 130/143/129: verdict error. `grade` is the JSON report's
`grade.overall`, and empty with `error`;
`report` is the JSON report's path, empty when this run wrote none.

yamlload itself appends its Markdown summary to $GITHUB_STEP_SUMMARY. The script exits
with yamlload's exit code, so the step fails when the run does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

VERDICTS = {0: "pass", 1: "fail", 3: "invalid"}
EXIT_REFUSED = 2  # an input this script cannot use (as yamlload's usage errors)
EXIT_NOT_FOUND = 127  # the yamlload command is not there (as a shell reports it)
REPORTS = ("report.json", "report.html", "junit.xml")
GLOB = re.compile(r"[*?\[\]{}\n\r]|^\s*!")  # what upload-artifact's path reads as a pattern
ARTIFACT_BAD = re.compile(r'[":<>|*?\r\n\\/]')  # what upload-artifact@v4 refuses in a name
# Options of `yamlload run` that would take over the action's reports, or print help.
TAKEN_LONG = {
    "--output": "-o/--output",
    "--html": "--html",
    "--junit": "--junit",
    "--help": "--help",
}
TAKEN_SHORT = {"o": "-o/--output", "h": "-h/--help"}
SHORT_WITH_VALUE = set("cetpvo")  # a short option whose value may follow in the same word
# SIGHUP is POSIX only (a Windows runner has SIGINT and SIGTERM).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Refused(Exception):
    """An input the action cannot use: told in one line, then verdict=error."""


def verdict_of(code: int) -> str:
    return VERDICTS.get(code, "error")


def ensure_lines(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _split(name: str, text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:  # an unbalanced quote, a trailing backslash
        raise Refused(f"the input `{name}` cannot be split as a shell would: {exc}") from None


def refuse_taken_options(args: list[str]) -> None:
    for word in args:
        if word == "--":
            return
        if word.startswith("--"):
            taken = TAKEN_LONG.get(word.split("=", 1)[0])
        elif word.startswith("-") and len(word) > 1:
            taken = None
            for letter in word[1:]:
                taken = TAKEN_SHORT.get(letter)
                if taken or letter in SHORT_WITH_VALUE:
                    break
        else:
            continue
        if taken:
            raise Refused(
                f"the input `args` may not hold {taken} ({word!r}): the action sets the"
                " report paths itself (report-dir), and help would pass as a run"
            )


def command(env: dict[str, str], report_dir: Path) -> list[str]:
    plan = env.get("INPUT_PLAN", "").strip()
    if not plan:
        raise Refused("the input `plan` is required (the plan file to run)")
    if plan.startswith("-"):
        plan = "./" + plan  # a file, never an option (`--help` would exit 0: a pass)
    yamlload = _split("YAMLLOAD", env.get("YAMLLOAD", "")) or ["yamlload"]
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
    args = _split("args", env.get("INPUT_ARGS", ""))
    refuse_taken_options(args)
    return cmd + args


def report_dir_of(env: dict[str, str]) -> Path:
    text = env.get("INPUT_REPORT_DIR", "").strip() or "yamlload-reports"
    if GLOB.search(text):
        raise Refused(
            f"the input `report-dir` ({text!r}) may not hold a newline, a glob character"
            " (* ? [ ] { }) nor begin with `!`: upload-artifact would read it as a pattern"
        )
    if str(Path(text)).startswith(("#", "~")):  # Path drops a leading `./`
        raise Refused(
            f"the input `report-dir` ({text!r}) may not begin with `#` or `~`: "
            "upload-artifact would read the line as a comment, or expand `~` to another "
            "folder: choose another name"
        )
    return Path(text)


def artifact_name(env: dict[str, str]) -> str:
    given = env.get("INPUT_ARTIFACT_NAME", "").strip()
    if given:
        if ARTIFACT_BAD.search(given):
            raise Refused(
                f"the input `artifact-name` ({given!r}) may not hold " + r'" : < > | * ? \ /'
                " nor a newline (upload-artifact refuses them)"
            )
        return given
    keys = ("GITHUB_JOB", "JOB_INDEX", "MATRIX", "INPUT_PLAN", "INPUT_ENSURE", "INPUT_ARGS")
    seed = json.dumps([env.get(k, "") for k in (*keys, "INPUT_REPORT_DIR")])
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:10]

    def word(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "x"

    plan = Path(env.get("INPUT_PLAN", "").strip() or "plan").stem
    return f"yamlload-{word(env.get('GITHUB_JOB', '') or 'job')}-{word(plan)}-{digest}"


def written_files(report_dir: Path) -> list[str]:
    """The reports this run wrote: exact paths inside report_dir, none a pattern."""
    return [
        str(report_dir / name)
        for name in REPORTS
        if (report_dir / name).is_file() and not (report_dir / name).is_symlink()
    ]


def fresh_report_dir(report_dir: Path) -> None:
    """Make the folder and delete the reports a previous run left in it."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        for name in REPORTS:
            (report_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise Refused(
            f"the input `report-dir` ({report_dir}) is not a usable folder: {exc}"
        ) from None


def grade_of(report: Path) -> str:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        overall = data["grade"]["overall"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return overall if isinstance(overall, str) else ""


def output_block(name: str, value: str) -> str:
    """One output in GitHub's multiline form, with a delimiter the value cannot hold."""
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def write_outputs(path: str | None, values: dict[str, str]) -> None:
    text = "".join(output_block(name, value) for name, value in values.items())
    if path:
        try:
            with open(path, "a", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            print(f"yamlload action: cannot write $GITHUB_OUTPUT ({path}): {exc}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def wait_forwarding_signals(cmd: list[str]) -> int:
    """Run cmd in a session of its own; forward SIGINT/SIGTERM/SIGHUP to it (once each
    time one arrives) and wait for it, so a cancelled step still ends with outputs."""
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        child = subprocess.Popen(cmd, start_new_session=True)
        sent = 0
        while True:
            while sent < len(received):
                # OSError: it has just ended; ValueError: a signal Windows cannot send
                with contextlib.suppress(OSError, ValueError):
                    child.send_signal(received[sent])
                sent += 1
            try:
                return child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(env: dict[str, str], report_dir: Path) -> tuple[int, str]:
    """Run yamlload; return its exit code (as a shell reports it) and the report's path."""
    cmd = command(env, report_dir)
    fresh_report_dir(report_dir)
    print("+ " + shlex.join(cmd), flush=True)
    try:
        code = wait_forwarding_signals(cmd)
    except OSError as exc:  # not found, not executable
        print(f"yamlload action: cannot run {cmd[0]}: {exc}", file=sys.stderr, flush=True)
        return EXIT_NOT_FOUND, ""
    if code < 0:
        code = 128 - code  # killed by a signal: as a shell reports it
    report = report_dir / "report.json"
    return code, str(report) if report.is_file() else ""


def main() -> int:
    env = dict(os.environ)
    files: list[str] = []
    name = ""
    try:
        report_dir = report_dir_of(env)
        name = artifact_name(env)
        code, report = run(env, report_dir)
        files = written_files(report_dir)
    except Refused as exc:
        print(f"yamlload action: {exc}", file=sys.stderr, flush=True)
        code, report = EXIT_REFUSED, ""
    verdict = verdict_of(code)
    # A grade stands only next to a run that was judged; with `error` it could be a
    # partial run's (70, 130) or nobody's.
    grade = grade_of(Path(report)) if report and verdict != "error" else ""
    write_outputs(
        env.get("GITHUB_OUTPUT"),
        {
            "verdict": verdict,
            "grade": grade,
            "exit-code": str(code),
            "report": report,
            "files": "\n".join(files),
            "artifact-name": name,
        },
    )
    print(f"yamlload action: verdict={verdict} grade={grade or '-'} (exit {code})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
