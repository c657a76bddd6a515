"""The Summary: what a run measured, merged. Every reporter reads only this.

It is also the JSON report: `to_json()` writes Artillery's shape (`aggregate` and
`intermediate`, each with `counters`, `rates` and `summaries`) plus the encoded
histograms that let reports be merged and rendered again later, exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._engine import ENDPOINT_PREFIX as _ENDPOINT_METRICS
from ._engine import PhaseRun, RunResult
from ._errors import UsageError
from ._metrics import PERIOD_SECONDS, Histogram, Metrics, Period, merge_metrics
from ._plan import Plan
from ._redact import Redactor
from ._version import __version__

REPORT_FORMAT = 1
ENDPOINT_PREFIX = _ENDPOINT_METRICS + "."
ENDPOINT_LATENCY = ENDPOINT_PREFIX + "response_time."
# An arrival this late against its schedule means the generator could not keep up.
LAG_WARNING_MS = 100.0


@dataclass
class Endpoint:
    name: str
    requests: int
    codes: dict[str, int]
    errors: dict[str, int]
    latency: Histogram

    @property
    def failed(self) -> int:
        """Responses with a 4xx/5xx code, plus requests that got no response."""
        bad = sum(n for code, n in self.codes.items() if code[:1] in ("4", "5"))
        return bad + sum(self.errors.values())


@dataclass
class Summary:
    source: str
    target: str
    started_at: str
    duration: float
    periods: list[Period]
    phases: list[PhaseRun]
    stopped_by: str | None = None
    environment: str | None = None
    document: Any = None
    version: str = __version__
    aggregate: Metrics = field(default_factory=Metrics)
    # The CI verdict, once judged: {"checks": [...], "validity": {...}} (see _checks).
    verdict: dict[str, Any] = field(default_factory=dict)
    # One entry per worker (shard) when the load was split: segment, lag, CPU.
    workers: list[dict[str, Any]] = field(default_factory=list)
    # A --checkpoint report: the run was still going when it was written.
    checkpoint: bool = False

    def __post_init__(self) -> None:
        if not self.aggregate.counters and not self.aggregate.histograms:
            self.aggregate = merge_metrics(p.metrics for p in self.periods)

    # ---- reading

    def counter(self, name: str) -> int:
        return self.aggregate.counters.get(name, 0)

    def histogram(self, name: str) -> Histogram:
        return self.aggregate.histograms.get(name) or Histogram()

    def counters_with(self, prefix: str) -> dict[str, int]:
        n = len(prefix)
        return {
            k[n:]: v for k, v in sorted(self.aggregate.counters.items()) if k.startswith(prefix)
        }

    @property
    def request_rate(self) -> float:
        return self.counter("http.requests") / self.duration if self.duration > 0 else 0.0

    @property
    def error_rate(self) -> float:
        """Failed users / created users (0 when no user was created)."""
        created = self.counter("vusers.created")
        return self.counter("vusers.failed") / created if created else 0.0

    def lag_warning(self) -> str | None:
        lag = self.histogram("yamlload.arrival_lag")
        p99 = lag.percentile(0.99)
        if lag.count and p99 > LAG_WARNING_MS:
            return (
                f"the generator fell behind its schedule: arrival lag p99 = {p99:.0f} ms "
                f"(max {lag.max:.0f} ms); the load it made was lower than planned"
            )
        return None

    def endpoints(self) -> list[Endpoint]:
        names = {
            k[len(ENDPOINT_LATENCY) :]
            for k in self.aggregate.histograms
            if k.startswith(ENDPOINT_LATENCY)
        }
        for key in self.aggregate.counters:
            if key.startswith(ENDPOINT_PREFIX) and (".codes." in key or ".errors." in key):
                names.add(
                    key[len(ENDPOINT_PREFIX) :].rsplit(".codes.", 1)[0].rsplit(".errors.", 1)[0]
                )
        rows = []
        for name in sorted(names):
            codes = self.counters_with(f"{ENDPOINT_PREFIX}{name}.codes.")
            errors = self.counters_with(f"{ENDPOINT_PREFIX}{name}.errors.")
            rows.append(
                Endpoint(
                    name=name,
                    requests=sum(codes.values()) + sum(errors.values()),
                    codes=codes,
                    errors=errors,
                    latency=self.histogram(ENDPOINT_LATENCY + name),
                )
            )
        return rows

    # ---- JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "yamlload": {"version": self.version, "format": REPORT_FORMAT},
            "plan": {
                "source": self.source,
                "target": self.target,
                "environment": self.environment,
                "phases": [vars(p) for p in self.phases],
                "document": self.document,
            },
            "run": {
                "startedAt": self.started_at,
                "duration": round(self.duration, 3),
                "stoppedBy": self.stopped_by,
                **({"checkpoint": True} if self.checkpoint else {}),
            },
            "aggregate": _metrics_json(self.aggregate, 0.0, self.duration),
            "intermediate": [
                _metrics_json(
                    p.metrics, p.start, min(PERIOD_SECONDS, max(self.duration - p.start, 1e-9))
                )
                for p in self.periods
            ],
            "endpoints": [
                {
                    "name": e.name,
                    "requests": e.requests,
                    "codes": e.codes,
                    "errors": e.errors,
                    "summary": e.latency.summary(),
                }
                for e in self.endpoints()
            ],
            **({"workers": self.workers} if self.workers else {}),
            **self.verdict,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], label: str = "report") -> Summary:
        try:
            plan, run = data["plan"], data["run"]
            periods = [
                Period(index=round(float(p["period"]) / PERIOD_SECONDS), metrics=Metrics.decode(p))
                for p in data["intermediate"]
            ]
            return cls(
                source=str(plan["source"]),
                target=str(plan["target"]),
                started_at=str(run["startedAt"]),
                duration=float(run["duration"]),
                periods=periods,
                phases=[PhaseRun(**p) for p in plan.get("phases", [])],
                stopped_by=run.get("stoppedBy"),
                environment=plan.get("environment"),
                document=plan.get("document"),
                version=str(data.get("yamlload", {}).get("version", "?")),
                aggregate=Metrics.decode(data["aggregate"]),
                verdict={k: data[k] for k in ("checks", "validity") if k in data},
                workers=list(data.get("workers", [])),
                checkpoint=bool(run.get("checkpoint", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"{label}: not a yamlload JSON report ({type(exc).__name__}: {exc})"
            ) from None


def _metrics_json(metrics: Metrics, start: float, seconds: float) -> dict[str, Any]:
    encoded = metrics.encode()
    requests = metrics.counters.get("http.requests", 0)
    return {
        "period": start,
        "counters": encoded["counters"],
        "rates": {"http.request_rate": round(requests / seconds, 3) if seconds > 0 else 0.0},
        "summaries": {name: h.summary() for name, h in sorted(metrics.histograms.items())},
        "histograms": encoded["histograms"],
    }


def summarize(
    plan: Plan,
    result: RunResult,
    started_at: str,
    workers: list[dict[str, Any]] | None = None,
    redactor: Redactor | None = None,
) -> Summary:
    """The report of a run. `redactor` masks the plan's secrets; a caller that summarizes
    the same plan again and again (checkpoints) passes one in rather than rebuild it."""
    redactor = redactor or Redactor.for_plan(plan)
    return Summary(
        source=plan.source,
        target=redactor.url(plan.target),
        started_at=started_at,
        duration=result.duration,
        periods=result.periods,
        phases=result.phases,
        stopped_by=result.stopped_by,
        environment=plan.environment,
        document=redactor.document(plan.raw),
        workers=workers or [],
    )
