"""`yamlload merge` checks the set of segments it is given: exactly 1..N, each once.
A segment given twice is refused (it would be counted twice); a missing one is merged
without, and the merged run is marked incomplete, hence invalid. A shard that started
late after --start-at is its own validity reason, not arrival lag."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from yamlload.checks.validity import LATE_START_SECONDS, invalid_reasons
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.periods import Period
from yamlload.results.summary import Summary

# Six arrivals within a second: each of three segments gets two.
TINY = "config:\n  phases: [{duration: 1, arrivalCount: 6}]\nscenarios:\n  - flow: [{get: {url: /ok}}]\n"


def report_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def run_segment(plan: Path, target: str, segment: str, out: Path, *more: str) -> Any:
    args = ["-q", str(plan), "-t", target, "--seed", "7", "--segment", segment, "-o", str(out)]
    return run_cli("run", *args, *more)


def merge(tmp_path: Path, *names: str, out: str = "merged.json") -> Any:
    return run_cli("merge", *(str(tmp_path / n) for n in names), "-o", str(tmp_path / out))


def users(report: dict[str, Any]) -> int:
    return int(report["aggregate"]["counters"].get("vusers.created", 0))


def write_report(
    path: Path, workers: list[dict[str, Any]], started_at: str = "2026-01-01T12:00:00+00:00"
) -> Path:
    """A small report of a shard, as `run --segment` writes it, without running load."""
    metrics = Metrics()
    metrics.count("vusers.created", 2)
    metrics.count("http.requests", 2)
    metrics.count("http.responses", 2)
    metrics.observe("http.response_time", 4.0)
    summary = Summary("plan.yml", "http://t", started_at, 1.0, [Period(0, metrics)], [])
    summary.workers = workers
    path.write_text(json.dumps(summary.to_json()), encoding="utf-8")
    return path


def shard(label: str, **more: Any) -> dict[str, Any]:
    return {"segment": label, "users": 2, "lag_p99_ms": 1.0, "cpu_percent": 1.0, **more}


# ---- duplicates are refused


def test_a_segment_merged_with_itself_is_refused(server, write_plan, tmp_path: Path) -> None:
    plan = write_plan(TINY)
    assert run_segment(plan, server.url, "1/2", tmp_path / "part1.json").exit_code == 0
    result = merge(tmp_path, "part1.json", "part1.json")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    assert "segment 1/2" in result.stderr and "twice" in result.stderr
    assert "the same run" in result.stderr
    assert not (tmp_path / "merged.json").exists()


def test_two_runs_of_one_segment_are_refused(tmp_path: Path) -> None:
    write_report(tmp_path / "a.json", [shard("1/2")], started_at="2026-01-01T12:00:00+00:00")
    write_report(tmp_path / "b.json", [shard("1/2")], started_at="2026-01-01T13:00:00+00:00")
    write_report(tmp_path / "c.json", [shard("2/2")])
    result = merge(tmp_path, "a.json", "b.json", "c.json")
    assert result.exit_code == 2
    assert "segment 1/2 is in both" in result.stderr
    assert "a.json" in result.stderr and "b.json" in result.stderr
    assert not (tmp_path / "merged.json").exists()


def test_a_workers_run_already_holds_every_segment(tmp_path: Path) -> None:
    write_report(tmp_path / "workers.json", [shard("1/2"), shard("2/2")])
    write_report(tmp_path / "part2.json", [shard("2/2")], started_at="2026-01-02T00:00:00+00:00")
    result = merge(tmp_path, "workers.json", "part2.json")
    assert result.exit_code == 2
    assert "segment 2/2 is in both" in result.stderr


def test_segments_of_different_splits_are_refused(tmp_path: Path) -> None:
    write_report(tmp_path / "a.json", [shard("1/2")])
    write_report(tmp_path / "b.json", [shard("2/3")])
    result = merge(tmp_path, "a.json", "b.json")
    assert result.exit_code == 2
    assert "different numbers of segments" in result.stderr
    assert "1/2 in " in result.stderr and "2/3 in " in result.stderr


def test_whole_runs_are_one_segment_each(tmp_path: Path) -> None:
    """A run without --segment is the whole schedule (segment 1/1): alone it merges to
    itself; with anything else the plan's load would be counted twice."""
    write_report(tmp_path / "a.json", [])
    write_report(tmp_path / "b.json", [], started_at="2026-01-01T13:00:00+00:00")
    write_report(tmp_path / "part.json", [shard("1/2")])
    alone = merge(tmp_path, "a.json")
    assert alone.exit_code == 0, alone.stderr
    assert report_of(tmp_path / "merged.json")["validity"] == {"valid": True, "reasons": []}
    same = merge(tmp_path, "a.json", "a.json", out="same.json")
    assert same.exit_code == 2 and "the same run" in same.stderr
    two = merge(tmp_path, "a.json", "b.json", out="two.json")
    assert two.exit_code == 2 and "both whole runs" in two.stderr
    mixed = merge(tmp_path, "a.json", "part.json", out="mixed.json")
    assert mixed.exit_code == 2 and "different numbers of segments" in mixed.stderr
    assert not any((tmp_path / n).exists() for n in ("same.json", "two.json", "mixed.json"))


@pytest.mark.parametrize("entry", [{"segment": "?"}, {"segment": 3}, "1/2", {"users": 3}])
def test_a_worker_entry_without_a_segment_is_refused(tmp_path: Path, entry: Any) -> None:
    write_report(tmp_path / "odd.json", [entry])
    result = merge(tmp_path, "odd.json")
    assert result.exit_code == 2
    assert "odd.json" in result.stderr and "report" in result.stderr


# ---- a missing segment: merged, marked incomplete, invalid


def test_a_missing_segment_is_merged_and_marked_incomplete(
    server, write_plan, tmp_path: Path
) -> None:
    plan = write_plan(TINY)
    for n in (1, 3):
        result = run_segment(plan, server.url, f"{n}/3", tmp_path / f"part{n}.json")
        assert result.exit_code == 0, result.stderr
    result = merge(tmp_path, "part3.json", "part1.json")
    assert result.exit_code == 3
    assert "incomplete: segment 2/3 is missing" in result.stderr
    merged = report_of(tmp_path / "merged.json")
    assert users(merged) == users(report_of(tmp_path / "part1.json")) + users(
        report_of(tmp_path / "part3.json")
    )
    assert [w["segment"] for w in merged["workers"]] == ["1/3", "2/3", "3/3"]
    assert merged["workers"][1] == {"segment": "2/3", "lost": "missing from merge", "missing": True}
    assert merged["validity"] == {
        "valid": False,
        "reasons": ["incomplete: segment 2/3 is missing"],
    }
    # the missing part, merged in later, completes the run
    assert run_segment(plan, server.url, "2/3", tmp_path / "part2.json").exit_code == 0
    again = merge(tmp_path, "merged.json", "part2.json", out="whole.json")
    assert again.exit_code == 0, again.stderr
    whole = report_of(tmp_path / "whole.json")
    assert users(whole) == 6
    assert [w["segment"] for w in whole["workers"]] == ["1/3", "2/3", "3/3"]
    assert not any("lost" in w for w in whole["workers"])
    assert whole["validity"] == {"valid": True, "reasons": []}


def test_several_missing_segments_are_named_together(tmp_path: Path) -> None:
    write_report(tmp_path / "a.json", [shard("3/4")])
    result = merge(tmp_path, "a.json")
    assert result.exit_code == 3
    reasons = report_of(tmp_path / "merged.json")["validity"]["reasons"]
    assert reasons == ["incomplete: segments 1/4, 2/4 and 4/4 are missing"]


def test_a_lost_worker_in_a_part_makes_the_merged_run_invalid(tmp_path: Path) -> None:
    lost = {"segment": "2/2", "lost": "worker 2/2 died (exit code 9)"}
    write_report(tmp_path / "workers.json", [shard("1/2"), lost])
    result = merge(tmp_path, "workers.json")
    assert result.exit_code == 3
    assert "worker 2/2 died (exit code 9)" in result.stderr
    merged = report_of(tmp_path / "merged.json")
    assert merged["validity"]["reasons"] == ["worker 2/2 died (exit code 9)"]
    assert merged["workers"][1] == lost  # present (it measured something), not missing


# ---- a late start


def test_a_late_start_is_its_own_reason_not_lag(server, write_plan, tmp_path: Path) -> None:
    # 3 s late on a 4 s plan: late, but not so late that the whole plan would be over
    # (that is refused before any traffic)
    plan = write_plan(TINY.replace("duration: 1, arrivalCount: 6", "duration: 4, arrivalCount: 6"))
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=3)).isoformat()
    out = tmp_path / "late.json"
    result = run_segment(plan, server.url, "2/3", out, "--start-at", past)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert "segment 2/3 started" in result.stderr and "s late" in result.stderr
    assert "fell behind" not in result.stderr
    report = report_of(out)
    assert report["workers"][0]["late_start_s"] >= 3.0  # by construction: 3 s in the past
    assert len(report["validity"]["reasons"]) == 1
    assert report["validity"]["reasons"][0].startswith("segment 2/3 started ")
    # the merge of it says so too
    merged = merge(tmp_path, "late.json")
    assert merged.exit_code == 3
    assert "segment 2/3 started" in merged.stderr


def test_late_start_threshold() -> None:
    def summary(late: float) -> Summary:
        metrics = Metrics()
        metrics.count("http.requests", 1)
        metrics.count("http.responses", 1)
        result = Summary("p", "t", "now", 1.0, [Period(0, metrics)], [])
        result.workers = [shard("2/3", late_start_s=late), shard("1/3")]
        return result

    assert invalid_reasons(summary(0.0), 100.0) == []
    assert invalid_reasons(summary(LATE_START_SECONDS * 0.9), 100.0) == []
    assert invalid_reasons(summary(2.6), 100.0) == ["segment 2/3 started 2.6 s late"]
