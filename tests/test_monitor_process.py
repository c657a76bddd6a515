"""monitor/process.py: a local system under test through psutil, against real child
processes (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from yamlload.monitor.process import PROCESS_METRICS, ProcessSampler
from yamlload.monitor.values import SampleError

# A child that holds a listening socket and burns one CPU, for at most LIFETIME seconds.
LIFETIME = 30
CHILD = f"""
import socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
end = time.monotonic() + {LIFETIME}
burn = sys.argv[1:] == ["burn"]
while time.monotonic() < end:
    if not burn:
        time.sleep(0.05)
"""


def start_child(executable: str = sys.executable, burn: bool = True) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [executable, "-c", CHILD, *(["burn"] if burn else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip().isdigit()  # listening: ready
    return child


def stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait(10)
    if child.stdout is not None:
        child.stdout.close()


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    running = start_child()
    yield running
    stop(running)


@pytest.fixture
def named_python(tmp_path: Path) -> str:
    """The path of a python named uniquely (a symlink: the kernel names a process after
    the file it executed), so that sampling by name finds only our children."""
    link = tmp_path / f"ylm{uuid.uuid4().hex[:10]}"
    link.symlink_to(sys.executable)
    return str(link)


def test_a_process_by_pid_gives_every_metric(child: subprocess.Popen[str]) -> None:
    sampler = ProcessSampler(pid=child.pid)
    first = sampler.sample()
    assert not isinstance(first, SampleError), first
    assert set(first) == set(PROCESS_METRICS)
    assert first["cpu_percent"] is None  # no earlier sample yet
    assert first["rss_mb"] is not None and 1 < first["rss_mb"] < 1000
    assert first["threads"] == 1
    assert first["fds"] is not None and first["fds"] >= 4  # stdin, stdout, stderr, socket
    assert first["connections"] == 1  # the listening socket
    time.sleep(0.5)
    second = sampler.sample()
    assert not isinstance(second, SampleError), second
    # one busy core is about 100%; a busy machine may give it less
    assert second["cpu_percent"] is not None and 20 < second["cpu_percent"] < 150


def test_an_idle_process_uses_little_cpu() -> None:
    idle = start_child(burn=False)
    try:
        sampler = ProcessSampler(pid=idle.pid)
        sampler.sample()
        time.sleep(0.5)
        reading = sampler.sample()
        assert not isinstance(reading, SampleError)
        assert reading["cpu_percent"] is not None and 0 <= reading["cpu_percent"] < 20
    finally:
        stop(idle)


def test_processes_by_name_are_summed(named_python: str) -> None:
    children = [start_child(named_python, burn=False) for _ in range(2)]
    try:
        sampler = ProcessSampler(name=Path(named_python).name)
        reading = sampler.sample()
        assert not isinstance(reading, SampleError), reading
        assert reading["threads"] == 2
        assert reading["connections"] == 2
        one = ProcessSampler(pid=children[0].pid).sample()
        assert not isinstance(one, SampleError)
        assert reading["rss_mb"] is not None and one["rss_mb"] is not None
        assert reading["rss_mb"] > one["rss_mb"]
        time.sleep(0.2)
        again = sampler.sample()
        assert not isinstance(again, SampleError)
        assert again["cpu_percent"] is not None and again["cpu_percent"] >= 0
    finally:
        for running in children:
            stop(running)


def test_a_process_that_went_away_is_an_error_value(named_python: str) -> None:
    running = start_child(named_python, burn=False)
    by_pid = ProcessSampler(pid=running.pid)
    by_name = ProcessSampler(name=Path(named_python).name)
    assert not isinstance(by_pid.sample(), SampleError)
    assert not isinstance(by_name.sample(), SampleError)
    stop(running)
    gone = by_pid.sample()
    assert isinstance(gone, SampleError)
    assert str(gone) == f"process {running.pid} is gone"
    none_left = by_name.sample()
    assert isinstance(none_left, SampleError)
    assert str(none_left) == f"no process named {Path(named_python).name!r}"


def test_a_pid_that_never_was_is_an_error_value() -> None:
    reading = ProcessSampler(pid=2**22 + 12345).sample()  # above Linux's pid_max
    assert isinstance(reading, SampleError)
    assert "no process" in str(reading)


def test_the_generator_itself_is_never_counted_by_name() -> None:
    own = psutil.Process(os.getpid()).name()
    found = ProcessSampler(name=own).find()
    assert isinstance(found, SampleError) or os.getpid() not in [p.pid for p in found]


def test_access_denied_leaves_that_metric_out(
    child: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: psutil.Process, kind: str = "inet") -> list[object]:
        raise psutil.AccessDenied(self.pid)

    name = "net_connections" if hasattr(psutil.Process, "net_connections") else "connections"
    monkeypatch.setattr(psutil.Process, name, denied)
    reading = ProcessSampler(pid=child.pid).sample()
    assert not isinstance(reading, SampleError)
    assert reading["connections"] is None
    assert reading["threads"] == 1


def test_exactly_one_of_pid_and_name() -> None:
    with pytest.raises(ValueError):
        ProcessSampler()
    with pytest.raises(ValueError):
        ProcessSampler(pid=1, name="x")
    assert ProcessSampler(pid=42).what == "process 42"
    assert ProcessSampler(name="postgres").what == "processes named 'postgres'"
