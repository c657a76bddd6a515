"""config.ensure (and the ensure plugin's block): thresholds, conditions,
maxErrorRate and Artillery's legacy percentile keys, as `Threshold`s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...errors import Pos
from ..ir import Threshold
from ..source import Path
from .context import Context

LEGACY_ENSURE = {"min", "max", "median", "p50", "p75", "p90", "p95", "p99", "p999"}


def compile_ensure(cx: Context) -> tuple[Threshold, ...]:
    out: list[Threshold] = []
    for base in (("config", "ensure"), ("config", "plugins", "ensure")):
        if cx.healthy(base):
            out.extend(_ensure_block(cx, base, cx.mapping(base)))
    return tuple(out)


def _ensure_block(cx: Context, base: Path, spec: dict[str, Any]) -> Iterator[Threshold]:
    for key, value in spec.items():
        at = (*base, key)
        if not cx.healthy(at):
            continue
        if key == "thresholds":
            for i, item in enumerate(value):
                if not cx.healthy((*at, i)):
                    continue
                for metric, spec in item.items():
                    yield _threshold(metric, spec, cx.doc.pos((*at, i)))
        elif key == "conditions":
            for i, item in enumerate(value):
                if not cx.healthy((*at, i)):
                    continue
                condition = cx.condition((*at, i, "expression"), item["expression"])
                if condition is not None:
                    yield Threshold(
                        None,
                        None,
                        None,
                        condition=condition,
                        strict=item.get("strict", True),
                        source=item["expression"],
                        pos=cx.doc.pos((*at, i)),
                    )
        elif key == "maxErrorRate":
            yield Threshold(
                "error_rate",
                "<=",
                float(value),
                # Artillery's maxErrorRate counts failed users: say so in every table.
                source=f"maxErrorRate: user_failure_rate <= {_as_written(value)}%",
                pos=cx.doc.pos(at),
            )
        elif key in LEGACY_ENSURE:
            source = f"{key} < {_as_written(value)}"
            yield Threshold(key, "<", float(value), source=source, pos=cx.doc.pos(at))


def _threshold(metric: str, spec: float | dict[str, Any], pos: Pos) -> Threshold:
    """`metric: limit`, or `metric: {threshold: limit, abortOnFail: true}` (the schema
    has checked the shape): the check is metric < limit."""
    if isinstance(spec, dict):
        written, abort = spec["threshold"], bool(spec.get("abortOnFail", False))
    else:
        written, abort = spec, False
    source = f"{metric} < {_as_written(written)}"
    return Threshold(metric, "<", float(written), source=source, pos=pos, abort_on_fail=abort)


def _as_written(number: float) -> str:
    """A limit in a check's name, as the plan would write it: `1500000`, not `1.5e+06`
    nor `1,500,000` (the name identifies the check across reports)."""
    if float(number).is_integer() and abs(number) < 1e15:
        return f"{number:.0f}"
    return f"{number:g}"
