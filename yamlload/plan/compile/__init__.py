"""The validated plan becomes the IR: durations, rates, weights, defaults, templates.

`load_plan` is the whole front end: assemble the layers, refuse unsupported features,
check the schema, then compile. Every problem found on the way is collected and raised
together as one `PlanError`. The compiler only builds the parts of the plan that passed
the schema check, so one broken step never hides the problems of another.

    context.py   the shared state and plumbing (positions, templates, numbers, durations)
    refusals.py  unsupported Artillery features, templates that do not parse
    phases.py    config.phases
    flow.py      scenarios, steps, loops, think
    request.py   requests, captures, expectations, uploads
    config.py    target, payloads, http/tls, plugins, apdex, processor
    ensure.py    config.ensure
    publish.py   config.plugins.publish-metrics (live outputs)
    monitor.py   config.monitor (the system under test's sources)
    grades.py    config.grades (the grade table as written)
    drift.py     config.drift (issue 22: drift's minimum duration and thresholds)
    ws.py        WebSocket scenarios: config.ws, connect, send, wait (issue 19)
"""

from __future__ import annotations

import json
from pathlib import Path as FsPath

from ...errors import PlanError
from ..ir import Plan, TMap
from ..layering import PlanOptions, assemble
from ..schema_check import check_schema
from ..secrets import secret_values
from ..source import Located
from .alerts import compile_alerts
from .config import (
    apdex_threshold,
    check_plugins,
    compile_http,
    compile_payloads,
    compile_processor,
    compile_target,
)
from .context import MAX_CONNECTIONS, MAX_PHASE_SECONDS, MAX_USERS, Context
from .drift import compile_drift
from .ensure import compile_ensure
from .flow import MAX_WEIGHT, compile_flow, compile_scenarios, default_jitter
from .grades import compile_grades
from .monitor import compile_monitor
from .phases import MAX_ARRIVAL_RATE, compile_phases
from .publish import compile_live_outputs
from .refusals import template_problems, unsupported_features
from .request import ConfinedFile
from .ws import compile_ws_settings

__all__ = [
    "MAX_ARRIVAL_RATE",
    "MAX_CONNECTIONS",
    "MAX_PHASE_SECONDS",
    "MAX_USERS",
    "MAX_WEIGHT",
    "ConfinedFile",
    "compile_document",
    "load_plan",
    "template_problems",
    "unsupported_features",
]


def load_plan(plan_path: str, options: PlanOptions | None = None) -> Plan:
    """Read, layer, check and compile one plan. Raises PlanError with every problem."""
    options = options or PlanOptions()
    return compile_document(assemble(plan_path, options), plan_path, options)


def compile_document(doc: Located, plan_path: str, options: PlanOptions) -> Plan:
    """Check and compile an assembled document (a plan file, or one made in code)."""
    refused = unsupported_features(doc)
    if refused:
        raise PlanError(refused)
    report = check_schema(doc)
    problems = report.problems + template_problems(doc)
    cx = Context(doc, plan_path, options, report.broken, report.misspelled)
    plan = _build(cx)
    problems += cx.problems
    if problems:
        raise PlanError(problems)
    return plan


def _build(cx: Context) -> Plan:
    target = compile_target(cx)
    phases = compile_phases(cx)
    scenarios = compile_scenarios(cx)
    before = compile_flow(cx, ("before", "flow")) if cx.healthy(("before",)) else ()
    after = compile_flow(cx, ("after", "flow")) if cx.healthy(("after",)) else ()
    processor = compile_processor(cx)
    secrets = tuple(name for name in cx.sequence(("config", "secrets")) if isinstance(name, str))
    check_plugins(cx)
    live_outputs = compile_live_outputs(cx)  # before the warnings are taken
    monitor = compile_monitor(cx, target)
    alerts = compile_alerts(cx)
    expect = cx.plugin_options("expect")
    default_headers = cx.tmap(("config", "http", "defaults", "headers"))
    default_headers = TMap(default_headers.items + cx.tmap(("config", "defaults", "headers")).items)
    return Plan(
        source=cx.plan_path,
        target=target,
        phases=phases,
        scenarios=scenarios,
        before=before,
        after=after,
        variables=cx.tmap(("config", "variables")),
        payloads=compile_payloads(cx),
        default_headers=default_headers,
        default_cookie=cx.tmap(("config", "defaults", "cookie")),
        default_jitter=default_jitter(cx),
        http=compile_http(cx),
        ensure=compile_ensure(cx),
        processor=processor,
        plugins=tuple(sorted(cx.mapping(("config", "plugins")))),
        environment=cx.options.environment,
        env=tuple(sorted(cx.env.items())),
        secrets=secrets,
        expect_stop_user=expect.get("reportFailuresAsErrors") is True,
        expect_default_200=expect.get("expectDefault200") is True,
        apdex_threshold_ms=apdex_threshold(cx),
        live_outputs=live_outputs,
        monitor=monitor,
        alerts=alerts,
        grades=compile_grades(cx),
        drift=compile_drift(cx, monitor),
        ws=compile_ws_settings(cx),
        base_dir=str(FsPath(cx.plan_path).resolve().parent),
        warnings=tuple(cx.warnings),
        raw_json=json.dumps(cx.doc.data),
        secret_values=secret_values(
            cx.doc.data,
            cx.env,
            secrets,
            target,
            urls=[s.url for s in monitor if s.url],
            extra=[a.webhook for a in alerts if a.webhook],
        ),
    )
