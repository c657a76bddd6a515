"""config.monitor (issue 17): the system under test's sources, each checked whole so that
`validate` reports every mistake at once.

A selector that does not parse is a problem placed at its wrong character: the
selector's own column (monitor.selector's SelectorError) added to where its text starts
in the plan file. That start is exact for a plain or quoted scalar written on one line
whose text appears verbatim (no escapes before the mistake); otherwise the problem
points at the value, as any other problem does.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ...errors import Pos, Problem
from ...monitor.selector import Expr, SelectorError, parse
from ..files import MAX_PLAN_BYTES, read_bounded
from ..ir import (
    DEFAULT_MONITOR_INTERVAL_SECONDS,
    DEFAULT_MONITOR_TIMEOUT_SECONDS,
    MIN_MONITOR_INTERVAL_SECONDS,
    MONITOR_KINDS,
    MonitorKind,
    MonitorSource,
)
from ..secrets import mask_userinfo
from ..source import Path, describe_path
from .context import Context

MONITOR: Path = ("config", "monitor")
# The largest process id any system gives (Linux's pid_max is at most 2**22).
MAX_PID = 2**31 - 1
_HTTP_URL = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)
# Plan files whose lines were read back to place a selector's mistake, per compile.
_SOURCE_CACHE_SIZE = 8


def compile_monitor(cx: Context, target: str = "") -> tuple[MonitorSource, ...]:
    """Each source of config.monitor, in order; a broken one adds problems, not a source.
    A prometheus URL that is a path (/metrics) is on the `target`'s host, so a plan
    re-aimed with -t or --demo-target monitors the host it loads."""
    if MONITOR in cx.broken:  # not a list; a broken source is seen to below
        return ()
    sources: list[MonitorSource] = []
    seen: dict[str, Path] = {}
    for index, spec in enumerate(cx.sequence(MONITOR)):
        path = (*MONITOR, index)
        if not isinstance(spec, dict):
            continue
        named = _named(cx, path, spec, seen)
        # a source without a good name still has the rest of it checked
        if not _healthy_but_name(cx, path, spec):
            continue
        source = _source(cx, path, spec, target)
        if source is not None and named:
            sources.append(source)
    return tuple(sources)


def _named(cx: Context, path: Path, spec: dict[str, Any], seen: dict[str, Path]) -> bool:
    """Whether the source's name is good and its own; a repeated one is a problem."""
    name = spec.get("name")
    if not isinstance(name, str) or not cx.healthy((*path, "name")):
        return False
    if name in seen:
        cx.error(
            (*path, "name"), f"{name!r} names a source twice (also {describe_path(seen[name])})"
        )
        return False
    seen[name] = path
    return True


def _healthy_but_name(cx: Context, path: Path, spec: dict[str, Any]) -> bool:
    """Healthy but for its name: a bad name (a problem of its own child) or a missing one
    (the schema's problem at the source itself) leaves the source's other keys to check."""
    own = {b for b in cx.broken if b[: len(path)] == path and len(b) <= len(path) + 1}
    own.discard((*path, "name"))
    if "name" not in spec:
        own.discard(path)
    return not own


def _source(cx: Context, path: Path, spec: dict[str, Any], target: str) -> MonitorSource | None:
    before = len(cx.problems)
    given = [kind for kind in MONITOR_KINDS if kind in spec]
    if not given:
        cx.error(path, "a source needs one of prometheus: URL, pid: N or process: NAME")
        return None
    if len(given) > 1:
        cx.error((*path, given[1]), f"give only one of {', '.join(given)} for a source")
        return None
    kind: MonitorKind = given[0]  # type: ignore[assignment]
    interval = _interval(cx, path, spec)
    timeout = _timeout(cx, path, spec)
    url, pid, process = None, None, None
    metrics: tuple[tuple[str, Expr], ...] = ()
    if kind == "prometheus":
        url = _url(cx, (*path, "prometheus"), spec["prometheus"], target)
        if "metrics" not in spec:
            cx.error(path, "a prometheus source needs metrics: {name: selector, ...}")
        else:
            metrics = _metrics(cx, (*path, "metrics"), spec["metrics"])
            if not metrics and len(cx.problems) == before:
                cx.error((*path, "metrics"), "a prometheus source needs at least one metric")
    else:
        if "metrics" in spec:
            cx.error(
                (*path, "metrics"),
                "a process source gives cpu_percent, rss_mb, fds, threads and connections; "
                "metrics are for a prometheus source",
            )
        if kind == "pid":
            number = cx.number(
                (*path, "pid"), spec["pid"], integer=True, positive=True, most=MAX_PID
            )
            pid = None if number is None else int(number)
        else:
            process = str(spec["process"])
    if len(cx.problems) > before or interval is None or "name" not in spec:
        return None
    return MonitorSource(
        name=str(spec["name"]),
        kind=kind,
        url=url,
        pid=pid,
        process=process,
        metrics=metrics,
        interval=interval,
        timeout=timeout,
        pos=cx.doc.pos(path),
    )


def _interval(cx: Context, path: Path, spec: dict[str, Any]) -> float | None:
    if "interval" not in spec:
        return DEFAULT_MONITOR_INTERVAL_SECONDS
    seconds = cx.duration((*path, "interval"), spec["interval"])
    if seconds is not None and seconds < MIN_MONITOR_INTERVAL_SECONDS:
        cx.error(
            (*path, "interval"),
            f"must be at least {MIN_MONITOR_INTERVAL_SECONDS:g}s, got {seconds:g}s",
        )
        return None
    return seconds


def _timeout(cx: Context, path: Path, spec: dict[str, Any]) -> float:
    if "timeout" not in spec:
        return DEFAULT_MONITOR_TIMEOUT_SECONDS
    seconds = cx.duration((*path, "timeout"), spec["timeout"])
    if seconds is not None and seconds <= 0:
        cx.error((*path, "timeout"), "must be more than 0")
        return DEFAULT_MONITOR_TIMEOUT_SECONDS
    return DEFAULT_MONITOR_TIMEOUT_SECONDS if seconds is None else seconds


def _url(cx: Context, path: Path, raw: Any, target: str) -> str | None:
    url = cx.resolve(path, raw)
    if url is None:
        return None
    url = str(url).strip()
    if url.startswith("/") and not url.startswith("//"):
        if not _HTTP_URL.match(target):
            cx.error(path, f"{url!r} is a path on the target, but the plan has no http:// target")
            return None
        parts = urlsplit(target)
        url = f"{parts.scheme}://{parts.netloc}{url}"
    if not _HTTP_URL.match(url):
        # the URL may hold a password ($env or literal): never shown
        cx.error(
            path, f"{mask_userinfo(_masked_env(raw, url))!r} is not an http:// or https:// URL"
        )
        return None
    return url


def _masked_env(raw: Any, rendered: str) -> str:
    """What a message may show of a URL: as written when it holds a template (an $env
    value is a secret), else as resolved."""
    return str(raw) if isinstance(raw, str) and "{{" in raw else rendered


def _metrics(cx: Context, path: Path, raw: dict[str, Any]) -> tuple[tuple[str, Expr], ...]:
    compiled: list[tuple[str, Expr]] = []
    for name, text in raw.items():
        try:
            compiled.append((name, parse(str(text))))
        except SelectorError as exc:
            at = (*path, name)
            cx.problems.append(_selector_problem(cx, at, str(text), exc))
    return tuple(compiled)


def _selector_problem(cx: Context, path: Path, text: str, exc: SelectorError) -> Problem:
    pos = _selector_pos(cx.doc.pos(path), text, exc.column)
    return Problem(pos, f"{describe_path(path)}: {text!r}: {exc.plain}")


def _selector_pos(value: Pos, text: str, column: int) -> Pos:
    """The position of the selector's `column` (1-based) in the plan file, when its text
    is written verbatim there up to that column; else the value's own position."""
    line = _line(value.file, value.line)
    if line is None or value.col < 1:
        return value
    start = value.col - 1  # 0-based index of the scalar in its line
    if line[start : start + 1] in ('"', "'"):
        start += 1
    offset = column - 1
    if line[start : start + offset] != text[:offset]:
        return value  # escapes, a folded or a block scalar: the value is the best place
    return Pos(value.file, value.line, start + offset + 1)


def _line(file: str, number: int) -> str | None:
    """Line `number` of a plan file, read again (bounded) only to place a selector's
    mistake; None for a label that is not a file (--overrides) or one that cannot be read."""
    try:
        stat = os.stat(file)
    except (OSError, ValueError):
        return None
    lines = _file_lines(file, stat.st_mtime_ns, stat.st_size)
    return lines[number - 1] if 0 < number <= len(lines) else None


@lru_cache(maxsize=_SOURCE_CACHE_SIZE)
def _file_lines(file: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Cached by the file's time and size too, so an edited plan is read afresh."""
    try:
        return tuple(read_bounded(file, MAX_PLAN_BYTES).decode("utf-8-sig").splitlines())
    except (OSError, ValueError):
        return ()
