"""Scale out: --workers N gives exactly the single-process schedule, hand-run segments
merge to the same result, CSV rows are used once across shards, a lost worker is exit 3."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli
from yamlload.metrics.histogram import Histogram

PLAN = (
    "config:\n  phases:\n    - {duration: 2, arrivalRate: 10}\n    - {duration: 2, arrivalRate: 4, rampTo: 12}\n"
    "    - {duration: 1, arrivalCount: 7}\n"
    "scenarios:\n  - name: a\n    weight: 2\n    flow: [{get: {url: /ok}}, {get: {url: /sleep/10, name: slow}}]\n"
    "  - name: b\n    flow: [{get: {url: /test}}]\n"
)


def report_of(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def counts(report: dict) -> dict[str, int]:
    c = report["aggregate"]["counters"]
    return {
        k: c.get(k, 0)
        for k in ("vusers.created", "vusers.completed", "http.requests", "http.codes.200")
    }


def test_workers_make_exactly_the_single_process_load(server, write_plan, tmp_path: Path) -> None:
    plan = str(write_plan(PLAN))
    one = run_cli(
        "run", "-q", plan, "-t", server.url, "--seed", "4", "-o", str(tmp_path / "one.json")
    )
    two = run_cli(
        "run",
        "-q",
        plan,
        "-t",
        server.url,
        "--seed",
        "4",
        "--workers",
        "2",
        "-o",
        str(tmp_path / "two.json"),
    )
    assert one.exit_code == 0 and two.exit_code == 0, two.stdout + two.stderr
    single, split = report_of(tmp_path / "one.json"), report_of(tmp_path / "two.json")
    assert counts(single)["vusers.created"] == 20 + 16 + 7  # 10/s × 2 s, a 4→12 ramp over 2 s, 7
    assert counts(split) == counts(single)
    assert [w["users"] for w in split["workers"]] == [22, 21]
    assert "Workers (2)" in two.stdout


def run_segment(
    plan: str, target: str, number: int, start: str, out: Path
) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "yamlload",
        "run",
        "-q",
        plan,
        "-t",
        target,
        "--seed",
        "4",
        "--segment",
        f"{number}/2",
        "--start-at",
        start,
        "-o",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_hand_run_segments_merge_exactly(server, write_plan, tmp_path: Path) -> None:
    plan = str(write_plan(PLAN))
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)).isoformat()
    processes = [
        run_segment(plan, server.url, n, start, tmp_path / f"part{n}.json") for n in (1, 2)
    ]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    merged = tmp_path / "merged.json"
    result = run_cli(
        "merge", str(tmp_path / "part1.json"), str(tmp_path / "part2.json"), "-o", str(merged)
    )
    assert result.exit_code == 0, result.stderr
    parts = [report_of(tmp_path / f"part{n}.json") for n in (1, 2)]
    whole = report_of(merged)
    assert counts(whole)["vusers.created"] == 43
    assert [w["segment"] for w in whole["workers"]] == ["1/2", "2/2"]
    # the merged histogram is the union of the shards' samples, bucket by bucket
    union = Histogram()
    for part in parts:
        union.merge(Histogram.decode(part["aggregate"]["histograms"]["http.response_time"]))
    merged_hist = Histogram.decode(whole["aggregate"]["histograms"]["http.response_time"])
    assert merged_hist.buckets == union.buckets
    for q in (0.5, 0.9, 0.99):
        assert merged_hist.percentile(q) == union.percentile(q)
    # and it has exactly what --workers makes
    workers = tmp_path / "workers.json"
    assert (
        run_cli(
            "run", "-q", plan, "-t", server.url, "--seed", "4", "--workers", "2", "-o", str(workers)
        ).exit_code
        == 0
    )
    assert counts(report_of(workers)) == counts(whole)


def test_sequence_rows_are_used_once_across_workers(server, write_plan, tmp_path: Path) -> None:
    names = [f"user{i}" for i in range(10)]
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 10}]\n"
        "  payload:\n    path: users.csv\n    fields: [name]\n    order: sequence\n"
        "scenarios:\n  - flow: [{get: {url: '/seen/{{ name }}'}}]\n",
        **{"users.csv": "\n".join(names) + "\n"},
    )
    result = run_cli(
        "run", "-q", str(plan), "-t", server.url, "--workers", "2", "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 0, result.stderr
    hits = server.hits()
    assert [hits.get(f"GET /seen/{name}", 0) for name in names] == [1] * 10


def test_a_lost_worker_is_an_invalid_run_with_what_was_measured(
    server, write_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "first-one-dies"
    monkeypatch.setenv("YAMLLOAD_TEST_KILL_FILE", str(marker))
    hooks = (
        "import os\n\n"
        "def maybe_die(context):\n"
        "    try:\n"
        "        os.close(os.open(os.environ['YAMLLOAD_TEST_KILL_FILE'], os.O_CREAT | os.O_EXCL))\n"
        "    except FileExistsError:\n"
        "        return\n"
        "    os._exit(9)  # the first worker to get here dies, hard\n"
    )
    plan = write_plan(
        "config:\n  phases: [{duration: 3, arrivalRate: 4}]\n  processor: hooks.py\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}, {think: 1.5}, {function: maybe_die}]\n",
        **{"hooks.py": hooks},
    )
    result = run_cli(
        "run", "-q", str(plan), "-t", server.url, "--workers", "2", "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 3
    assert "died (exit code 9)" in result.stderr
    report = report_of(tmp_path / "r.json")
    assert report["validity"]["valid"] is False
    assert report["aggregate"]["counters"]["http.requests"] >= 6  # the survivor's share at least
    assert any("lost" in w for w in report["workers"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--segment", "3/2"], "I must be between 1 and N"),
        (["--segment", "half"], "expected I/N"),
        (["--start-at", "2026-01-01T00:00:00Z"], "--start-at goes with --segment"),
        (["--workers", "2", "--segment", "1/2"], "do not go together"),
        (["--workers", "none"], "expected a number of workers"),
        (["--segment", "1/2", "--start-at", "noon"], "expected an ISO time"),
    ],
)
def test_bad_split_options(write_plan, args: list[str], message: str) -> None:
    result = run_cli("run", str(write_plan(PLAN)), "-t", "http://127.0.0.1:9", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_merge_refuses_reports_of_different_plans(tmp_path: Path) -> None:
    from yamlload.metrics.histogram import Metrics
    from yamlload.metrics.periods import Period
    from yamlload.results.summary import Summary

    for name, source in (("a.json", "one.yml"), ("b.json", "two.yml")):
        summary = Summary(source, "http://t", "now", 1.0, [Period(0, Metrics())], [])
        (tmp_path / name).write_text(json.dumps(summary.to_json()))
    result = run_cli(
        "merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-o", str(tmp_path / "m.json")
    )
    assert result.exit_code == 2
    assert "different plans" in result.stderr
    assert os.path.exists(tmp_path / "m.json") is False


def test_shards_on_an_in_process_dask_cluster(server, write_plan, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    plan = str(write_plan(PLAN))
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    try:
        result = run_cli(
            "run",
            "-q",
            plan,
            "-t",
            server.url,
            "--seed",
            "4",
            "--dask",
            cluster.scheduler_address,
            "-o",
            str(tmp_path / "dask.json"),
        )
    finally:
        cluster.close()
    assert result.exit_code == 0, result.stdout + result.stderr
    report = report_of(tmp_path / "dask.json")
    assert counts(report)["vusers.created"] == 43
    assert [w["segment"] for w in report["workers"]] == ["1/2", "2/2"]
    assert sum(w["users"] for w in report["workers"]) == 43
    single = tmp_path / "single.json"
    assert (
        run_cli("run", "-q", plan, "-t", server.url, "--seed", "4", "-o", str(single)).exit_code
        == 0
    )
    assert counts(report_of(single)) == counts(report)


def test_dask_shards_start_together_once_every_one_is_ready(
    server, write_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard that takes long to get ready (a big bundle to unpack, a big payload to
    parse) holds back the start of all: none starts late, so the run stays valid."""
    distributed = pytest.importorskip("distributed")
    import yamlload.scale.shard as shard

    compile_plan = shard.load_plan
    slow = shard.START_LEAD_SECONDS + 2.0  # longer than any lead given before the start

    compiled: list[str] = []

    def slow_to_compile(*args, **kwargs):  # type: ignore[no-untyped-def]
        compiled.append(str(args[0]))
        time.sleep(slow)
        return compile_plan(*args, **kwargs)

    monkeypatch.setattr(shard, "load_plan", slow_to_compile)
    plan = str(write_plan(PLAN))
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    try:
        result = run_cli(
            "run",
            "-q",
            plan,
            "-t",
            server.url,
            "--seed",
            "4",
            "--dask",
            cluster.scheduler_address,
            "-o",
            str(tmp_path / "dask.json"),
        )
    finally:
        cluster.close()
    assert result.exit_code == 0, result.stdout + result.stderr
    workers = report_of(tmp_path / "dask.json")["workers"]
    assert all(w["late_start_s"] < 1 for w in workers), workers
    # each shard compiled the plan it was sent, unpacked in a folder of its own
    assert len(compiled) == 2 and all("yamlload-shard-" in path for path in compiled)


def test_dask_address_that_does_not_answer(write_plan) -> None:
    pytest.importorskip("distributed")
    from tests.servers import free_port

    result = run_cli(
        "run",
        str(write_plan(PLAN)),
        "-t",
        "http://127.0.0.1:9",
        "--dask",
        f"tcp://127.0.0.1:{free_port()}",
    )
    assert result.exit_code == 2
    assert "cannot reach the scheduler" in result.stderr


def test_the_html_report_lists_the_workers(server, write_plan, tmp_path: Path) -> None:
    plan = str(write_plan(PLAN))
    result = run_cli(
        "run",
        "-q",
        plan,
        "-t",
        server.url,
        "--workers",
        "2",
        "-o",
        str(tmp_path / "r.json"),
        "--html",
        str(tmp_path / "r.html"),
    )
    assert result.exit_code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<table id="workers">' in page
    assert "<td>1/2</td>" in page and "<td>2/2</td>" in page


def test_worker_progress_adds_up() -> None:
    from yamlload.results.run import Progress
    from yamlload.scale.workers import _combined

    a = Progress(
        elapsed=3.0, total=10, phase="ramp", active=4, created=10, requests=30, failed=1, rps=8.0
    )
    b = Progress(
        elapsed=3.2, total=10, phase="ramp", active=5, created=11, requests=29, failed=0, rps=7.5
    )
    both = _combined([a, b])
    assert (both.active, both.created, both.requests, both.failed, both.rps, both.elapsed) == (
        9,
        21,
        59,
        1,
        15.5,
        3.2,
    )


def test_a_late_start_travels_with_the_result_and_into_the_workers_table() -> None:
    from yamlload.results.run import RunResult
    from yamlload.scale.merge import decode_result, encode_result, merge_results, worker_health
    from yamlload.schedule.arrivals import Segment

    late = RunResult([], 5.0, [], late_start=2.625)
    on_time = RunResult([], 5.0, [])
    assert decode_result(json.loads(json.dumps(encode_result(late)))).late_start == 2.625
    assert decode_result(encode_result(on_time)).late_start == 0.0
    assert merge_results([on_time, late]).late_start == 2.625  # the latest shard
    assert worker_health(Segment(1, 3), late)["late_start_s"] == 2.625
    assert worker_health(Segment(0, 3), on_time)["late_start_s"] == 0.0


# ---- -c, Artillery's short form of --config (the plan options are shared by run and validate)

CONFIG = "config:\n  target: '{target}'\n  phases: [{{duration: 1, arrivalCount: 3}}]\n"
SCENARIOS = "scenarios:\n  - flow: [{get: {url: /ok}}]\n"


def test_run_takes_c_for_config(server, write_plan, tmp_path: Path) -> None:
    write_plan(CONFIG.format(target=server.url), name="other.yml")
    plan = write_plan(SCENARIOS)
    result = run_cli(
        "run", "-q", str(plan), "-c", str(tmp_path / "other.yml"), "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 0, result.stderr
    assert report_of(tmp_path / "r.json")["aggregate"]["counters"]["vusers.created"] == 3


def test_validate_takes_c_for_config(write_plan, tmp_path: Path) -> None:
    write_plan(CONFIG.format(target="http://127.0.0.1:9"), name="other.yml")
    plan = write_plan(SCENARIOS)
    without = run_cli("validate", str(plan))
    assert without.exit_code == 2  # no phases, no target: the plan needs its config
    result = run_cli("validate", str(plan), "-c", str(tmp_path / "other.yml"))
    assert result.exit_code == 0, result.stderr
    assert "3 arrivals" in result.stdout


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped: only its exit status is left


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the workers")
def test_workers_stop_when_their_coordinator_is_killed(server, tmp_path: Path) -> None:
    import signal
    import time

    plan = tmp_path / "long.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: 60, arrivalRate: 5}}]\n"
        "scenarios:\n  - flow: [{get: {url: /seen/orphan}}]\n"
    )
    coordinator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yamlload",
            "run",
            "-q",
            str(plan),
            "--workers",
            "2",
            "-o",
            str(tmp_path / "r.json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # bounded: until the workers send load
            if server.hits().get("GET /seen/orphan", 0) >= 5:
                break
            time.sleep(0.1)
        workers = [pid for pid in _children(coordinator.pid) if _alive(pid)]
        assert len(workers) >= 2, workers
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(10)
        for _ in range(100):  # bounded: the workers must go
            if not any(_alive(pid) for pid in workers):
                break
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
        sent = server.hits().get("GET /seen/orphan", 0)
        time.sleep(1.0)
        assert server.hits().get("GET /seen/orphan", 0) == sent  # no load after they died
    finally:
        coordinator.kill()
        for pid in _children(coordinator.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
