"""What a plan asks of one process: open files (raised as far as allowed) and warnings
when the load is more than one process drives honestly."""

from __future__ import annotations

from ..plan.ir import Phase, Plan
from ..schedule.arrivals import arrival_count

# Sockets beyond the users' own: files, the event loop, the report.
SPARE_FILE_DESCRIPTORS = 256


def connections_needed(plan: Plan) -> int:
    """The most connections the plan may hold open at once: each user has its own,
    unless `config.http.pool` shares a fixed set."""
    return plan.http.pool or users_at_once(plan)


def users_at_once(plan: Plan) -> int:
    """The most users the plan may have running at the same time."""
    most = 1
    for phase in plan.phases:
        if phase.kind == "users":
            most = max(most, phase.users)
        elif phase.max_vusers is not None:
            most = max(most, phase.max_vusers)
        else:
            # users alive at once ≈ arrivals per second × the longest a request may take,
            # and never more than the phase starts in all
            alive = int(phase_peak_rate(phase) * plan.http.timeout) + 1
            most = max(most, min(alive, arrival_count(phase)))
    return most


def phase_peak_rate(phase: Phase) -> float:
    """The most users an open-model phase starts a second (0 for pauses and for closed
    phases, whose users start once and are counted as users at once instead)."""
    if phase.kind == "count":
        return phase.arrival_count / phase.duration if phase.duration else 0.0
    if phase.kind in ("rate", "ramp"):
        return max(phase.arrival_rate, phase.ramp_to)
    return 0.0


# What one process can honestly drive on one core (docs/performance.md measures about
# 1,000 new users a second and 10,000 live users in 312 MB); well past these, the
# numbers a run reports describe the generator, not the target.
ONE_PROCESS_ARRIVALS_PER_SECOND = 5_000
ONE_PROCESS_USERS = 50_000


def peak_arrival_rate(plan: Plan) -> float:
    """The fastest any phase starts users, per second."""
    return max((phase_peak_rate(phase) for phase in plan.phases), default=0.0)


def capacity_warnings(plan: Plan, processes: int = 1) -> list[str]:
    """Said before the run starts when the plan asks more of each process than it can
    give: the run still goes ahead, since the user may know their machine better."""
    rate = peak_arrival_rate(plan) / processes
    users = users_at_once(plan) / processes
    advice = "split it with --workers N or over machines (docs/scaling.md)"
    warnings = []
    if rate > ONE_PROCESS_ARRIVALS_PER_SECOND:
        warnings.append(
            f"this plan starts up to {rate:,.0f} users a second in each process, more than "
            f"one process keeps up with (about {ONE_PROCESS_ARRIVALS_PER_SECOND:,}); {advice}"
        )
    if users > ONE_PROCESS_USERS:
        warnings.append(
            f"this plan may hold {users:,.0f} users at once in each process, more than one "
            f"process holds well (about {ONE_PROCESS_USERS:,}); {advice}"
        )
    return warnings


def ensure_file_limit(plan: Plan) -> str | None:
    """Raise the soft limit on open files as far as the plan needs and the hard limit
    allows; say what to do when that is not enough."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    need = connections_needed(plan) + SPARE_FILE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    wanted = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    except (ValueError, OSError):
        pass
    if soft >= need:
        return None
    return (
        f"this plan may hold up to {need - SPARE_FILE_DESCRIPTORS:,} connections at once, but the "
        f"limit on open files is {soft:,}; raise it (ulimit -n {need}) or requests will fail "
        "with EMFILE"
    )
