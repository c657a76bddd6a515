"""What a compiled plan would do, in a few lines a person can check at a glance."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..checks.grades import grade_table, label
from ..errors import PlanError
from ..plan.ir import Alert, MonitorSource, Phase, Plan
from ..plan.secrets import Redactor
from ..schedule.arrivals import arrival_count, total_duration
from ..units import counted, format_count, format_seconds

# Control characters (a terminal's escape, line breaks, C1 codes) in a name the plan
# gives: printed raw they would drive the terminal, so they are shown as \x1b, \n...
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown_name(name: str) -> str:
    """A name from a plan as it can be printed: every control character escaped."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), name)


def phase_load(phase: Phase) -> str:
    """The phase's load in words: `10/s`, `5 → 50/s`, `300 over 5m`, `100 users`."""
    if phase.kind == "pause":
        return "pause"
    if phase.kind == "count":
        if not phase.duration:
            return "all at once"
        return f"{format_count(phase.arrival_count)} over {format_seconds(phase.duration)}"
    if phase.kind == "ramp":
        return f"{format_count(phase.arrival_rate)} → {format_count(phase.ramp_to)}/s"
    if phase.kind == "users":
        spawn = ", all at once"
        if phase.spawn_rate:
            spawn = f", {format_count(phase.spawn_rate)}/s spawn"
        return f"{counted(phase.users, 'user')} looping{spawn}"
    poisson = " poisson" if phase.mode == "poisson" else ""
    return f"{format_count(phase.arrival_rate)}/s{poisson}"


def phase_arrivals(phase: Phase) -> str:
    count = arrival_count(phase)
    if phase.kind == "users":
        return counted(count, "user")
    approx = "≈" if phase.kind == "rate" and phase.mode == "poisson" else ""
    capped = f" (at most {phase.max_vusers:,} at once)" if phase.max_vusers is not None else ""
    return f"{approx}{counted(count, 'arrival')}{capped}"


def describe(plan: Plan) -> list[str]:
    arrivals = sum(arrival_count(p) for p in plan.phases if p.kind != "users")
    users = max((p.users for p in plan.phases if p.kind == "users"), default=0)
    load = [counted(arrivals, "arrival")] if arrivals or not users else []
    load += [f"up to {counted(users, 'looping user')}"] if users else []
    lines = [
        f"  target     {Redactor.for_plan(plan).url(plan.target)}",
        f"  duration   {format_seconds(total_duration(plan.phases))}, "
        f"{counted(len(plan.phases), 'phase')}, {' and '.join(load)}",
    ]
    if plan.environment:
        lines.insert(1, f"  environment {shown_name(plan.environment)}")
    loads = [phase_load(phase) for phase in plan.phases]
    width = max((len(text) for text in loads), default=0)
    for number, (phase, text) in enumerate(zip(plan.phases, loads, strict=True), start=1):
        lines.append(
            f"    {number}. {shown_name(phase.name):<24} {format_seconds(phase.duration):>8}  "
            f"{text:<{max(width, 23)}}  {phase_arrivals(phase)}"
        )
    lines.append(f"  scenarios  {len(plan.scenarios)}")
    for scenario in plan.scenarios:
        share = plan.scenario_share(scenario) * 100
        steps = counted(len(scenario.flow), "step")
        if scenario.engine == "ws":  # a WebSocket scenario (issue 19); its connect is no step
            steps = f"ws, {steps}"
        # An unnamed scenario shows the index its metrics are counted under.
        about = steps if scenario.named else f"unnamed, {steps}"
        lines.append(f"    {share:5.1f}%  {shown_name(scenario.name)}  ({about})")
    if plan.payloads:
        lines.append(f"  payload    {', '.join(shown_name(p.path) for p in plan.payloads)}")
    if plan.monitor:
        lines.append(f"  monitor    {counted(len(plan.monitor), 'source')}")
        redactor = Redactor.for_plan(plan)
        for source in plan.monitor:
            lines.append(
                f"    {shown_name(source.name)}  {_watched(source, redactor)}, every "
                f"{format_seconds(source.interval)}: {', '.join(source.metric_names)}"
            )
    if plan.alerts:
        where = ", ".join(shown_name(_alerted(alert)) for alert in plan.alerts)
        lines.append(f"  alerts     {where}")
    lines.append(f"  grades     {_graded(plan)}")
    return lines


def _graded(plan: Plan) -> str:
    """The metrics the run is graded on, as the grade line names them, and whether
    that is the default table."""
    try:
        table = grade_table(plan)
    except PlanError:  # validate has told them; describe() is never asked then
        return "(not valid)"
    named = ", ".join(shown_name(label(bands.key)) for bands in table)
    return named if plan.grades is not None else f"{named} (the default table)"


def _alerted(alert: Alert) -> str:
    """`webhook hooks.slack.com` (a webhook's path is its token: never shown), or
    `email to a@example.com via smtp.example.com:587`."""
    if alert.webhook is not None:
        return f"webhook {urlsplit(alert.webhook).netloc.rpartition('@')[2]}"
    smtp = alert.smtp
    via = f" via {smtp.host}:{smtp.port}" if smtp is not None else ""
    return f"email to {', '.join(alert.to)}{via}"


def _watched(source: MonitorSource, redactor: Redactor) -> str:
    if source.kind == "prometheus":
        return shown_name(redactor.url(source.url or ""))
    if source.kind == "pid":
        return f"process {source.pid}"
    return f"processes named {shown_name(source.process or '')}"
