"""`yamlload run`'s (and `quick`'s) flags, read once from click into frozen values.

Every flag is read here and nowhere else, and every combination of flags that cannot
work is refused here, before the plan is read or any traffic is sent."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from ..checks.live import DEFAULT_ABORT_DELAY_SECONDS
from ..checks.parse import Check
from ..checks.validity import DEFAULT_MAX_LAG_MS
from ..errors import UsageError
from ..live import DEFAULT_HOST
from ..live.outputs import parse_out
from ..plan.compile.alerts import webhook_problem
from ..plan.ir import LiveOutput, Plan
from ..plan.source import PlanOptions
from ..schedule.arrivals import WHOLE_RUN, Segment
from ..units import parse_duration
from .options import options_from

START_AT_EXAMPLE = "2026-01-01T12:00:00Z"
# Past these a number is a typo: each worker is a process (and its memory), each segment
# a machine, and a start a week away is not the time of this run.
MAX_WORKERS = 1024
MAX_SEGMENTS = 100_000
MAX_START_AHEAD_SECONDS = 7 * 24 * 3600.0
# CI systems that show a job summary name its file in this variable (GitHub Actions).
STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class Split:
    """How the load is split: one process, N local workers, a Dask cluster, or one
    segment by hand (many machines)."""

    workers: int = 1
    dask: str | None = None
    segment: Segment = WHOLE_RUN
    start_at: float | None = None
    checkpoint_seconds: float | None = None

    @classmethod
    def from_click(cls, kwargs: dict[str, Any]) -> Split:
        workers = worker_count(str(kwargs.get("workers", "1")))
        dask: str | None = kwargs.get("dask_address")
        segment, start_at = kwargs.get("segment"), kwargs.get("start_at")
        if dask and (segment or workers > 1):
            raise UsageError("--dask decides the shards itself: leave out --workers and --segment")
        if segment and workers > 1:
            raise UsageError("--workers and --segment do not go together: a segment is one worker")
        if start_at and not segment:
            raise UsageError("--start-at goes with --segment")
        checkpoint_seconds: float | None = kwargs.get("checkpoint_seconds")
        if kwargs.get("dashboard") and (dask or workers > 1):
            raise UsageError(
                "--dashboard needs the run in one process: leave out --workers and --dask "
                "(or give each --segment its own --dashboard)"
            )
        if checkpoint_seconds and (dask or workers > 1):
            raise UsageError(
                "--checkpoint needs the run in one process: leave out --workers and --dask "
                "(or run each --segment with its own --checkpoint and -o)"
            )
        if kwargs.get("alert_webhooks") and (dask or workers > 1):
            raise UsageError(
                "--alert-webhook needs the run in one process: leave out --workers and "
                "--dask (or give each --segment its own --alert-webhook)"
            )
        if kwargs.get("abort_on_fail") and (dask or workers > 1):
            raise UsageError(
                "--abort-on-fail needs the run in one process: leave out --workers and "
                "--dask (or give each --segment its own --abort-on-fail)"
            )
        if kwargs.get("out") and (dask or workers > 1):
            raise UsageError(
                "--out needs the run in one process: leave out --workers and --dask "
                "(or give each --segment its own --out)"
            )
        return cls(
            workers=workers,
            dask=dask,
            segment=parse_segment(segment) if segment else WHOLE_RUN,
            start_at=parse_start_at(start_at) if start_at else None,
            checkpoint_seconds=checkpoint_seconds,
        )

    def check_monitor(self, plan: Plan) -> None:
        """config.monitor samples from the one process that runs the load: with the load
        split over workers or a Dask cluster each would sample it again (and a pid means
        a process of its own machine), so that is refused, before any traffic, for now. A
        --segment is one process: it samples, and `yamlload merge` merges its series."""
        if plan.monitor and (self.dask or self.workers > 1):
            raise UsageError(
                "config.monitor needs the run in one process: leave out --workers and "
                "--dask (or run each --segment with its own monitor)"
            )

    def check_alerts(self, plan: Plan) -> None:
        """config.alerts judges the run in the one process that makes it: with the load
        split it is refused, before any traffic, for now."""
        if plan.alerts and (self.dask or self.workers > 1):
            raise UsageError(
                "config.alerts needs the run in one process: leave out --workers and "
                "--dask (or run each --segment on its own)"
            )

    def check_abort(self, checks: list[Check]) -> None:
        """A plan's `abortOnFail` judges the run in the one process that makes it: with
        the load split it is refused, before any traffic, for now."""
        marked = [c.source for c in checks if c.abort]
        if marked and (self.dask or self.workers > 1):
            raise UsageError(
                f"config.ensure's abortOnFail ({marked[0]}) needs the run in one process: "
                "leave out --workers and --dask (or run each --segment on its own)"
            )

    def check_start(self, plan: Plan, now: float | None = None) -> None:
        """A --start-at so far past that the whole plan would already be over would fire
        every user at once: refused, before any traffic."""
        if self.start_at is None:
            return
        late = (time.time() if now is None else now) - self.start_at
        planned = sum(phase.duration for phase in plan.phases)
        if -late > MAX_START_AHEAD_SECONDS:
            raise UsageError(
                f"--start-at is {-late:,.0f} s away, more than a week: give the time of "
                "the run itself"
            )
        if late > planned:
            raise UsageError(
                f"--start-at is {late:,.0f} s in the past, longer than the plan lasts "
                f"({planned:,.0f} s): every user would start at once; give a time to come"
            )


@dataclass(frozen=True)
class ReportFiles:
    """Where a run reports: the JSON report (`-o`; None until the plan names the
    default) and the CI files, each None when not asked for."""

    output: str | None = None
    html: str | None = None
    csv: str | None = None
    junit: str | None = None
    summary_md: str | None = None
    step_summary: str | None = None  # appended to: $GITHUB_STEP_SUMMARY

    @classmethod
    def from_click(cls, kwargs: dict[str, Any]) -> ReportFiles:
        return cls(
            output=kwargs.get("output"),
            html=kwargs.get("html_path"),
            csv=kwargs.get("csv_prefix"),
            junit=kwargs.get("junit"),
            summary_md=kwargs.get("summary_md"),
            step_summary=os.environ.get(STEP_SUMMARY_VARIABLE) or None,
        )


@dataclass(frozen=True)
class RunArgs:
    """Everything `run` (or `quick`) was asked to do, read once from click's kwargs.
    A flag a command does not have takes its default."""

    plan_path: str | None = None
    plan: PlanOptions = field(default_factory=PlanOptions)
    seed: int | None = None
    insecure: bool = False
    scenario_name: str | None = None
    solo: bool = False
    debug: bool = False
    quiet: bool = False
    demo_target: bool = False
    ensure: tuple[str, ...] = ()
    max_lag: float = DEFAULT_MAX_LAG_MS
    allow_lag: bool = False
    files: ReportFiles = field(default_factory=ReportFiles)
    split: Split = field(default_factory=Split)
    # --dashboard: where the live page and /metrics are served, (host, port).
    dashboard: tuple[str, int] | None = None
    # --out: push outputs (StatsD, a Pushgateway, JSON lines), besides the plan's own.
    outs: tuple[LiveOutput, ...] = ()
    # --abort-on-fail: every check that can be judged live stops the run when it fails,
    # once --abort-delay seconds of load have gone.
    abort_on_fail: bool = False
    abort_delay: float = DEFAULT_ABORT_DELAY_SECONDS
    abort_delay_given: bool = False  # said on the command line (warned about if unused)
    # --alert-webhook: URLs that take Slack's {"text": ...}, besides config.alerts.
    alert_webhooks: tuple[str, ...] = ()

    @classmethod
    def from_click(cls, plan_path: str | None, kwargs: dict[str, Any]) -> RunArgs:
        split = Split.from_click(kwargs)  # refuses flags that do not go together
        return cls(
            plan_path=plan_path,
            plan=options_from(kwargs),
            seed=kwargs.get("seed"),
            insecure=bool(kwargs.get("insecure")),
            scenario_name=kwargs.get("scenario_name"),
            solo=bool(kwargs.get("solo")),
            debug=bool(kwargs.get("debug")),
            quiet=bool(kwargs.get("quiet")),
            demo_target=bool(kwargs.get("demo_target")),
            ensure=tuple(kwargs.get("ensure") or ()),
            max_lag=kwargs.get("max_lag", DEFAULT_MAX_LAG_MS),
            allow_lag=bool(kwargs.get("allow_lag")),
            files=ReportFiles.from_click(kwargs),
            split=split,
            dashboard=parse_dashboard(kwargs["dashboard"]) if kwargs.get("dashboard") else None,
            outs=tuple(parse_out(text) for text in kwargs.get("out") or ()),
            abort_on_fail=bool(kwargs.get("abort_on_fail")),
            abort_delay=parse_abort_delay(kwargs.get("abort_delay")),
            abort_delay_given=kwargs.get("abort_delay") is not None,
            alert_webhooks=tuple(parse_webhook(url) for url in kwargs.get("alert_webhooks") or ()),
        )

    def aimed_at(self, target: str) -> RunArgs:
        """These args aimed at the demo target (`--demo-target`): its address replaces
        the plan's target's scheme, host and port; the target's path is kept."""
        return replace(self, plan=replace(self.plan, demo_target=target))


def parse_segment(text: str) -> Segment:
    """`2/8` (1-based) → the second of eight segments."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise UsageError(f"--segment {text!r}: expected I/N, such as 2/8")
    number, count = int(found.group(1)), int(found.group(2))
    if not 1 <= number <= count:
        raise UsageError(f"--segment {text!r}: I must be between 1 and N")
    if count > MAX_SEGMENTS:
        raise UsageError(f"--segment {text!r}: N must be at most {MAX_SEGMENTS:,}")
    return Segment(number - 1, count)


def parse_start_at(text: str) -> float:
    """An ISO 8601 moment (`2026-01-01T12:00:00Z`) as epoch seconds."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--start-at {text!r}: expected an ISO time such as {START_AT_EXAMPLE}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def worker_count(text: str) -> int:
    if text == "auto":
        if hasattr(os, "sched_getaffinity"):
            return max(1, len(os.sched_getaffinity(0)))
        return os.cpu_count() or 1
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--workers {text!r}: expected a number of workers, or auto")
    if int(text) > MAX_WORKERS:
        raise UsageError(f"--workers {text!r}: at most {MAX_WORKERS:,} on one machine")
    return int(text)


def parse_dashboard(text: str) -> tuple[str, int]:
    """`--dashboard`'s `[HOST:]PORT`: `5665`, `0.0.0.0:8089`, `[::1]:5665` → (host, port).
    Port 0 is any free port (the URL printed says which)."""
    found = re.fullmatch(r"\s*(?:(\[[^\]]*\]|[^:\s\[\]]*):)?(\d{1,5})\s*", text)
    if not found or int(found.group(2)) > 65535:
        raise UsageError(
            f"--dashboard {text!r}: expected [HOST:]PORT, such as 127.0.0.1:5665 or 8089 "
            "(or --dashboard alone, after PLAN, for 127.0.0.1:5665)"
        )
    host = (found.group(1) or "").strip("[]") or DEFAULT_HOST
    return host, int(found.group(2))


def parse_abort_delay(text: str | None) -> float:
    """`--abort-delay 10s` → 10.0; left out, DEFAULT_ABORT_DELAY_SECONDS."""
    if text is None:
        return DEFAULT_ABORT_DELAY_SECONDS
    seconds = parse_duration(text)
    if seconds is None:
        raise UsageError(f"--abort-delay {text!r}: expected a duration, such as 10s or 1m")
    return seconds


def parse_webhook(url: str) -> str:
    """`--alert-webhook URL`: an http:// or https:// URL with a host (never shown: its
    path is its token)."""
    problem = webhook_problem(url)
    if problem is not None:
        raise UsageError(f"--alert-webhook: {problem}")
    return url.strip()
