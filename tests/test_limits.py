"""Self-protection: the open-files limit is raised as far as a plan needs, and a clear
warning says what to raise when the hard limit is too low."""

from __future__ import annotations

import json
import resource

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread, make_test_app
from yamlload import Plan, load_plan
from yamlload.runtime.engine import SPARE_FILE_DESCRIPTORS, connections_needed, ensure_file_limit


def plan_with(write_plan, phases: str, http: str = "") -> Plan:
    """A plan with these phases (and `http:` lines) and an empty flow, loaded."""
    return load_plan(
        str(
            write_plan(
                f"config:\n  target: http://127.0.0.1:1\n{http}  phases: {phases}\nscenarios:\n  - flow: []\n"
            )
        )
    )


@pytest.mark.parametrize(
    ("phases", "http", "need"),
    [
        ("[{duration: 10, users: 10000}]", "", 10000),
        # 100 a second for 10 s, each allowed 10 s: all 1,000 of them at once at worst
        ("[{duration: 10, arrivalRate: 100}]", "  http: {timeout: 10}\n", 1000),
        ("[{duration: 10, arrivalRate: 1, rampTo: 50}]", "  http: {timeout: 2}\n", 101),
        ("[{duration: 10, arrivalRate: 500, maxVusers: 5}]", "", 5),
        ("[{duration: 10, users: 300}]", "  http: {pool: 20}\n", 20),
        ("[{duration: 2, arrivalCount: 100}]", "  http: {timeout: 1}\n", 51),
    ],
)
def test_connections_needed(write_plan, phases: str, http: str, need: int) -> None:
    assert connections_needed(plan_with(write_plan, phases, http)) == need


class FakeLimits:
    def __init__(self, soft: int, hard: int, can_raise: bool) -> None:
        self.soft, self.hard, self.can_raise = soft, hard, can_raise

    def getrlimit(self, which: int) -> tuple[int, int]:
        return self.soft, self.hard

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        if not self.can_raise:
            raise ValueError("not allowed")
        self.soft = limits[0]


def test_the_soft_limit_is_raised_when_the_hard_limit_allows(
    write_plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = FakeLimits(1024, 65536, True)
    monkeypatch.setattr(resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", limits.setrlimit)
    plan = plan_with(write_plan, "[{duration: 5, users: 5000}]")
    assert ensure_file_limit(plan) is None
    assert limits.soft == 5000 + SPARE_FILE_DESCRIPTORS


def test_a_clear_warning_when_the_limit_cannot_be_raised(
    write_plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = FakeLimits(1024, 4096, True)
    monkeypatch.setattr(resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", limits.setrlimit)
    plan = plan_with(write_plan, "[{duration: 5, users: 10000}]")
    warning = ensure_file_limit(plan)
    assert warning is not None
    assert "up to 10,000 connections" in warning and "limit on open files is 4,096" in warning
    assert f"ulimit -n {10000 + SPARE_FILE_DESCRIPTORS}" in warning
    assert limits.soft == 4096  # raised as far as the hard limit allows


def test_the_run_warns_and_goes_on(write_plan, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    limits = FakeLimits(64, 64, False)
    monkeypatch.setattr(resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", limits.setrlimit)
    # users spawned at a rate and lag allowed: a busy CI machine must not turn this into a lag test
    plan = write_plan(
        "config:\n  phases: [{duration: 1, users: 100, spawnRate: 200}]\nscenarios:\n  - flow: [{get: {url: /ok}}, {think: 0.5}]\n"
    )
    with ServerThread(make_test_app()) as server:
        result = run_cli(
            "run", "-q", str(plan), "-t", server.url, "-o", str(tmp_path / "r.json"), "--allow-lag"
        )
    assert result.exit_code == 0
    assert (tmp_path / "r.json").is_file()
    assert (
        "warning: this plan may hold up to 100 connections at once, but the limit on open files is 64"
        in result.stderr
    )


# ---- absurd numbers: refused, or warned about before the run


def test_ten_million_arrivals_a_second_is_refused_with_its_position(write_plan) -> None:
    plan = write_plan(
        "config:\n  target: http://127.0.0.1:1\n  phases: [{duration: 10, arrivalRate: 10000000}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert f"{plan}:3:" in result.stderr and "more than one plan can run" in result.stderr


@pytest.mark.parametrize(
    ("phases", "workers", "warned"),
    [
        ("[{duration: 10, users: 1000000}]", 1, ["1,000,000 users at once in each process"]),
        ("[{duration: 10, users: 1000000}]", 40, []),
        # a shared pool caps connections, not users: a million users is still a million
        (
            "[{duration: 10, users: 1000000}]\n  http: {pool: 50}",
            1,
            ["1,000,000 users at once in each process"],
        ),
        # 50,000 a second, each allowed the 10 s timeout: all 500,000 at once at worst
        (
            "[{duration: 10, arrivalRate: 50000}]",
            1,
            ["50,000 users a second in each process", "500,000 users at once"],
        ),
        ("[{duration: 10, arrivalRate: 50000, maxVusers: 10}]", 1, ["50,000 users a second"]),
        # never more users at once than the phase starts in all: 100,000, not 1,000,001
        (
            "[{duration: 1, arrivalCount: 100000}]",
            1,
            ["100,000 users a second", "100,000 users at once"],
        ),
        ("[{duration: 10, arrivalRate: 1, rampTo: 100}]", 1, []),
        ("[{duration: 10, users: 100}]", 1, []),
    ],
)
def test_capacity_warnings(write_plan, phases: str, workers: int, warned: list[str]) -> None:
    from yamlload.runtime.engine import capacity_warnings

    warnings = capacity_warnings(plan_with(write_plan, phases), workers)
    assert len(warnings) == len(warned)
    for text, expected in zip(warnings, warned, strict=True):
        assert expected in text and "--workers" in text


def test_validate_warns_about_a_plan_too_big_for_one_process(write_plan) -> None:
    plan = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 60, arrivalRate: 20000}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("validate", str(plan))
    assert result.exit_code == 0
    assert "warning: this plan starts up to 20,000 users a second in each process" in result.stderr


def test_the_run_warns_about_a_million_users_before_it_starts(write_plan) -> None:
    # Against a closed port with a 0 s phase: nothing is sent, the warning is what counts.
    plan = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 0, users: 1000000}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    result = run_cli("run", "-q", str(plan), "-o", str(plan.with_suffix(".json")))
    assert "warning: this plan may hold 1,000,000 users at once in each process" in result.stderr
    # a closed-model phase that is already over starts no one, and counts no one
    counters = json.loads(plan.with_suffix(".json").read_text())["aggregate"]["counters"]
    assert counters.get("vusers.created", 0) == counters.get("vusers.completed", 0) == 0
