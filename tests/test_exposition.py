"""The Prometheus text exposition (live/exposition.py) of a real run: well formed, and
its numbers are the report's."""

from __future__ import annotations

import math
import re
from pathlib import Path

from tests.servers import ServerThread
from tests.test_watchers import Recording
from yamlload import PlanOptions, load_plan
from yamlload.live.exposition import BUCKETS, Snapshot, exposition
from yamlload.results.summary import summarize
from yamlload.runtime.engine import RunOptions, run_plan

PLAN = """config:
  target: {target}
  phases: [{{duration: 2, arrivalRate: 10}}]
  http: {{timeout: 2}}
scenarios:
  - flow:
      - get: {{url: /ok}}
      - get: {{url: "/seen/{{{{ $randomNumber(1, 9) }}}}", name: "seen one"}}
      - post: {{url: /missing}}
      - get: {{url: /sleep/5}}
"""
SAMPLE = re.compile(r"^([a-z_]+)(\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    types: dict[str, str] = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            found = SAMPLE.match(line)
            assert found, line
            labels = dict(LABEL.findall(found.group(3) or ""))
            samples.append((found.group(1), labels, float(found.group(4))))
    return types, samples


def test_the_exposition_of_a_run_matches_its_report(
    tmp_path: Path, fresh_server: ServerThread
) -> None:
    path = tmp_path / "plan.yml"
    path.write_text(PLAN.format(target=fresh_server.url), encoding="utf-8")
    plan = load_plan(str(path), PlanOptions())
    watcher = Recording()
    summary = summarize(plan, run_plan(plan, RunOptions(seed=3, watchers=(watcher,))), "t")
    assert watcher.live is not None
    methods = {r.label: r.method for r in plan.requests()}
    text = exposition(
        Snapshot(watcher.live.total, 0, 2.0, methods, [("p95<1000", True), ("x", None)])
    )
    types, samples = parse(text)
    for name, _, _ in samples:  # every sample belongs to a declared family
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, name
    counters = summary.to_json()["aggregate"]["counters"]

    requests = [(labels, v) for n, labels, v in samples if n == "yamlload_http_requests_total"]
    assert sum(v for _, v in requests) == counters["http.requests"] == 80
    by = {(lab["endpoint"], lab["method"], lab["code"]): v for lab, v in requests}
    assert by["GET /ok", "GET", "200"] == 20
    assert by["seen one", "GET", "200"] == 20
    assert by["POST /missing", "POST", "404"] == 20
    assert dict((n, v) for n, lab, v in samples if n == "yamlload_http_requests_failed_total") == {
        "yamlload_http_requests_failed_total": counters["http.requests_failed"]
    }
    assert ("yamlload_vusers_created_total", {}, 20.0) in samples
    assert ("yamlload_check_ok", {"check": "p95<1000"}, 1.0) in samples
    assert not any(lab.get("check") == "x" for _, lab, _ in samples)

    buckets = [
        (lab["le"], v)
        for n, lab, v in samples
        if n == "yamlload_http_response_time_seconds_bucket" and "endpoint" not in lab
    ]
    assert [le for le, _ in buckets] == [repr(b) for b in BUCKETS] + ["+Inf"]
    values = [v for _, v in buckets]
    assert values == sorted(values) and values[-1] == 80
    slow = dict(
        (lab["le"], v)
        for n, lab, v in samples
        if n == "yamlload_http_response_time_seconds_bucket"
        and lab.get("endpoint") == "GET /sleep/5"
    )
    assert slow["0.005"] == 0 and slow["+Inf"] == 20  # each sleeps 5 ms: none is under
    count = dict((n, v) for n, lab, v in samples if not lab)
    assert count["yamlload_http_response_time_seconds_count"] == 80
    mean_s = summary.to_json()["aggregate"]["summaries"]["http.response_time"]["mean"] / 1000
    assert math.isclose(count["yamlload_http_response_time_seconds_sum"] / 80, mean_s, rel_tol=1e-3)


def test_label_values_are_escaped_and_masked() -> None:
    from yamlload.metrics.histogram import Metrics

    total = Metrics(
        counters={
            'plugins.metrics-by-endpoint.GET /a?key=s3cret"x\\.codes.200': 2,
            "http.requests": 2,
        }
    )
    text = exposition(Snapshot(total, 1, 1.0, {}, mask=lambda s: s.replace("s3cret", "***")))
    assert 'endpoint="GET /a?key=***\\"x\\\\"' in text
    assert "s3cret" not in text


def test_series_that_mask_alike_are_merged_and_a_check_given_twice_is_one() -> None:
    """Prometheus refuses a whole scrape with a series twice: two urls that differ only
    in a secret are one endpoint once masked, and `--ensure X --ensure X` one check."""
    from yamlload.metrics.histogram import Histogram, Metrics
    from yamlload.metrics.names import ENDPOINT_LATENCY, endpoint_key

    total = Metrics()
    for label, millis in (("GET /a?key=s3cret", 3.0), ("GET /a?key=hunter2", 40.0)):
        total.counters[endpoint_key(label, "codes.200")] = 2
        total.histograms[ENDPOINT_LATENCY + label] = hist = Histogram()
        hist.record(millis)
    methods = {"GET /a?key=s3cret": "GET", "GET /a?key=hunter2": "GET"}

    def mask(text: str) -> str:
        return text.replace("s3cret", "***").replace("hunter2", "***")

    checks = [("p95<500", True), ("p95<500", True), ("x s3cret", False), ("x hunter2", False)]
    _, samples = parse(exposition(Snapshot(total, 0, 1.0, methods, checks, mask=mask)))
    keys = [(name, tuple(sorted(labels.items()))) for name, labels, _ in samples]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    by = {(name, labels.get("endpoint"), labels.get("le")): v for name, labels, v in samples}
    assert by["yamlload_http_requests_total", "GET /a?key=***", None] == 4
    assert by["yamlload_http_response_time_seconds_count", "GET /a?key=***", None] == 2
    assert by["yamlload_http_response_time_seconds_bucket", "GET /a?key=***", "0.005"] == 1
    assert by["yamlload_http_response_time_seconds_bucket", "GET /a?key=***", "0.05"] == 2
    checks_seen = [labels["check"] for name, labels, _ in samples if name == "yamlload_check_ok"]
    assert checks_seen == ["p95<500", "x ***"]
