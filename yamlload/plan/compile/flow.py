"""Scenarios and their flows: weights, steps (each one action), loops, think times
and jitter. Requests themselves are request.py's."""

from __future__ import annotations

import re
from typing import Any, cast

from ...errors import Pos
from ...units import format_count, parse_duration
from ..expr import ExprError, Template
from ..ir import (
    MAX_LOOP_COUNT,
    METHODS,
    FunctionStep,
    LogStep,
    LoopStep,
    ParallelStep,
    Scenario,
    Step,
    ThinkStep,
    TList,
)
from ..source import Path
from .context import RANGE, Context, number_text, parse_template_cached
from .request import compile_request
from .ws import (
    WS_ACTIONS,
    compile_connect,
    compile_send,
    compile_wait,
    is_first_step,
    misplaced,
    refuse_request_hooks,
    scenario_engine,
)

# Weights are relative; past this a weight is a typo (1e308 would overflow the total).
MAX_WEIGHT = 1_000_000
ACTIONS = (*METHODS, "loop", "think", "log", "parallel", "function", *WS_ACTIONS)

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def compile_scenarios(cx: Context) -> tuple[Scenario, ...]:
    raw = cx.doc.get(("scenarios",))
    scenarios: list[Scenario] = []
    for index, spec in enumerate(raw if isinstance(raw, list) else []):
        path: Path = ("scenarios", index)
        if not cx.healthy(path) or not isinstance(spec, dict):
            continue
        weight = _weight(cx, (*path, "weight"), spec.get("weight", 1))
        if weight is None:
            continue
        engine = scenario_engine(spec)
        if engine == "ws":
            refuse_request_hooks(cx, path, spec)
        scenarios.append(
            Scenario(
                # Artillery counts an unnamed scenario's users under its index.
                name=str(spec.get("name") or index),
                weight=weight,
                flow=compile_flow(cx, (*path, "flow"), engine),
                before_scenario=cx.names((*path, "beforeScenario"), spec.get("beforeScenario")),
                after_scenario=cx.names((*path, "afterScenario"), spec.get("afterScenario")),
                before_request=cx.names((*path, "beforeRequest"), spec.get("beforeRequest")),
                after_response=cx.names((*path, "afterResponse"), spec.get("afterResponse")),
                named=bool(spec.get("name")),
                pos=cx.doc.pos(path),
                engine=engine,
                connect=compile_connect(cx, path, spec) if engine == "ws" else None,
            )
        )
    if scenarios and not any(s.weight > 0 for s in scenarios) and cx.healthy(("scenarios",)):
        cx.error(("scenarios",), "every scenario has weight 0, so no user would run any")
    return tuple(scenarios)


def _weight(cx: Context, path: Path, raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None  # the schema has said what is wrong
    if not raw <= MAX_WEIGHT:  # compares exactly, even for an int past float's range
        cx.error(
            path,
            f"{number_text(raw)} is more than the largest weight, {MAX_WEIGHT:,}; "
            "weights only count relative to each other, so scale them all down",
        )
        return None
    return float(raw)


def compile_flow(cx: Context, path: Path, engine: str = "http") -> tuple[Step, ...]:
    """A flow's steps; `engine` ("http" or "ws") says which steps it may hold."""
    raw = cx.doc.get(path)
    steps: list[Step] = []
    for index, spec in enumerate(raw if isinstance(raw, list) else []):
        step_path = (*path, index)
        if cx.healthy(step_path) and isinstance(spec, dict):
            step = _step(cx, step_path, spec, engine)
            if step is not None:
                steps.append(step)
    return tuple(steps)


def _step(cx: Context, path: Path, spec: dict[str, Any], engine: str) -> Step | None:
    actions = [key for key in spec if key in ACTIONS]
    if len(actions) > 1:
        cx.error(
            path,
            f"a step has one action; this one has {' and '.join(repr(a) for a in actions)}",
        )
    if len(actions) != 1:
        return None  # none at all is the schema's to report
    action = actions[0]
    at = (*path, action)
    pos = cx.doc.pos(path)
    if misplaced(cx, path, action, engine):
        return None
    if action == "connect":
        if not is_first_step(path):
            cx.error(at, "'connect' is a ws scenario's first step, or not at all")
        return None  # the scenario's connection (compile_connect), not a step of its own
    if action == "send":
        return compile_send(cx, path, spec["send"]) if cx.healthy(at) else None
    if action == "wait":
        return compile_wait(cx, path, spec["wait"]) if cx.healthy(at) else None
    if action in METHODS:
        return compile_request(cx, at, action, spec[action]) if cx.healthy(at) else None
    if action == "loop":
        return _loop(cx, path, spec, pos, engine)
    if action == "think":
        return _think(cx, path, spec, pos)
    if action == "log":
        return LogStep(cx.template(at, str(spec["log"])), pos)
    if action == "parallel":
        return ParallelStep(compile_flow(cx, at, engine), pos)
    cx.function_refs.append((spec["function"], at))
    return FunctionStep(spec["function"], pos)


def _loop(cx: Context, path: Path, spec: dict[str, Any], pos: Pos, engine: str) -> LoopStep | None:
    steps = compile_flow(cx, (*path, "loop"), engine)
    count: Template | tuple[int, int] | None = None
    over: Template | TList | None = None
    raw_count = spec.get("count")
    if isinstance(raw_count, int | float) and not isinstance(raw_count, bool):
        # `1e3` and `1000.0` are numbers too: never mistaken for "no count"
        number = cx.number((*path, "count"), raw_count, integer=True, most=MAX_LOOP_COUNT)
        if number is None:
            return None
        count = (int(number), int(number))
    elif isinstance(raw_count, str):
        m = RANGE.match(raw_count)
        if m:
            low, high = int(m.group(1)), int(m.group(2))
            if low > high:
                cx.error((*path, "count"), f"range {raw_count!r} goes down; write it low-high")
                return None
            if high > MAX_LOOP_COUNT:
                cx.error((*path, "count"), f"must be at most {MAX_LOOP_COUNT:,}")
                return None
            count = (low, high)
        else:
            count = cx.template((*path, "count"), raw_count)
    raw_over = spec.get("over")
    if isinstance(raw_over, list):
        over = cast(TList, cx.value((*path, "over"), raw_over))
    elif isinstance(raw_over, str):
        text = raw_over if "{{" in raw_over else "{{ " + raw_over.strip() + " }}"
        try:
            over = parse_template_cached(text)
        except ExprError as exc:
            cx.error((*path, "over"), f"{raw_over!r} is not a variable name: {exc.message}")
            return None
    while_true = spec.get("whileTrue")
    if while_true is not None:
        cx.function_refs.append((while_true, (*path, "whileTrue")))
    if count is None and over is None and while_true is None:
        cx.warn((*path, "loop"), "has no count, over or whileTrue: it repeats until the run ends")
    return LoopStep(steps=steps, count=count, over=over, while_true=while_true, pos=pos)


def _think(cx: Context, path: Path, spec: dict[str, Any], pos: Pos) -> ThinkStep | None:
    raw = spec["think"]
    at = (*path, "think")
    jitter, jitter_seconds = _jitter(cx, (*path, "jitter"), spec.get("jitter"))
    if isinstance(raw, dict):
        low = cx.duration((*at, "min"), raw["min"])
        high = cx.duration((*at, "max"), raw["max"])
        if low is None or high is None:
            return None
        if low > high:
            cx.error(at, f"min ({format_count(low)}s) is more than max ({format_count(high)}s)")
            return None
        return ThinkStep(low=low, high=high, jitter=jitter, jitter_seconds=jitter_seconds, pos=pos)
    if isinstance(raw, str) and "{{" in raw:
        return ThinkStep(
            seconds=cx.template(at, raw),
            jitter=jitter,
            jitter_seconds=jitter_seconds,
            pos=pos,
        )
    seconds = cx.duration(at, raw)
    if seconds is None:
        return None
    return ThinkStep(seconds=seconds, jitter=jitter, jitter_seconds=jitter_seconds, pos=pos)


def _jitter(cx: Context, path: Path, raw: Any) -> tuple[float | None, float | None]:
    """`"10%"` is a fraction of the think time; a plain number is ± seconds."""
    if raw is None:
        return None, None
    if isinstance(raw, str):
        m = _PERCENT.match(raw)
        if m:
            fraction = float(m.group(1)) / 100.0
            if fraction > 1:  # past 100% a think time would go below zero
                cx.error(path, f"{raw!r} is more than 100%")
                return None, None
            return fraction, None
        if parse_duration(raw) is None:
            cx.error(path, f"{raw!r} is not a percentage or a number of seconds")
            return None, None
    # seconds either side: finite, not negative, within a phase's longest duration
    return None, cx.duration(path, raw)


def default_jitter(cx: Context) -> float | None:
    think = cx.doc.get(("config", "defaults", "think"))
    if isinstance(think, dict) and "jitter" in think and cx.healthy(("config", "defaults")):
        fraction, _ = _jitter(cx, ("config", "defaults", "think", "jitter"), think["jitter"])
        return fraction
    return None
