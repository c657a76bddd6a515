"""A capacity step's pieces without a run (cli/capacity_steps.py): which seconds count
after the settle period, the recovery's judge, and the runs joined into one report."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from tests.helpers import REPO
from yamlload.checks.parse import parse_ensure
from yamlload.cli.capacity_steps import (
    NO_DATA_REASON,
    RECOVERED,
    RECOVERY_WINDOW_SECONDS,
    RecoveryJudge,
    SecondsWindow,
    joined_result,
    judged_step,
    step_plan,
)
from yamlload.metrics import names as n
from yamlload.metrics.histogram import Histogram, Metrics
from yamlload.metrics.live import Second, SecondRow
from yamlload.metrics.periods import PERIOD_SECONDS, Period
from yamlload.plan.compile import load_plan
from yamlload.plan.ir import Plan
from yamlload.results.run import PhaseRun, Progress, RunResult

PROGRESS = Progress(0, 0, "", 0, 0, 0, 0, 0.0)


PLAN = "plans/capacity.yml"


def a_plan() -> Plan:
    return load_plan(str(REPO / PLAN))


def second(at: float, requests: int, latency_ms: float = 10.0, failed: int = 0) -> Second:
    latency = Histogram()
    for _ in range(requests - failed):
        latency.record(latency_ms)
    counters = {n.REQUESTS: requests, n.RESPONSES: requests, n.REQUESTS_FAILED: failed}
    return Second(at, Metrics(counters, {n.RESPONSE_TIME: latency}))


def live(*seconds: Second) -> Any:
    return SimpleNamespace(seconds=list(seconds))


def test_a_step_is_one_constant_rate_phase_per_rate() -> None:
    plan = step_plan(a_plan(), [(150.0, 30.0), (75.0, 60.0)])
    assert [(p.kind, p.arrival_rate, p.duration) for p in plan.phases] == [
        ("rate", 150.0, 30.0),
        ("rate", 75.0, 60.0),
    ]
    assert [p.name for p in plan.phases] == ["150 users/s", "75 users/s"]


def test_seconds_whose_middle_is_in_the_settle_period_are_left_out() -> None:
    window = SecondsWindow(settle=2.0)
    for at, requests in ((1.0, 5), (2.0, 7), (3.0, 11), (4.0, 13)):
        window.second(live(second(at, requests)), PROGRESS)
    asyncio.run(window.finish(live(second(4.0, 13)), PROGRESS))  # the last look repeats
    asyncio.run(window.finish(live(second(4.6, 3)), PROGRESS))  # the drain
    assert window.metrics.counters[n.REQUESTS] == 11 + 13 + 3
    assert round(window.seconds, 3) == 2.6


def test_recovery_is_when_every_slo_held_over_the_window_after_the_drop() -> None:
    judge = RecoveryJudge(dropped_at=2.0, plan=a_plan(), slos=[parse_ensure("error_rate<1%")])
    seen = []
    timeline = [(1.0, 5), (2.0, 5), (3.0, 0), (4.0, 0), (5.0, 0), (6.0, 0)]
    for at, failed in timeline:
        seen.append(judge(live(second(at, 10, failed=10 if at <= 3.0 else failed)), PROGRESS))
    # broken up to 3 s; from the second that began at 3 s every SLO held for 3 seconds
    assert seen == [None, None, None, None, None, RECOVERED]
    assert judge.recovered_after == 1.0
    assert RECOVERY_WINDOW_SECONDS == 3


def test_a_target_still_broken_never_recovers() -> None:
    judge = RecoveryJudge(dropped_at=0.0, plan=a_plan(), slos=[parse_ensure("p95<50")])
    for at in range(1, 8):
        assert judge(live(second(float(at), 10, latency_ms=400)), PROGRESS) is None
    assert judge.recovered_after is None


def run_of(duration: float, phases: list[PhaseRun], rows: int) -> RunResult:
    periods = [
        Period(i, Metrics({n.REQUESTS: 1})) for i in range(int(duration // PERIOD_SECONDS) + 1)
    ]
    seconds = [
        SecondRow(float(i + 1), 1.0, 1, None, None, None, None, None, None, None, 0, None)
        for i in range(rows)
    ]
    return RunResult(periods=periods, duration=duration, phases=phases, seconds=seconds)


def test_the_runs_are_joined_one_after_another_each_on_a_new_period() -> None:
    first = run_of(3.2, [PhaseRun(0, "20/s", 0.0, 3.0)], rows=3)
    second_ = run_of(12.5, [PhaseRun(0, "40/s", 0.0, 12.0)], rows=12)
    recovery = run_of(4.0, [PhaseRun(0, "80/s", 0.0, 2.0), PhaseRun(1, "40/s", 2.0, 4.0)], rows=4)
    joined = joined_result(
        [("step 1: 20/s", first), ("step 2: 40/s", second_), ("recovery", recovery)]
    )
    assert [p.index for p in joined.periods] == [0, 1, 2, 3]
    assert [(p.name, p.started) for p in joined.phases] == [
        ("step 1: 20/s", 0.0),
        ("step 2: 40/s", 10.0),
        ("recovery (80/s)", 30.0),
        ("recovery (40/s)", 32.0),
    ]
    assert joined.duration == 34.0
    assert joined.seconds[3].at == 11.0 and joined.seconds[-1].at == 34.0
    assert joined.stopped_by is None


def test_a_signal_that_stopped_a_run_stops_the_joined_one() -> None:
    stopped = run_of(1.0, [PhaseRun(0, "20/s", 0.0, 1.0)], rows=1)
    stopped.stopped_by = "SIGINT"
    recovered = run_of(1.0, [PhaseRun(0, "20/s", 0.0, 1.0)], rows=1)
    recovered.stopped_by = RECOVERED  # the recovery's own stop is not the search's
    assert joined_result([("recovery", recovered)]).stopped_by is None
    assert joined_result([("a", recovered), ("b", stopped)]).stopped_by == "SIGINT"


def window_of(*seconds: Second) -> SecondsWindow:
    window = SecondsWindow(settle=0.0)
    for kept in seconds:
        window.second(live(kept), PROGRESS)
    return window


def test_a_step_with_no_request_completed_is_no_data_never_good() -> None:
    """Counter SLOs read 0 when nothing was measured: such a step is invalid (issue 22)."""
    slos = [parse_ensure("http.codes.500<1"), parse_ensure("vusers.failed<1")]
    step = judged_step(1.0, window_of(second(1.0, 0), second(2.0, 0)), a_plan(), slos, 1e9)
    assert step.verdict == "invalid"
    assert step.reason is not None and step.reason.startswith(NO_DATA_REASON)


def test_every_request_failing_after_the_target_answered_is_bad_not_unreachable() -> None:
    timed_out = Second(1.0, Metrics({n.REQUESTS: 10, "errors.ETIMEDOUT": 10}))
    slos = [parse_ensure("p95<500")]
    plan = a_plan()
    first = judged_step(50.0, window_of(timed_out), plan, slos, 1e9)
    assert first.verdict == "invalid"  # never reached at all
    later = judged_step(50.0, window_of(timed_out), plan, slos, 1e9, reached=True)
    assert later.verdict == "bad", later
    assert later.reason is not None and "failed" in later.reason


def test_a_recovery_window_without_requests_does_not_recover() -> None:
    judge = RecoveryJudge(dropped_at=0.0, plan=a_plan(), slos=[parse_ensure("http.codes.500<1")])
    assert [judge(live(second(float(at), 0)), PROGRESS) for at in range(1, 6)] == [None] * 5
    assert judge.recovered_after is None


def test_a_change_of_capacity_between_reports_is_a_percentage_not_a_rate() -> None:
    from yamlload.checks.outcome import describe_value

    change = parse_ensure("capacity>-10%", relative=True)
    assert describe_value(change, -12.5) == "-12.50%"
    assert describe_value(parse_ensure("capacity>=200"), 180.0) == "180 users/s"


def users_second(at: float, users: int, session_ms: float) -> Second:
    done = second(at, users)
    sessions = Histogram()
    for _ in range(users):
        sessions.record(session_ms)
    done.metrics.counters[n.USERS_COMPLETED] = users
    done.metrics.histograms[n.SESSION_LENGTH] = sessions
    return done


def test_a_step_that_served_half_the_offered_rate_is_bad_whatever_its_slos() -> None:
    """80/s offered, 40 users done a second over the scheduled measured part: 40/s
    achieved, bad, though every SLO held."""
    slos = [parse_ensure("error_rate<1%")]
    kept = [users_second(1.0, 40, 5.0), users_second(2.0, 40, 900.0)]
    step = judged_step(80.0, window_of(*kept), a_plan(), slos, 1e9)
    assert step.verdict == "bad" and step.reason is not None
    assert step.reason.startswith("achieved 40.0 users/s of 80 users/s offered"), step.reason
    healthy = judged_step(80.0, window_of(users_second(1.0, 80, 5.0)), a_plan(), slos, 1e9)
    assert healthy.verdict == "good", healthy


def test_the_shortfall_counts_users_done_from_the_settle_to_the_end_of_arrivals() -> None:
    """Settle 1 s, arrivals end at 3 s: 160 users done over [1, 3] is 80/s, as offered.
    The drain (its slowest users: 5 done in 1.5 s) and the settle (users still starting)
    are no shortfall: a few slow requests only lengthen the drain (attacker review)."""
    slos = [parse_ensure("error_rate<1%")]
    window = SecondsWindow(settle=1.0, end=3.0)
    for at, users in ((1.0, 10), (2.0, 80), (3.0, 80)):
        window.second(live(users_second(at, users, 5.0)), PROGRESS)
    asyncio.run(window.finish(live(users_second(4.5, 5, 4000.0)), PROGRESS))
    assert window.done == 160 and window.rate_seconds == 2.0
    assert judged_step(80.0, window, a_plan(), slos, 1e9).verdict == "good"
    few = SecondsWindow(settle=0.0, end=1.0)
    few.second(live(users_second(1.0, 5, 5.0)), PROGRESS)  # too few users to judge
    assert judged_step(80.0, few, a_plan(), slos, 1e9).verdict == "good"


def test_over_workers_the_shortfall_leaves_out_the_drain_period() -> None:
    """A 30 s step at 20 users/s, settle 10 s: periods 1 and 2 (400 users done) count,
    not the drain period (30 to 34 s, its slowest 20 users)."""
    from yamlload.cli.capacity_steps import periods_window

    def period(i: int, users: int) -> Period:
        counters = {n.REQUESTS: users, n.RESPONSES: users, n.USERS_COMPLETED: users}
        return Period(i, Metrics(counters, {}), first=i * 10.0, last=i * 10 + 9.9)

    periods = [period(0, 180), period(1, 200), period(2, 200), period(3, 20)]
    window = periods_window(RunResult(periods=periods, duration=34.0, phases=[]), 6.0, 30.0)
    assert window.done == 400 and window.rate_seconds == 20.0
    slos = [parse_ensure("error_rate<1%")]
    assert judged_step(20.0, window, a_plan(), slos, 1e9).verdict == "good"


def expect_second(at: float, ok: int, failed: int, **more: tuple[int, int]) -> Second:
    """A second of `equals` checks (ok, failed), and of any other kind given."""
    done = second(at, 20)
    for kind, (kind_ok, kind_failed) in {"equals": (ok, failed), **more}.items():
        for outcome, count in ((n.EXPECT_OK, kind_ok), (n.EXPECT_FAILED, kind_failed)):
            counters = done.metrics.counters
            counters[outcome] = counters.get(outcome, 0) + count
            counters[f"{outcome}.{kind}"] = count
    return done


def test_a_step_failing_half_its_expectations_or_more_is_bad_whatever_its_slos() -> None:
    slos = [parse_ensure("error_rate<1%"), parse_ensure("p95<500")]
    step = judged_step(20.0, window_of(expect_second(1.0, 10, 10)), a_plan(), slos, 1e9)
    assert step.verdict == "bad"
    assert step.reason == (
        "the target failed half its expectations or more: 50.00% of equals checks failed"
    )
    fine = judged_step(20.0, window_of(expect_second(1.0, 11, 9)), a_plan(), slos, 1e9)
    assert fine.verdict == "good", fine


def test_one_kind_failing_on_every_request_is_bad_beside_kinds_that_pass() -> None:
    """Three checks a request, one failing on each: a third of the checks, but every
    request (issue 22 final check: `hasProperty` failed on every wrong body)."""
    slos = [parse_ensure("error_rate<1%")]
    seconds = expect_second(1.0, 20, 0, statusCode=(20, 0), hasProperty=(0, 20))
    step = judged_step(20.0, window_of(seconds), a_plan(), slos, 1e9)
    assert step.verdict == "bad"
    assert step.reason == (
        "the target failed half its expectations or more: 100.00% of hasProperty checks failed"
    )


def test_the_backlog_a_step_left_is_its_abandoned_requests_at_its_served_rate() -> None:
    from yamlload.cli.capacity_steps import MAX_BACKLOG_SECONDS, backlog_seconds

    def run(**counters: int) -> RunResult:
        metrics = Metrics({k.replace("_", "."): v for k, v in counters.items()}, {})
        return RunResult(periods=[Period(0, metrics)], duration=2.0, phases=[])

    assert backlog_seconds(run(http_responses=40)) == 0.0  # nothing abandoned
    assert backlog_seconds(run(http_responses=40, errors_ETIMEDOUT=30)) == 1.5  # 30 at 20/s
    assert backlog_seconds(run(errors_ETIMEDOUT=5)) == MAX_BACKLOG_SECONDS  # none answered
