"""Real reports for the trend tests: a few short runs of one plan against the test server
on 127.0.0.1, made once per module, and copies of them with another start time, revision,
grade or plan name (edits that keep a report valid against the report schema)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from tests.servers import ServerThread, free_port

# One plan: each user asks /sleep/{{ ms }} once, so a run's latency is what `-v` says.
PLAN = """config:
  target: URL
  phases: [{duration: 1, arrivalRate: 20}]
scenarios:
  - flow:
      - get: {url: "/sleep/{{ ms }}", name: sleep}
"""
FAST_MS, SLOW_MS = 5, 400


@dataclass(frozen=True)
class Real:
    """The real runs: three fast ones (which passed their check) and a slow one (which
    failed it), each as its JSON."""

    fast: tuple[dict[str, Any], ...]
    slow: dict[str, Any]
    plan: Path


def make_real_runs(server: ServerThread, folder: Path) -> Real:
    plan = folder / "checkout.yml"
    plan.write_text(PLAN.replace("URL", server.url), encoding="utf-8")
    fast = tuple(_run(plan, folder / f"fast{i}.json", FAST_MS, "p95<1000") for i in range(3))
    slow = _run(plan, folder / "slow.json", SLOW_MS, "p95<200", exit_code=1)
    return Real(fast, slow, plan)


@dataclass(frozen=True)
class Failing:
    """Real runs of the same plan file that went wrong: one against a port nothing
    listens on (an invalid run: no response at all) and one whose every request got a
    500 (a valid run, all errors)."""

    unreachable: dict[str, Any]
    errors: dict[str, Any]


def make_failing_runs(server: ServerThread, folder: Path) -> Failing:
    gone, served = folder / "gone", folder / "served"
    gone.mkdir()
    served.mkdir()
    closed = f"http://127.0.0.1:{free_port()}"
    (gone / "checkout.yml").write_text(PLAN.replace("URL", closed), encoding="utf-8")
    (served / "checkout.yml").write_text(PLAN.replace("URL", server.url), encoding="utf-8")
    # the run is invalid (exit 3) and its p95<1000 has no data
    unreachable = _run(gone / "checkout.yml", gone / "r.json", FAST_MS, "p95<1000", exit_code=3)
    errors = _run(served / "checkout.yml", served / "r.json", "x", "p95<1000")  # /sleep/x: 500
    assert unreachable["validity"]["valid"] is False and errors["validity"]["valid"] is True
    return Failing(unreachable, errors)


def _run(plan: Path, out: Path, ms: int | str, ensure: str, exit_code: int = 0) -> dict[str, Any]:
    done = run_cli(
        "run", str(plan), "-q", "-v", json.dumps({"ms": ms}), "--ensure", ensure, "-o", str(out)
    )
    assert done.exit_code == exit_code, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert report["aggregate"]["counters"]["http.requests"] >= 10
    return report


def day(n: int) -> str:
    return f"2026-01-{n:02d}T10:00:00+00:00"


def derive(
    report: dict[str, Any],
    path: Path,
    started: str,
    revision: str | None = None,
    grade: dict[str, Any] | None = None,
    **changes: Any,
) -> Path:
    """A copy of `report` at `path` that started at `started`, with a revision and a
    grade when given, and without (as a report written before grades were) when not;
    `changes` go into `run`, or into `plan` for `source`."""
    data = copy.deepcopy(report)
    data["run"]["startedAt"] = started
    data.pop("grade", None)
    data["run"].pop("revision", None)
    if revision is not None:
        data["run"]["revision"] = revision
    if grade is not None:
        data["grade"] = grade
    for key, value in changes.items():
        data["plan" if key == "source" else "run"][key] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def grade(overall: str, table: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON shape of a report's grades (docs/report-format.md#grade)."""
    return {
        "overall": overall,
        "readiness": {"verdict": "ready", "rule": "every graded metric is B or better"},
        "by_metric": {"http.response_time.p95": {"value": 6.0, "grade": overall}},
        "table": table
        or {
            "http.response_time.p95": {"bands": [500, 1000, 2000, 5000], "better": "lower"},
            "error_rate": {"bands": [0.001, 0.005, 0.01, 0.05], "better": "lower"},
        },
    }
