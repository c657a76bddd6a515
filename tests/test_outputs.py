"""Output paths never destroy what they point at, and a report that cannot be written is
said, one line each, with exit 4 (docs/reliability.md, "Output paths").

Every run here loads a server this test starts on 127.0.0.1, for a second at most."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from yamlload.errors import EXIT_OUTPUT_FAILED
from yamlload.report import outputs as _outputs

PLAN = """\
config:
  target: {url}
  phases:
    - {{duration: 1, arrivalCount: 2}}
scenarios:
  - flow:
      - get: {{url: /ok}}
"""


@pytest.fixture
def server(fresh_server: ServerThread) -> ServerThread:
    """A server per test (tests/conftest.py): `sent` counts every request it saw."""
    return fresh_server


@pytest.fixture
def plan(tmp_path: Path, server: ServerThread) -> Path:
    path = tmp_path / "plan.yml"
    path.write_text(PLAN.format(url=server.url), encoding="utf-8")
    return path


def sent(server: ServerThread) -> int:
    return sum(server.hits().values())


def leftovers(folder: Path) -> list[str]:
    """The atomic writer's temporary files still in a folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- item 2: checked before any traffic -----------------------------------------------


@pytest.mark.parametrize("flag", ["-o", "--html", "--junit", "--summary-md"])
def test_an_output_that_is_the_plan_is_refused_before_any_request(
    flag: str, plan: Path, server: ServerThread
) -> None:
    before = plan.read_bytes()
    result = run_cli("run", "-q", str(plan), flag, str(plan))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"{flag} {plan}: it is the plan this run reads" in result.stderr
    assert plan.read_bytes() == before
    assert sent(server) == 0


def test_the_plan_is_recognised_by_another_spelling_or_a_link(
    plan: Path, server: ServerThread, tmp_path: Path
) -> None:
    before = plan.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.yml").symlink_to(plan)
    os.link(plan, tmp_path / "hard.yml")
    for path in (
        tmp_path / "sub" / ".." / "plan.yml",
        tmp_path / "link.yml",
        tmp_path / "hard.yml",
    ):
        result = run_cli("run", "-q", str(plan), "-o", str(path))
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "it is the plan this run reads" in result.stderr
    assert plan.read_bytes() == before
    assert sent(server) == 0


def test_a_csv_prefix_cannot_name_the_plan(tmp_path: Path, server: ServerThread) -> None:
    plan = tmp_path / "x-periods.csv"
    plan.write_text(PLAN.format(url=server.url), encoding="utf-8")
    result = run_cli("run", "-q", str(plan), "--csv", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "it is the plan this run reads" in result.stderr
    assert sent(server) == 0


def test_no_other_input_of_the_run_can_be_an_output(tmp_path: Path, server: ServerThread) -> None:
    (tmp_path / "users.csv").write_text("ann\nbob\n", encoding="utf-8")
    (tmp_path / "extra.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "hooks.py").write_text("def hook(req, ctx, ee, next):\n    next()\n", "utf-8")
    (tmp_path / "ci.env").write_text("A=1\n", encoding="utf-8")
    (tmp_path / "common.yml").write_text("config:\n  http: {timeout: 5}\n", encoding="utf-8")
    plan = tmp_path / "plan.yml"
    plan.write_text(
        PLAN.format(url=server.url).replace(
            "  phases:",
            "  processor: hooks.py\n  payload:\n    - {path: users.csv, fields: [name]}\n"
            "    - {fields: [x]}\n  phases:",
        ),
        encoding="utf-8",
    )
    inputs = {
        "users.csv": "a payload file",
        "extra.csv": "a payload file",
        "hooks.py": "the processor",
        "ci.env": "the --dotenv file",
        "common.yml": "the --config file",
    }
    common = ["run", "-q", str(plan), "-p", str(tmp_path / "extra.csv")]
    common += ["--dotenv", str(tmp_path / "ci.env"), "-c", str(tmp_path / "common.yml")]
    ok = run_cli(*common, "-o", str(tmp_path / "r.json"))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    served = sent(server)
    for name, what in inputs.items():
        before = (tmp_path / name).read_bytes()
        result = run_cli(*common, "--html", str(tmp_path / name))
        assert result.exit_code == 2, result.stdout + result.stderr
        assert f"--html {tmp_path / name}: it is {what} this run reads" in result.stderr
        assert (tmp_path / name).read_bytes() == before
    assert sent(server) == served


def test_report_compare_and_merge_never_write_over_a_report_they_read(
    plan: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    assert run_cli("run", "-q", str(plan), "-o", str(report)).exit_code == 0
    before = report.read_bytes()
    for args in (
        ["report", str(report), "-o", str(report)],
        ["compare", str(report), str(report), "--html", str(report)],
        ["merge", str(report), "-o", str(report)],
    ):
        result = run_cli(*args)
        assert result.exit_code == 2, args
        assert f"{report}: it is a report this command reads" in result.stderr, args
        assert report.read_bytes() == before
    # a JSON report named .html: the default output would be the file itself
    named_html = tmp_path / "r.html"
    shutil.copy(report, named_html)
    result = run_cli("report", str(named_html))
    assert result.exit_code == 2
    assert f"-o (by default) {named_html}: it is a report this command reads" in result.stderr
    assert named_html.read_bytes() == before


def test_two_outputs_of_one_run_cannot_be_the_same_file(
    plan: Path, server: ServerThread, tmp_path: Path
) -> None:
    same = tmp_path / "out"
    for pair in (("-o", "--html"), ("--junit", "--summary-md")):
        result = run_cli("run", "-q", str(plan), pair[0], str(same), pair[1], str(same))
        assert result.exit_code == 2
        assert f"{pair[1]} {same}: it is also the {pair[0]} output" in result.stderr
    assert not same.exists()
    assert sent(server) == 0


def test_a_folder_or_a_socket_is_never_replaced(
    plan: Path, server: ServerThread, tmp_path: Path
) -> None:
    result = run_cli("run", "-q", str(plan), "--summary-md", str(tmp_path))
    assert result.exit_code == 2  # click says "is a directory" for most flags
    (tmp_path / "x-periods.csv").mkdir()
    result = run_cli("run", "-q", str(plan), "--csv", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert f"--csv {tmp_path / 'x-periods.csv'}: is a folder" in result.stderr
    import socket

    sock_path = tmp_path / "s.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    try:
        result = run_cli("run", "-q", str(plan), "-o", str(sock_path))
    finally:
        listener.close()
    assert result.exit_code == 2
    assert "not a regular file, a character device or a FIFO" in result.stderr
    assert stat.S_ISSOCK(sock_path.lstat().st_mode)
    assert sent(server) == 0


def test_a_fifo_is_written_in_place_not_replaced(plan: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as source:
            received.append(source.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = run_cli("run", "-q", str(plan), "-o", str(fifo), "--junit", str(tmp_path / "j.xml"))
    reader.join(10)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received and json.loads(received[0])["aggregate"]


def test_a_fifo_nobody_reads_is_a_failed_output_not_a_hang(plan: Path, tmp_path: Path) -> None:
    """Opening a FIFO with no reader blocks for ever, and signals are held while the
    report is written: it must fail at once instead (exit 4), the others written."""
    fifo = tmp_path / "nobody-reads"
    os.mkfifo(fifo)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "yamlload",
            "run",
            "-q",
            str(plan),
            "-o",
            str(fifo),
            "--junit",
            str(tmp_path / "j.xml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == EXIT_OUTPUT_FAILED, done.stderr
    assert f"could not write the JSON report {fifo}: No such device or address" in done.stderr
    assert (tmp_path / "j.xml").stat().st_size > 0


def test_dev_null_stays_a_device(plan: Path) -> None:
    result = run_cli("run", "-q", str(plan), "-o", os.devnull, "--html", os.devnull)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)


@pytest.mark.parametrize("command", ["run", "capacity"])
def test_a_dash_is_standard_output(plan: Path, tmp_path: Path, command: str) -> None:
    """`-o -` wrote a file named `-` (issue 22 attacker review): it is stdout, as for
    `convert -o -`, and the console's lines go to stderr."""
    flags = ["--slo", "p95<5000", "--from", "20", "--to", "20", "--step", "1s"]
    args = [sys.executable, "-m", "yamlload", command, str(plan), "-o", "-"]
    args += flags if command == "capacity" else []
    piped = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert json.loads(piped.stdout)["aggregate"]["counters"]["http.requests"] >= 2, piped.stderr
    assert "Report: standard output" in piped.stderr
    assert not (tmp_path / "-").exists()


def test_two_outputs_in_standard_output_are_refused(plan: Path, server: ServerThread) -> None:
    result = run_cli("run", str(plan), "-o", "-", "--summary-md", "/dev/stdout")
    assert result.exit_code == 2
    assert "it is also the" in result.stderr
    assert sent(server) == 0


def test_dev_stdout_gets_the_report(plan: Path, tmp_path: Path) -> None:
    """`-o /dev/stdout | jq`: stdout carries the JSON report alone; the console's lines
    (the summary, "Report: …") go to stderr."""
    command = [sys.executable, "-m", "yamlload", "run", str(plan), "-o", "/dev/stdout"]
    piped = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["aggregate"]["counters"]["http.requests"] == 2
    assert "Summary" in piped.stderr and "Report: /dev/stdout" in piped.stderr
    # stdout redirected to a file: the file holds the report, whole
    out = tmp_path / "out.txt"
    with out.open("w") as sink:
        redirected = subprocess.run(command, stdout=sink, text=True, timeout=60, cwd=REPO)
    assert redirected.returncode == 0
    assert json.loads(out.read_text(encoding="utf-8"))["aggregate"]


def test_a_missing_output_folder_is_created(plan: Path, tmp_path: Path) -> None:
    base = tmp_path / "new"
    result = run_cli(
        "run",
        "-q",
        str(plan),
        "-o",
        str(base / "a" / "r.json"),
        "--html",
        str(base / "b" / "r.html"),
        "--junit",
        str(base / "c" / "j.xml"),
        "--summary-md",
        str(base / "d" / "s.md"),
        "--csv",
        str(base / "e" / "run"),
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    for path in ("a/r.json", "b/r.html", "c/j.xml", "d/s.md", "e/run-periods.csv"):
        assert (base / path).is_file(), path


def test_an_output_folder_that_cannot_be_made_is_refused_before_any_request(
    plan: Path, server: ServerThread, tmp_path: Path
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run_cli("run", "-q", str(plan), "--html", str(blocker / "r.html"))
    assert result.exit_code == 2
    assert f"--html {blocker / 'r.html'}: cannot write in {blocker}" in result.stderr
    assert sent(server) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_any_request(
    plan: Path, server: ServerThread, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_cli("run", "-q", str(plan), "-o", str(locked / "r.json"))
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2
    assert "cannot write in" in result.stderr
    assert sent(server) == 0


def test_the_probe_decides_writability(
    plan: Path, server: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder where no file can be made (read-only, or full) is found by the probe."""

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_outputs.tempfile, "mkstemp", full)
    result = run_cli("run", "-q", str(plan), "-o", str(tmp_path / "r.json"))
    assert result.exit_code == 2
    assert "No space left on device" in result.stderr
    assert sent(server) == 0


# --- item 5: failures after the load ---------------------------------------------------


def test_a_failed_output_never_stops_the_others_and_exits_4(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace(source: str, destination: str) -> None:
        if str(destination).endswith(".json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(source, destination)

    monkeypatch.setattr(_outputs.os, "replace", replace)
    # a failing check too: 4 wins over 1, since CI must not trust a run without its report
    result = run_cli(
        "run",
        "-q",
        str(plan),
        "-o",
        str(tmp_path / "r.json"),
        "--html",
        str(tmp_path / "r.html"),
        "--junit",
        str(tmp_path / "j.xml"),
        "--summary-md",
        str(tmp_path / "s.md"),
        "--csv",
        str(tmp_path / "run"),
        "--ensure",
        "http.requests > 1000",
    )
    assert result.exit_code == EXIT_OUTPUT_FAILED == 4, result.stdout + result.stderr
    failures = [line for line in result.stderr.splitlines() if "could not write" in line]
    assert failures == [
        f"error: could not write the JSON report {tmp_path / 'r.json'}: No space left on device"
    ]
    for name in ("r.html", "j.xml", "s.md", "run-periods.csv", "run-endpoints.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "r.json").exists()
    assert leftovers(tmp_path) == []


def test_a_csv_that_fails_midway_keeps_the_previous_file_whole(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.report import csvfiles

    previous = tmp_path / "run-endpoints.csv"
    previous.write_text("the previous run's rows\n", encoding="utf-8")
    real_write = csvfiles._write_endpoints

    def full_after_the_header(summary, out) -> None:  # type: ignore[no-untyped-def]
        real_write(summary, out)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(csvfiles, "_write_endpoints", full_after_the_header)
    result = run_cli(
        "run", "-q", str(plan), "-o", str(tmp_path / "r.json"), "--csv", str(tmp_path / "run")
    )
    assert result.exit_code == EXIT_OUTPUT_FAILED, result.stdout + result.stderr
    assert f"could not write the endpoints CSV {previous}: No space left" in result.stderr
    assert previous.read_text(encoding="utf-8") == "the previous run's rows\n"
    assert (tmp_path / "run-periods.csv").read_text(encoding="utf-8").startswith("period_start_s,")
    assert leftovers(tmp_path) == []


def test_a_failed_periods_csv_never_stops_the_endpoints_csv(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.report import csvfiles

    def full(summary, out) -> None:  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(csvfiles, "_write_periods", full)
    result = run_cli(
        "run", "-q", str(plan), "-o", str(tmp_path / "r.json"), "--csv", str(tmp_path / "c")
    )
    assert result.exit_code == EXIT_OUTPUT_FAILED, result.stdout + result.stderr
    assert "could not write the periods CSV" in result.stderr
    assert (tmp_path / "c-endpoints.csv").read_text(encoding="utf-8").startswith("endpoint,")
    assert f"CSV: {tmp_path / 'c-endpoints.csv'}" in result.stdout


def test_an_output_folder_that_vanishes_during_the_load_exits_4(
    tmp_path: Path,
) -> None:
    """The folder passes the check, then is gone (replaced by a file) mid-run: every
    other output is still written, and exit 4 says one was not."""
    doomed = tmp_path / "doomed"
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        if doomed.is_dir():
            shutil.rmtree(doomed)
            doomed.write_text("in the way", encoding="utf-8")
        return web.json_response({"ok": True})

    app.add_routes([web.get("/ok", ok)])
    with ServerThread(app) as server:
        plan = tmp_path / "plan.yml"
        plan.write_text(PLAN.format(url=server.url), encoding="utf-8")
        result = run_cli(
            "run",
            "-q",
            str(plan),
            "-o",
            str(tmp_path / "r.json"),
            "--html",
            str(doomed / "r.html"),
        )
    assert result.exit_code == 4, result.stdout + result.stderr
    assert f"error: could not write the HTML report {doomed / 'r.html'}:" in result.stderr
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["aggregate"]


def test_a_failing_checkpoint_leaks_no_temporary_file(
    tmp_path: Path, server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(
        PLAN.format(url=server.url).replace(
            "duration: 1, arrivalCount: 2", "duration: 3, arrivalRate: 2"
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_outputs.os, "fsync", fsync)
    result = run_cli("run", "-q", str(plan), "-o", str(out / "r.json"), "--checkpoint", "1")
    assert result.exit_code == 4, result.stdout + result.stderr
    assert len(calls) >= 2  # at least one checkpoint and the final report tried
    assert "checkpoint not written" in result.stdout + result.stderr
    assert leftovers(out) == []
    assert not (out / "r.json").exists()


def test_the_writer_removes_its_temporary_file_whatever_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    for name in ("fsync", "replace", "chmod"):
        with monkeypatch.context() as patch:

            def fail(*_: object, **__: object) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            patch.setattr(_outputs.os, name, fail)
            with pytest.raises(_outputs.OutputError) as caught:
                _outputs.write_text(target, "new")
        assert caught.value.exit_code == 4
        assert "No space left on device" in str(caught.value)
        assert target.read_text(encoding="utf-8") == "old", name
        assert leftovers(tmp_path) == [], name


def test_merge_and_report_exit_4_when_their_output_fails(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "r.json"
    assert run_cli("run", "-q", str(plan), "-o", str(report)).exit_code == 0

    def fail(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_outputs.os, "replace", fail)
    result = run_cli("report", str(report), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 4
    assert "could not write the HTML report" in result.stderr
    result = run_cli("merge", str(report), "-o", str(tmp_path / "m.json"))
    assert result.exit_code == 4
    assert "could not write the merged report" in result.stderr
    assert leftovers(tmp_path) == []


def test_a_csv_prefix_that_names_a_folder_writes_inside_it(plan: Path, tmp_path: Path) -> None:
    folder = tmp_path / "results"
    result = run_cli("run", "-q", str(plan), "-o", str(tmp_path / "r.json"), "--csv", f"{folder}/")
    assert result.exit_code == 0, result.stderr
    assert (folder / "yamlload-periods.csv").exists() and (
        folder / "yamlload-endpoints.csv"
    ).exists()
    assert not (folder / "-periods.csv").exists()
