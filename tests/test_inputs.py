"""Files a plan reads: confined to the plan's folder (and --allow-path folders), regular
files only, bounded before they are read, formData files read off the event loop, and
payload rows held compactly (issue 13, items 1 and 8)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread
from yamlload import PlanError, PlanOptions, UsageError, load_plan
from yamlload.plan.ir import Payload
from yamlload.plan.source import (
    MAX_NODES,
    MAX_PLAN_BYTES,
    FileTooLargeError,
    NotRegularFileError,
    parse_document,
    read_bounded,
)
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import FilePathError, RunOptions, read_payload, run_plan

REPO = Path(__file__).resolve().parents[1]
UPLOADS = web.AppKey("uploads", list)
NAME = web.AppKey("name", dict)


# ---- a hostile target: it names the file a user will upload


def hostile_app() -> web.Application:
    app = web.Application()
    app[UPLOADS] = []
    app[NAME] = {"name": "ok.txt"}

    async def name(request: web.Request) -> web.Response:
        return web.json_response({"name": app[NAME]["name"]})

    async def upload(request: web.Request) -> web.Response:
        app[UPLOADS].append(await request.read())
        return web.json_response({"ok": True})

    app.router.add_get("/name", name)
    app.router.add_post("/upload", upload)
    return app


@pytest.fixture(scope="module")
def hostile() -> Any:
    with ServerThread(hostile_app()) as running:
        yield running


UPLOAD_PLAN = (
    "config:\n  phases: [{duration: 1, arrivalCount: 1}]\n"
    "scenarios:\n  - flow:\n"
    "      - get: {url: /name, capture: {json: $.name, as: name}}\n"
    "      - post:\n          url: /upload\n"
    "          formData:\n            f: {fromFile: './files/{{ name }}'}\n"
)


def plan_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "plan"
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "ok.txt").write_text("inside-content", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside-secret", encoding="utf-8")
    (folder / "plan.yml").write_text(UPLOAD_PLAN, encoding="utf-8")
    return folder


def run_upload(server: ServerThread, folder: Path, name: str, **options: Any) -> Summary:
    server.app[NAME]["name"] = name
    server.app[UPLOADS].clear()
    plan = load_plan(str(folder / "plan.yml"), PlanOptions(target=server.url, **options))
    result = run_plan(plan, RunOptions(seed=1))
    return summarize(plan, result, "test")


def upload_errors(summary: Summary) -> dict[str, int]:
    return summary.counters_with("errors.")


@pytest.mark.parametrize(
    "name",
    [
        "../../secret.txt",
        "../../../../../../../../proc/self/environ",
        "/proc/self/environ",
        "/dev/zero",
        "../files/../../secret.txt",
        "ok.txt\x00",
    ],
)
def test_a_path_the_server_names_never_leaves_the_plans_folder(
    hostile: ServerThread, tmp_path: Path, name: str
) -> None:
    summary = run_upload(hostile, plan_folder(tmp_path), name)
    assert hostile.app[UPLOADS] == []  # never sent
    assert summary.counter("http.responses") == 1  # the GET only
    assert sum(upload_errors(summary).values()) == 1, upload_errors(summary)
    assert summary.counter("vusers.failed") == 1


def test_a_file_inside_the_plans_folder_is_uploaded(hostile: ServerThread, tmp_path: Path) -> None:
    summary = run_upload(hostile, plan_folder(tmp_path), "ok.txt")
    assert upload_errors(summary) == {}
    assert len(hostile.app[UPLOADS]) == 1
    assert b"inside-content" in hostile.app[UPLOADS][0]


def test_a_symlink_out_of_the_plans_folder_is_refused(
    hostile: ServerThread, tmp_path: Path
) -> None:
    folder = plan_folder(tmp_path)
    (folder / "files" / "link.txt").symlink_to(tmp_path / "secret.txt")
    summary = run_upload(hostile, folder, "link.txt")
    assert hostile.app[UPLOADS] == []
    assert sum(upload_errors(summary).values()) == 1


def test_allow_path_opens_a_folder_for_uploads(hostile: ServerThread, tmp_path: Path) -> None:
    folder = plan_folder(tmp_path)
    refused = run_upload(hostile, folder, "../../secret.txt")
    assert hostile.app[UPLOADS] == [] and sum(upload_errors(refused).values()) == 1
    allowed = run_upload(hostile, folder, "../../secret.txt", allow_paths=(str(tmp_path),))
    assert upload_errors(allowed) == {}
    assert b"outside-secret" in hostile.app[UPLOADS][0]


def test_a_fifo_inside_the_plans_folder_is_not_read(hostile: ServerThread, tmp_path: Path) -> None:
    folder = plan_folder(tmp_path)
    os.mkfifo(folder / "files" / "pipe")
    summary = run_upload(hostile, folder, "pipe")  # would block forever if opened plainly
    assert hostile.app[UPLOADS] == []
    assert sum(upload_errors(summary).values()) == 1


def test_an_escaping_upload_counts_as_efilepath(hostile: ServerThread, tmp_path: Path) -> None:
    summary = run_upload(hostile, plan_folder(tmp_path), "../../secret.txt")
    assert upload_errors(summary) == {"EFILEPATH": 1}


def test_upload_files_are_read_in_a_worker_thread(tmp_path: Path) -> None:
    """_Http.read_form_files reads a formData file in another thread than the loop's."""
    from yamlload.runtime.engine import _Http, _PendingForm, _Upload

    file = tmp_path / "a.bin"
    file.write_bytes(b"x" * 1000)
    readers: list[int] = []
    import yamlload.runtime.http.form as engine

    real = engine._read_upload

    def spy(path: str) -> bytes:
        readers.append(threading.get_ident())
        return real(path)

    form = _PendingForm([("f", _Upload(str(file), "a.bin", None)), ("note", "hi")])

    async def main() -> int:
        await _Http.read_form_files(None, {"data": form})  # type: ignore[arg-type]
        return threading.get_ident()

    original, engine._read_upload = engine._read_upload, spy
    try:
        loop_thread = asyncio.run(main())
    finally:
        engine._read_upload = original
    assert readers and readers[0] != loop_thread
    assert form._loaded


def test_file_path_error_is_an_oserror() -> None:
    assert issubclass(FilePathError, OSError)


# ---- load-time paths: payloads, processor, --config, --dotenv


PLAN = "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalRate: 1}]\n"
FLOW = "scenarios:\n  - flow: [{get: {url: /}}]\n"


def write(folder: Path, text: str, name: str = "plan.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_payload_outside_the_plans_folder_is_a_positioned_error(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("a,b\n", encoding="utf-8")
    plan = write(
        tmp_path / "plans", PLAN + "  payload: {path: ../users.csv, fields: [a, b]}\n" + FLOW
    )
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert f"{plan}:4:" in result.stderr
    assert "outside the folders a plan may read" in result.stderr
    assert "--allow-path" in result.stderr
    allowed = load_plan(str(plan), PlanOptions(allow_paths=(str(tmp_path),)))
    assert allowed.payloads[0].path == str((tmp_path / "users.csv").resolve())


@pytest.mark.parametrize("name", ["/dev/zero", "/etc/passwd", "/proc/self/environ"])
def test_an_absolute_payload_path_elsewhere_is_refused(tmp_path: Path, name: str) -> None:
    plan = write(tmp_path, PLAN + f"  payload: {{path: {name}, fields: [a]}}\n" + FLOW)
    with pytest.raises(PlanError, match="outside the folders a plan may read"):
        load_plan(str(plan))


def test_a_payload_that_is_a_fifo_or_folder_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "dir.csv").mkdir()
    for name in ("pipe.csv", "dir.csv"):
        plan = write(tmp_path, PLAN + f"  payload: {{path: {name}, fields: [a]}}\n" + FLOW)
        with pytest.raises(PlanError, match="not a regular file"):
            load_plan(str(plan))


def test_a_processor_outside_the_plans_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hooks.py").write_text("def f(context, events):\n    pass\n", encoding="utf-8")
    plan = write(tmp_path / "plans", PLAN + "  processor: ../hooks.py\n" + FLOW)
    with pytest.raises(PlanError, match=r"processor .*outside the folders a plan may read"):
        load_plan(str(plan))
    load_plan(str(plan), PlanOptions(allow_paths=(str(tmp_path),)))


def test_a_processor_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "hooks.py")
    plan = write(tmp_path, PLAN + "  processor: hooks.py\n" + FLOW)
    with pytest.raises(PlanError, match="not a regular file"):
        load_plan(str(plan))


def test_a_constant_upload_outside_the_plans_folder_is_refused_before_the_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "secret.txt").write_text("s", encoding="utf-8")
    plan = write(
        tmp_path / "plans",
        PLAN + "scenarios:\n  - flow:\n      - post:\n          url: /\n"
        "          formData: {f: {fromFile: ../secret.txt}}\n",
    )
    with pytest.raises(PlanError, match="outside the folders a plan may read") as caught:
        load_plan(str(plan))
    assert caught.value.problems[0].pos.line == 8
    load_plan(str(plan), PlanOptions(allow_paths=(str(tmp_path),)))


def test_config_and_dotenv_outside_the_plans_folder_are_refused(tmp_path: Path) -> None:
    plan = write(tmp_path / "plans", FLOW)
    config = write(tmp_path, PLAN, "common.yml")
    dotenv = write(tmp_path, "A=1\n", "ci.env")
    with pytest.raises(UsageError, match=r"--config: .*outside the folders a plan may read"):
        load_plan(str(plan), PlanOptions(config_file=str(config)))
    with pytest.raises(UsageError, match=r"--dotenv: .*outside the folders a plan may read"):
        load_plan(str(write(tmp_path / "plans", PLAN + FLOW)), PlanOptions(dotenv=str(dotenv)))
    allowed = (str(tmp_path),)
    load_plan(
        str(plan), PlanOptions(config_file=str(config), dotenv=str(dotenv), allow_paths=allowed)
    )


def test_a_config_file_in_the_current_folder_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/cli.md: `yamlload validate scenarios/dino.yml --config common-config.yml`."""
    plan = write(tmp_path / "scenarios", FLOW, "dino.yml")
    write(tmp_path, PLAN, "common-config.yml")
    write(tmp_path, "A=1\n", "ci.env")
    monkeypatch.chdir(tmp_path)
    load_plan(str(plan), PlanOptions(config_file="common-config.yml", dotenv="ci.env"))


def test_allow_path_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("a,b\n", encoding="utf-8")
    plan = write(
        tmp_path / "plans", PLAN + "  payload: {path: ../users.csv, fields: [a, b]}\n" + FLOW
    )
    result = run_cli("validate", str(plan), "--allow-path", str(tmp_path))
    assert result.exit_code == 0, result.stderr


def test_allow_path_is_an_option_of_validate_and_run() -> None:
    for command in ("validate", "run"):
        result = run_cli(command, "--help")
        assert "--allow-path DIR" in result.stdout


# ---- bounded reads (item 8)


def run_capped(
    code: str, limit_mb: int = 300, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Python code in a child whose address space is capped: a read that does not stop
    at its limit dies of MemoryError instead of taking the machine's memory."""
    prelude = textwrap.dedent(
        f"""
        import resource
        cap = {limit_mb} * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_dev_zero_as_a_plan_is_refused_under_a_memory_cap() -> None:
    code = """
    from yamlload.cli.app import cli
    cli(["validate", "/dev/zero"])
    """
    done = run_capped(code)
    assert done.returncode == 2, done.stderr
    assert "/dev/zero: not a regular file" in done.stderr
    assert "MemoryError" not in done.stderr


def test_dev_zero_as_config_and_dotenv_is_refused_under_a_memory_cap(tmp_path: Path) -> None:
    plan = write(tmp_path, PLAN + FLOW)
    for flag in ("--config", "--dotenv"):
        code = f"""
        from yamlload.cli.app import cli
        cli(["validate", {str(plan)!r}, {flag!r}, "/dev/zero"])
        """
        done = run_capped(code)
        assert done.returncode == 2, done.stderr
        assert "MemoryError" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["report", "/dev/zero"],
        ["compare", "/dev/zero", "/dev/zero"],
        ["merge", "/dev/zero", "-o", "/tmp/never-written.json"],
    ],
)
def test_dev_zero_as_a_report_is_refused_under_a_memory_cap(args: list[str]) -> None:
    code = f"""
    from yamlload.cli.app import cli
    cli({args!r})
    """
    done = run_capped(code)
    assert done.returncode == 2, done.stderr
    assert "/dev/zero: cannot be read: not a regular file" in done.stderr
    assert "MemoryError" not in done.stderr


def test_read_bounded_stats_before_reading(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFileError):
        read_bounded("/dev/zero", 1024)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFileError):
        read_bounded(tmp_path / "fifo", 1024)  # returns at once: opened O_NONBLOCK
    with pytest.raises(NotRegularFileError):
        read_bounded(tmp_path, 1024)
    big = tmp_path / "big"
    with big.open("wb") as handle:
        handle.truncate(MAX_PLAN_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(FileTooLargeError):
        read_bounded(big, MAX_PLAN_BYTES)
    (tmp_path / "small").write_bytes(b"abc")
    assert read_bounded(tmp_path / "small", 3) == b"abc"
    with pytest.raises(FileTooLargeError):
        read_bounded(tmp_path / "small", 2)


def test_a_plan_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    with big.open("wb") as handle:
        handle.truncate(MAX_PLAN_BYTES + 1)
    result = run_cli("validate", str(big))
    assert result.exit_code == 2
    assert f"larger than {MAX_PLAN_BYTES} bytes" in result.stderr


def test_the_node_cap_applies_while_the_yaml_is_composed() -> None:
    """A long list is refused when its MAX_NODES+1th node is read, within a memory cap the
    whole list would exceed (it took 5.4 GB before)."""
    code = f"""
    from yamlload.errors import PlanError
    from yamlload.plan.source import parse_document
    try:
        parse_document(b"- 1\\n" * {MAX_NODES * 4}, "big.yml")
    except PlanError as exc:
        print(exc)
    """
    done = run_capped(code, limit_mb=700, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"big.yml:{MAX_NODES}:" in done.stdout
    assert f"more than {MAX_NODES} nodes" in done.stdout


def test_an_alias_bomb_is_still_refused() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 10)}]")
    with pytest.raises(PlanError, match="nodes"):
        parse_document("\n".join(lines).encode(), "bomb.yml")


# ---- payload rows, held compactly


def reference_rows(payload: Payload) -> list[dict[str, Any]]:
    """What read_payload returned before rows were held compactly."""
    from yamlload.runtime.engine import _cast

    with open(payload.path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=payload.delimiter))
    if payload.skip_empty_lines:
        rows = [row for row in rows if any(cell.strip() for cell in row)]
    fields = list(payload.fields)
    if not fields and rows:
        fields, rows = rows[0], rows[1:]
    elif payload.skip_header and rows:
        rows = rows[1:]
    cast = _cast if payload.cast else (lambda cell: cell)
    return [{n: cast(c) for n, c in zip(fields, row, strict=False)} for row in rows]


TRICKY = [
    "name,id\nann,1\nbob,2\n",
    "\ufeffname,id\r\nann,1\r\n\r\nbob,2.5\r\n",
    'name,note\nann,"two\nlines"\nbob,"a ""quote"""\n',
    'name,note\rann,1\rbob,"x\ry"\r',
    "name,id\n\n  \nann,1\n,\nbob",
    "a;b\n1;2\n3;4;5\n6\n",
    "",
    "only-header\n",
    "name\ncafé\n💥\n",
]


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"fields": ("x", "y"), "skip_header": True},
        {"fields": ("x", "y")},
        {"cast": False, "skip_empty_lines": False},
        {"delimiter": ";"},
    ],
)
def test_compact_rows_read_as_the_old_dicts(
    tmp_path: Path, text: str, options: dict[str, Any]
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(text.encode("utf-8"))
    payload = Payload(str(path), **{"fields": (), **options})
    rows = read_payload(payload)
    expected = reference_rows(payload)
    assert len(rows) == len(expected)
    assert [rows[i] for i in range(len(rows))] == expected
    assert rows == expected
    if expected:
        assert rows[-1] == expected[-1]
        rows[0]["changed"] = True  # a user's own copy
        assert "changed" not in rows[0]


def test_load_all_gives_a_list_of_dicts(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    rows = read_payload(Payload(str(path), (), load_all=True, name="all"))
    assert rows == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert isinstance(rows, list)


def test_a_csv_over_the_limit_or_not_a_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a regular file"):
        read_payload(Payload("/dev/zero", ("a",)))


def test_a_20mb_csv_is_held_in_about_its_own_size(tmp_path: Path) -> None:
    """Resident growth when a 20 MB CSV is read, as a ratio of its size: a dict per row
    took about 13 times the file (2.6 GB for 200 MB)."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,name,email,score\n")
        i = 0
        while handle.tell() < 20 * 1024 * 1024:
            handle.write(f"{i},user{i},user{i}@example.com,{i % 97}.5\n")
            i += 1
    size = path.stat().st_size
    code = f"""
    import json, resource
    from yamlload.runtime.engine import read_payload
    from yamlload.plan.ir import Payload
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = read_payload(Payload({str(path)!r}, ()))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"grew": (after - before) * 1024, "rows": len(rows), "last": rows[-1]}}))
    """
    done = run_capped(code, limit_mb=1500)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["rows"] == i
    assert seen["last"]["id"] == i - 1
    assert seen["grew"] <= 3 * size, seen["grew"] / size


def test_an_allow_path_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    plan = write(tmp_path, PLAN + FLOW)
    shown = run_cli("validate", str(plan), "--allow-path", str(tmp_path / "nowhere"))
    assert shown.exit_code == 2 and "does not exist" in shown.stderr


def test_a_config_files_upload_is_read_from_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/reliability.md: a fromFile may lie in the folder of the --config file that
    wrote it (the user named that file)."""
    shared = tmp_path / "shared"
    (shared / "files").mkdir(parents=True)
    (shared / "files" / "s.txt").write_text("hello", encoding="utf-8")
    config = shared / "cfg.yml"
    config.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow:\n      - post:\n          url: /\n"
        "          formData: {f: {fromFile: ./files/s.txt}}\n",
        encoding="utf-8",
    )
    plan = write(tmp_path / "p1", "config:\n  variables: {a: 1}\n")
    monkeypatch.chdir(tmp_path)  # the --config file is in the current folder's tree
    load_plan(str(plan), PlanOptions(config_file=str(config)))  # no PlanError
