"""`run --demo-target` killed outright (SIGKILL, no chance to clean up) leaves no demo
target behind: the target watches its parent and stops when it is gone.

The run is bounded: its plan would last a minute, and the test kills it as soon as it
has started; whatever is left is killed at the end, by its process id."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO

PLAN = """\
config:
  target: http://127.0.0.1:8000
  phases: [{duration: 60, arrivalRate: 1}]
scenarios:
  - flow: [{get: {url: /health}}]
"""
# Generous: the target notices its parent is gone within a second; a loaded CI
# machine may take much longer to schedule it.
PORT_CLOSES_WITHIN_S = 30
STARTS_WITHIN_S = 60


def _children(pid: int) -> list[int]:
    """The process's children, from Linux's /proc (no psutil here)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listing:
                found += [int(child) for child in listing.read().split()]
    return found


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_the_demo_target_dies_with_a_run_killed_by_sigkill(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(PLAN, encoding="utf-8")
    run = subprocess.Popen(
        [sys.executable, "-m", "yamlload", "run", "--demo-target", str(plan), "-o", os.devnull],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    targets: list[int] = []
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + STARTS_WITHIN_S
        port = None
        while port is None and time.monotonic() < deadline:
            found = re.search(r"against http://127\.0\.0\.1:(\d+)", run.stdout.readline())
            port = int(found.group(1)) if found else None
        assert port is not None and _listening(port)
        targets = _children(run.pid)
        assert targets, "the demo target runs as a child of the run"

        run.send_signal(signal.SIGKILL)
        run.wait(timeout=STARTS_WITHIN_S)

        deadline = time.monotonic() + PORT_CLOSES_WITHIN_S
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port), "the demo target outlived its run"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("attempt", range(4))
def test_a_demo_target_stopped_as_soon_as_it_listens_stops_quietly(attempt: int) -> None:
    """`run --demo-target` stops its target right after it started when the plan is
    missing: the target must stop cleanly then, not print "stopped by SIGTERM before any
    request was sent" as if the run had been stopped (its handlers were in only after it
    said where it listens)."""
    from yamlload.cli.demo import DemoTarget

    target = DemoTarget(True)
    stderr_r, stderr_w = os.pipe()
    saved = os.dup(2)
    os.dup2(stderr_w, 2)  # the target inherits this process's stderr
    try:
        url = target.__enter__()
        target.__exit__()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(stderr_w)
    with os.fdopen(stderr_r, encoding="utf-8", errors="replace") as said:
        text = said.read()
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert target.process is not None and target.process.returncode == 0, text
    assert "SIGTERM" not in text
