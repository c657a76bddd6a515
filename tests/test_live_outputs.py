"""Push outputs (live/outputs.py): `--out statsd=`, `prometheus-push=`, `jsonl=` and the
plan's publish-metrics, on real runs against servers on 127.0.0.1. What they send adds
up to the report; one that fails never changes the run's numbers or exit code, and is
counted as yamlload.output_errors; a spec that cannot work is exit 2 before traffic."""

from __future__ import annotations

import errno
import json
import os
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread, free_port, raw_tcp_server
from tests.test_exposition import parse
from yamlload import PlanOptions, load_plan
from yamlload.live import jsonl, pushgateway
from yamlload.live.points import quantiles
from yamlload.live.pushgateway import group_url
from yamlload.live.statsd import MAX_DATAGRAM_BYTES, pack, parse_host_port
from yamlload.metrics.histogram import Histogram
from yamlload.plan.ir import LiveOutput

# 30 users over 3 s, 3 requests each: 60 answered 200, 30 answered 404.
PLAN = """config:
  target: {target}
  phases: [{{duration: 3, arrivalRate: 10}}]
  variables: {{token: s3cr3t-token-value}}
  secrets: [token]
{extra}scenarios:
  - flow:
      - get: {{url: /ok}}
      - post: {{url: /missing}}
      - get: {{url: /seen/s3cr3t-token-value}}
"""
REQUESTS = 90
SECRET = "s3cr3t-token-value"
# How long a test listener waits for a datagram the run has already sent.
UDP_WAIT_SECONDS = 1.0


def write_plan(tmp_path: Path, target: str, extra: str = "") -> Path:
    path = tmp_path / "plan.yml"
    path.write_text(PLAN.format(target=target, extra=extra), encoding="utf-8")
    return path


def run(tmp_path: Path, plan: Path, *args: str) -> tuple[Any, dict[str, int]]:
    """`yamlload run` in this process; its result and the report's counters."""
    report = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-o", str(report), *args)
    counters: dict[str, int] = {}
    if report.exists():
        counters = json.loads(report.read_text(encoding="utf-8"))["aggregate"]["counters"]
    return result, counters


@contextmanager
def udp_listener() -> Iterator[tuple[int, list[str]]]:
    """A StatsD server on 127.0.0.1: its port, and the lines it got once the block ends."""
    lines: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1], lines
        sock.settimeout(UDP_WAIT_SECONDS)
        while True:
            try:
                datagram = sock.recv(65536)
            except TimeoutError:
                break
            assert len(datagram) <= MAX_DATAGRAM_BYTES
            lines.extend(datagram.decode("utf-8").split("\n"))


def statsd_lines(lines: list[str]) -> list[tuple[str, float, str, dict[str, str]]]:
    """(name, value, type, tags) of each `name:value|type|#k:v,...` line."""
    out = []
    for line in lines:
        head, kind, *rest = line.split("|")
        name, value = head.rsplit(":", 1)
        tags = {}
        if rest:
            assert rest[0].startswith("#"), line
            tags = dict(tag.partition(":")[::2] for tag in rest[0][1:].split(","))
        out.append((name, float(value), kind, tags))
    return out


# --------------------------------------------------------------------------- StatsD


def test_statsd_gets_every_second_and_the_counts_add_up_to_the_report(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    with udp_listener() as (port, lines):
        out = f"statsd=127.0.0.1:{port},prefix=ci.,tag=branch:main,tag=key:{SECRET}"
        result, counters = run(tmp_path, plan, "--out", out)
    assert result.exit_code == 0, result.output + result.stderr
    assert counters["http.requests"] == REQUESTS
    parsed = statsd_lines(lines)
    requests = [(value, tags) for name, value, kind, tags in parsed if name == "ci.http.requests"]
    assert sum(value for value, _ in requests) == counters["http.requests"]
    by = {}
    for value, tags in requests:
        key = (tags["endpoint"], tags["code"])
        by[key] = by.get(key, 0) + value
    assert by == {
        ("GET /ok", "200"): 30,
        ("POST /missing", "404"): 30,
        ("GET /seen/***", "200"): 30,
    }
    for name in ("http.codes.200", "http.codes.404", "vusers.created", "vusers.completed"):
        sent = sum(v for n, v, kind, _ in parsed if n == f"ci.{name}" and kind == "c")
        assert sent == counters[name], name
    assert all(tags["branch"] == "main" and tags["key"] == "***" for *_, tags in parsed)
    gauges = {name for name, _, kind, _ in parsed if kind == "g"}
    for stat in ("p50", "p95", "p99", "max"):
        assert f"ci.http.response_time.{stat}" in gauges
        assert f"ci.http.endpoint_response_time.{stat}" in gauges
    assert "ci.vusers.active" in gauges and "ci.yamlload.arrival_lag.p99" in gauges
    assert SECRET not in "\n".join(lines)


def test_plain_statsd_sends_the_reports_names_without_tags(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    """For StatsD servers that drop a tagged line (Etsy's): `format=plain`, and the
    plan's `type: statsd` without tags, as Artillery's lines are then."""
    with udp_listener() as (plans, from_plan), udp_listener() as (port, lines):
        extra = f"  plugins:\n    publish-metrics: [{{type: statsd, port: {plans}}}]\n"
        plan = write_plan(tmp_path, fresh_server.url, extra)
        result, counters = run(tmp_path, plan, "--out", f"statsd=127.0.0.1:{port},format=plain")
    assert result.exit_code == 0, result.output + result.stderr
    for got, prefix in ((lines, "yamlload."), (from_plan, "artillery.")):
        assert not any("|#" in line for line in got)
        parsed = statsd_lines(got)
        sent: dict[str, float] = {}
        for name, value, kind, _ in parsed:
            if kind == "c":
                sent[name] = sent.get(name, 0) + value
        assert sent[prefix + "http.requests"] == counters["http.requests"] == REQUESTS
        endpoint = "plugins.metrics-by-endpoint.GET /seen/***.codes.200"
        assert sent[prefix + endpoint] == 30
        gauges = {name for name, _, kind, _ in parsed if kind == "g"}
        assert prefix + "plugins.metrics-by-endpoint.response_time.GET /ok.p95" in gauges
        assert SECRET not in "\n".join(got)


def test_datagrams_are_packed_up_to_the_limit_in_order() -> None:
    rng = random.Random(7)
    lines = [f"m{i}:{'x' * rng.randint(1, 300)}|c" for i in range(500)]
    lines.append("long:" + "y" * 3000 + "|c")  # longer than a datagram: sent alone
    datagrams = pack(lines, MAX_DATAGRAM_BYTES)
    assert b"\n".join(datagrams).decode().split("\n") == lines
    assert all(len(d) <= MAX_DATAGRAM_BYTES for d in datagrams[:-1])
    assert datagrams[-1] == lines[-1].encode()


def test_host_and_port() -> None:
    assert parse_host_port("127.0.0.1:8125") == ("127.0.0.1", 8125)
    assert parse_host_port("[::1]:9125") == ("::1", 9125)
    assert parse_host_port("agent.local:1") == ("agent.local", 1)
    for bad in ("127.0.0.1", ":8125", "host:0", "host:65536", "a b:1", "::1:8125"):
        with pytest.raises(ValueError):
            parse_host_port(bad)


def test_per_second_quantiles_are_the_histograms_own() -> None:
    rng = random.Random(3)
    for _ in range(50):
        hist = Histogram()
        for _ in range(rng.randint(1, 400)):
            hist.record(rng.lognormvariate(2, 1.5))
        expected = [round(hist.percentile(q), 3) for q in (0.5, 0.95, 0.99)]
        assert quantiles(hist) == expected


# --------------------------------------------------------------------------- Pushgateway


class Pushgateway(ServerThread):
    """A Pushgateway stand-in: keeps each push's method, path, content type and text."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, str, str, str]] = []
        app = web.Application()
        app.router.add_route("*", "/metrics/{group:.*}", self.take)
        super().__init__(app)

    async def take(self, request: web.Request) -> web.Response:
        text = await request.text()
        self.pushes.append((request.method, request.path, request.content_type, text))
        return web.Response(status=200)


@pytest.fixture
def quick_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """A push at every tick of the ticker (once a second: each crosses a half-second
    period), and short timeouts, so a 3-second run shows several."""
    monkeypatch.setattr(pushgateway, "PERIOD_SECONDS", 0.5)
    monkeypatch.setattr(pushgateway, "PUSH_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(pushgateway, "FINAL_PUSH_TIMEOUT_SECONDS", 0.5)


def test_the_pushgateway_gets_a_push_each_period_and_the_last_matches_the_report(
    tmp_path: Path, fresh_server: ServerThread, quick_periods: None
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    with Pushgateway() as gateway:
        result, counters = run(
            tmp_path,
            plan,
            *("--out", f"prometheus-push={gateway.url},tag=env:ci"),
            *("--out", f"prometheus-push={gateway.url}/,prefix=loadtest,tag=instance:a/b"),
        )
    assert result.exit_code == 0, result.output + result.stderr
    assert counters.get("yamlload.output_errors", 0) == 0
    group = f"/metrics/job/yamlload/instance/{socket.gethostname()}-{os.getpid()}/env/ci"
    ours = [p for p in gateway.pushes if p[1] == group]
    assert len(ours) >= 3, [p[1] for p in gateway.pushes]  # ticks 1 and 2, and the end
    assert all(method == "PUT" and kind == "text/plain" for method, _, kind, _ in ours)
    types, samples = parse(ours[-1][3])
    assert types["yamlload_http_requests_total"] == "counter"
    sent = sum(v for name, _, v in samples if name == "yamlload_http_requests_total")
    assert sent == counters["http.requests"] == REQUESTS
    values = {name: v for name, labels, v in samples if not labels}
    assert values["yamlload_vusers_created_total"] == counters["vusers.created"]
    assert values["yamlload_http_requests_failed_total"] == counters["http.requests_failed"]
    assert values["yamlload_http_response_time_seconds_count"] == REQUESTS
    assert SECRET not in ours[-1][3]
    earlier = [
        sum(v for n, _, v in parse(p[3])[1] if n == "yamlload_http_requests_total") for p in ours
    ]
    assert earlier == sorted(earlier)  # the run so far, growing
    # The tag names the instance (a slash in it: base64), the prefix renames the metrics.
    prefixed = [p for p in gateway.pushes if p[1] == "/metrics/job/yamlload/instance@base64/YS9i"]
    assert prefixed and "loadtest_http_requests_total{" in prefixed[-1][3]
    assert "yamlload_" not in prefixed[-1][3]


def test_grouping_labels_in_the_url() -> None:
    assert group_url("http://gw:9091/", (("job", "ci"), ("instance", "x"), ("run id", ""))) == (
        "http://gw:9091/metrics/job/ci/instance/x/run_id@base64/="
    )
    given = "http://gw:9091/metrics/job/mine"
    assert group_url(given, (("env", "ci"),)) == given + "/env/ci"


# --------------------------------------------------------------------------- JSON lines


def test_jsonl_lines_parse_and_add_up_to_the_report(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    path = tmp_path / "live.jsonl"
    result, counters = run(tmp_path, plan, "--out", f"jsonl={path},tag=run:42")
    assert result.exit_code == 0, result.output + result.stderr
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    declared: dict[str, str] = {}
    totals: dict[str, float] = {}
    for line in lines:
        assert set(line) == {"type", "metric", "data"}
        if line["type"] == "Metric":
            declared[line["metric"]] = line["data"]["type"]
            continue
        assert line["type"] == "Point" and line["metric"] in declared  # declared first
        data = line["data"]
        assert data["time"].endswith("Z") and data["tags"]["run"] == "42"
        if declared[line["metric"]] == "counter":
            totals[line["metric"]] = totals.get(line["metric"], 0) + data["value"]
    assert totals["http.requests"] == counters["http.requests"] == REQUESTS
    for name in ("http.codes.200", "http.codes.404", "http.responses", "vusers.created"):
        assert totals[name] == counters[name], name
    assert declared["http.response_time.p95"] == "gauge"
    assert SECRET not in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- failures


def silent(conn: socket.socket) -> None:
    """Read whatever comes and never answer, until the client gives up."""
    conn.settimeout(10)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def full_disk(file: object, chunk: str) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_dead_outputs_leave_the_run_alone_and_are_counted(
    tmp_path: Path, fresh_server: ServerThread, quick_periods: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every write of the JSON lines fails, as on a full disk (/dev/full is a device:
    # refused, see test_live_outputs_jsonl.py).
    monkeypatch.setattr(jsonl, "_write_chunk", full_disk)
    plan = write_plan(tmp_path, fresh_server.url)
    with raw_tcp_server(silent) as hanging:
        result, counters = run(
            tmp_path,
            plan,
            *("--out", f"statsd=127.0.0.1:{free_udp_port()}"),  # nobody listens
            *("--out", f"prometheus-push=http://127.0.0.1:{free_port()}"),  # refused
            *("--out", f"prometheus-push={hanging}"),  # never answers
            *("--out", f"jsonl={tmp_path / 'live.jsonl'}"),  # every write fails
        )
    assert result.exit_code == 0, result.output + result.stderr
    assert counters["http.requests"] == REQUESTS
    assert counters["http.codes.200"] == 60 and counters["http.codes.404"] == 30
    told = result.output + result.stderr
    for name in (
        "warning: statsd 127.0.0.1:",
        "warning: prometheus-push http://",
        "warning: jsonl ",
    ):
        assert name in told, told
    assert told.count("failed, the run goes on") == 4
    assert told.count("warning: prometheus-push http://127.0.0.1:") == 2
    assert "ConnectionRefusedError" in told and "ssl:default" not in told  # the OS's words
    assert counters["yamlload.output_errors"] >= 4
    failed = counters["yamlload.output_errors"]
    assert f"warning: the live outputs failed {failed} times" in result.stderr


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("nope=x", "expected KIND=TARGET with KIND one of statsd, prometheus-push, jsonl"),
        ("statsd", "expected KIND=TARGET"),
        ("statsd=localhost", "'localhost' is not HOST:PORT"),
        ("statsd=127.0.0.1:70000", "the port must be from 1 to 65535"),
        ("prometheus-push=127.0.0.1:9091", "must start with http:// or https://"),
        ("prometheus-push=http://127.0.0.1:9,tag=code:x", "the tag 'code'"),
        ("prometheus-push=http://127.0.0.1:9,prefix=9x", "cannot start a Prometheus metric"),
        ("statsd=127.0.0.1:1,format=plain,tag=a:b", "format=plain sends no tags"),
        ("statsd=127.0.0.1:1,format=influx", "format= is for statsd: dogstatsd or plain"),
        ("jsonl=x.jsonl,format=plain", "format= is for statsd"),
        ("jsonl=", "needs a target"),
        ("jsonl={tmp}", "--out jsonl={tmp}: is a folder"),
        ("jsonl={tmp}/plan.yml", "it is the plan this run reads"),
        ("jsonl={tmp}/report.json", "it is also the -o output"),
        ("jsonl={tmp}/plan.yml/live.jsonl", "it is not a folder"),
    ],
)
def test_a_bad_out_is_exit_2_before_any_traffic(
    tmp_path: Path, fresh_server: ServerThread, spec: str, says: str
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    result, _ = run(tmp_path, plan, "--out", spec.format(tmp=tmp_path))
    assert result.exit_code == 2, result.output + result.stderr
    assert says.format(tmp=tmp_path) in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert fresh_server.hits() == {}


@pytest.mark.parametrize("split", [["--workers", "2"], ["--dask", "tcp://127.0.0.1:9"]])
def test_out_needs_one_process(tmp_path: Path, split: list[str]) -> None:
    plan = write_plan(tmp_path, "http://127.0.0.1:9")
    result, _ = run(tmp_path, plan, "--out", "jsonl=x.jsonl", *split)
    assert result.exit_code == 2
    assert "--out needs the run in one process" in result.stderr


# --------------------------------------------------------------------------- publish-metrics

PUBLISH = """  plugins:
    publish-metrics:
      - type: statsd
        host: 127.0.0.1
        port: "{{ port }}"
      - type: datadog
        apiKey: "{{ $env.DD_API_KEY }}"
        appKey: abc
        tags: ["team:sre", "component:payments"]
        event: {send: true}
        includeOnly: [http.requests]
      - type: prometheus
        pushgateway: http://127.0.0.1:9091
        prefix: artillery
        tags: ["testId:t1"]
        ca: ./ca.pem
      - type: cloudwatch
        region: eu-west-1
"""


def test_publish_metrics_maps_onto_the_outputs(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    text = PLAN.format(target="http://127.0.0.1:9", extra=PUBLISH)
    path.write_text(
        text.replace("{token: s3cr3t-token-value}", "{token: s3cr3t-token-value, port: 9125}"),
        encoding="utf-8",
    )
    plan = load_plan(str(path), PlanOptions())
    statsd, datadog, prometheus = plan.live_outputs
    assert (statsd.kind, statsd.target, statsd.prefix) == ("statsd", "127.0.0.1:9125", "artillery.")
    assert statsd.plain and not datadog.plain  # no tags: Artillery's plain lines
    assert (datadog.kind, datadog.target, datadog.prefix) == (
        "statsd",
        "127.0.0.1:8125",
        "artillery.",
    )
    assert datadog.tags == (("team", "sre"), ("component", "payments"))
    assert datadog.include == ("http.requests",)
    assert prometheus == LiveOutput(
        "prometheus-push",
        "http://127.0.0.1:9091",
        "artillery",
        (("testId", "t1"),),
        origin=prometheus.origin,
    )
    assert "publish-metrics[2]" in prometheus.origin
    warnings = [str(w) for w in plan.warnings]
    assert all("\n" not in w for w in warnings)
    assert len(warnings) == 4, warnings
    assert any(
        "publish-metrics[1].apiKey: ignored (as are appKey): yamlload sends to the Datadog "
        "agent's DogStatsD port at 127.0.0.1:8125" in w
        for w in warnings
    )
    assert any(
        "publish-metrics[1].event: ignored: Datadog events are not sent" in w for w in warnings
    )
    assert any("publish-metrics[2].ca: ignored" in w for w in warnings)
    assert any(
        "publish-metrics[3].type: reporter 'cloudwatch' is not supported by yamlload and is "
        "ignored (supported: statsd, datadog, prometheus)" in w
        for w in warnings
    )


@pytest.mark.parametrize(
    ("reporter", "says"),
    [
        ("{type: statsd, port: 0}", "must be a port from 1 to 65535"),
        ("{type: statsd, port: 65536}", "must be at most 65,535"),
        ("{type: statsd, prefix: 'a|b'}", "a StatsD name cannot hold"),
        ("{type: prometheus}", "needs pushgateway"),
        ("{type: prometheus, pushgateway: 'gw:9091'}", "is not an http:// or https:// URL"),
        (
            "{type: prometheus, pushgateway: 'http://gw', prefix: 'a-b'}",
            "cannot start a Prometheus",
        ),
        ("{host: x}", "type"),
    ],
)
def test_a_reporter_that_cannot_work_is_a_plan_error(
    tmp_path: Path, reporter: str, says: str
) -> None:
    extra = f"  plugins:\n    publish-metrics: [{reporter}]\n"
    path = write_plan(tmp_path, "http://127.0.0.1:9", extra)
    result = run_cli("validate", str(path))
    assert result.exit_code == 2
    assert "publish-metrics[0]" in result.stderr and says in result.stderr


def test_the_plans_reporters_and_out_both_send(tmp_path: Path, fresh_server: ServerThread) -> None:
    path = tmp_path / "live.jsonl"
    with udp_listener() as (port, lines):
        extra = (
            "  plugins:\n    publish-metrics:\n"
            f"      - {{type: datadog, apiKey: k3y-v4lue, port: {port}, tags: ['team:sre']}}\n"
        )
        plan = write_plan(tmp_path, fresh_server.url, extra)
        result, counters = run(tmp_path, plan, "--out", f"jsonl={path}")
    assert result.exit_code == 0, result.output + result.stderr
    assert "apiKey: ignored" in result.stderr
    parsed = statsd_lines(lines)
    sent = sum(v for name, v, _, _ in parsed if name == "artillery.http.requests")
    assert sent == counters["http.requests"] == REQUESTS
    assert all(tags.get("team") == "sre" for *_, tags in parsed)
    assert '"metric":"http.requests"' in path.read_text(encoding="utf-8")


def test_publish_metrics_with_workers_is_a_warning(tmp_path: Path) -> None:
    extra = "  plugins:\n    publish-metrics: [{type: statsd}]\n"
    plan = write_plan(tmp_path, "http://127.0.0.1:9", extra)
    plan.write_text(
        plan.read_text(encoding="utf-8").replace(
            "duration: 3, arrivalRate: 10", "duration: 1, arrivalRate: 1"
        ),
        encoding="utf-8",
    )
    result, _ = run(tmp_path, plan, "--workers", "2", "-q")
    assert "publish-metrics is not sent from a run split with --workers" in result.stderr


# --------------------------------------------------------------------------- cost


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("jsonl=a.jsonl,prefx=b", "unknown option 'prefx'; did you mean 'prefix'?"),
        ("statsd=127.0.0.1:8125,tga=a:b", "unknown option 'tga'; did you mean 'tag'?"),
        ("prometheus-push=http://127.0.0.1:99999", "prometheus-push"),
        ("statds=127.0.0.1:8125", "unknown kind 'statds'; did you mean 'statsd'?"),
        ("prometheus=http://127.0.0.1:9091", "did you mean 'prometheus-push'?"),
        ("json=live.jsonl", "did you mean 'jsonl'?"),
        ("nope=x", "expected KIND=TARGET with KIND one of statsd, prometheus-push, jsonl"),
    ],
)
def test_a_misspelled_kind_or_option_or_an_impossible_pushgateway_is_refused_before_traffic(
    tmp_path: Path, fresh_server: ServerThread, spec: str, said: str
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    result, _ = run(tmp_path, plan, "--out", spec, "-q")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert said in result.stderr
    assert "did you mean" in said or "did you mean" not in result.stderr
    assert fresh_server.hits() == {}
    assert not (tmp_path / "a.jsonl,prefx=b").exists()
