"""`--out jsonl=FILE` never holds up a run: it writes only to a regular file (a FIFO, a
device, a socket or the console's own stream is exit 2 before traffic), from a thread
of its own, and drops (and counts) what a stalled disk cannot take rather than wait."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.servers import ServerThread
from tests.test_live_outputs import REQUESTS, run, write_plan
from yamlload.live import jsonl

# A child run must end within this; the point is that it ends at all (a FIFO with no
# reader held the run at its start forever).
EXIT_WAIT_SECONDS = 60
# How long a stalled write stalls, at most: longer than the test's run, yet bounded.
STALL_SECONDS = 30


def child_run(
    plan: Path, tmp_path: Path, out: str, stdout: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "yamlload", "run", str(plan), "-q"]
    command += ["-o", str(tmp_path / "report.json"), "--out", out]
    return subprocess.run(
        command,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=EXIT_WAIT_SECONDS,
        check=False,
    )


def test_a_fifo_is_refused_before_traffic_and_never_waited_on(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    fifo = tmp_path / "live.fifo"
    os.mkfifo(fifo)
    done = child_run(plan, tmp_path, f"jsonl={fifo}")
    assert done.returncode == 2, done.stderr
    assert f"--out jsonl={fifo}: it is a FIFO, not a regular file" in done.stderr
    assert fresh_server.hits() == {}


@pytest.mark.parametrize("kind", ["character device", "socket"])
def test_a_device_or_a_socket_is_refused_before_traffic(
    tmp_path: Path, fresh_server: ServerThread, kind: str
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    if kind == "socket":
        target = str(tmp_path / "live.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(target)
    else:
        target = "/dev/null"
    try:
        result, _ = run(tmp_path, plan, "--out", f"jsonl={target}", "-q")
    finally:
        if kind == "socket":
            listener.close()
    assert result.exit_code == 2, result.output + result.stderr
    # A socket is refused by the check of every output path, in its words.
    assert "not a regular file" in result.stderr
    assert kind == "socket" or f"it is a {kind}, not a regular file" in result.stderr
    assert fresh_server.hits() == {}


@pytest.mark.parametrize("path", ["/dev/stdout", "/proc/self/fd/1", "/dev/stderr"])
def test_the_consoles_own_file_is_refused_and_left_whole(
    tmp_path: Path, fresh_server: ServerThread, path: str
) -> None:
    """With the console sent to a file, /dev/stdout is that file: JSON lines would be
    mixed into the console's lines (and the file emptied first)."""
    plan = write_plan(tmp_path, fresh_server.url)
    console = tmp_path / "console.txt"
    console.write_text("kept\n", encoding="utf-8")
    with console.open("a", encoding="utf-8") as handle:
        if path == "/dev/stderr":
            command = [sys.executable, "-m", "yamlload", "run", str(plan), "-q"]
            command += ["-o", str(tmp_path / "report.json"), "--out", f"jsonl={path}"]
            done = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
                timeout=EXIT_WAIT_SECONDS,
                check=False,
            )
            said = console.read_text(encoding="utf-8")
        else:
            done = child_run(plan, tmp_path, f"jsonl={path}", stdout=handle.fileno())
            said = done.stderr
    assert done.returncode == 2, said
    assert "is this process's standard" in said, said
    assert console.read_text(encoding="utf-8").startswith("kept\n")
    assert fresh_server.hits() == {}


def test_the_lines_are_written_off_the_event_loop(
    tmp_path: Path, fresh_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers: set[str] = set()
    write = jsonl._write_chunk

    def noting(file: jsonl.TextIO, chunk: str) -> None:
        writers.add(threading.current_thread().name)
        write(file, chunk)

    monkeypatch.setattr(jsonl, "_write_chunk", noting)
    plan = write_plan(tmp_path, fresh_server.url)
    path = tmp_path / "live.jsonl"
    result, counters = run(tmp_path, plan, "--out", f"jsonl={path}")
    assert result.exit_code == 0, result.output + result.stderr
    assert writers and threading.current_thread().name not in writers
    points = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    sent = sum(
        p["data"]["value"]
        for p in points
        if p["type"] == "Point" and p["metric"] == "http.requests"
    )
    assert sent == counters["http.requests"] == REQUESTS


def test_a_stalled_disk_drops_lines_and_counts_them_instead_of_holding_up_the_run(
    tmp_path: Path, fresh_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first write stalls: the seconds after it queue up to MAX_QUEUED_SECONDS, the
    rest are dropped and counted, and the run's end waits a bounded time for the file."""
    release = threading.Event()
    stalled = threading.Event()

    def stalling(file: jsonl.TextIO, chunk: str) -> None:
        if not stalled.is_set():
            stalled.set()
            release.wait(STALL_SECONDS)

    monkeypatch.setattr(jsonl, "_write_chunk", stalling)
    monkeypatch.setattr(jsonl, "MAX_QUEUED_SECONDS", 1)
    plan = write_plan(tmp_path, fresh_server.url)
    try:
        result, counters = run(tmp_path, plan, "--out", f"jsonl={tmp_path / 'live.jsonl'}")
    finally:
        release.set()
    assert result.exit_code == 0, result.output + result.stderr
    assert stalled.is_set()
    assert counters["http.requests"] == REQUESTS
    told = result.output + result.stderr
    assert "warning: jsonl " in told and "failed, the run goes on" in told
    assert "dropped" in told
    assert counters["yamlload.output_errors"] >= 2
