"""Secrets never leave through a push output, wherever the plan puts them (a tag, a tag's
key, a scenario name, a phase name, a url), and what becomes one after masking is sent
as one: a Pushgateway refuses a whole push with a series twice in it."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.servers import ServerThread
from tests.test_exposition import parse
from tests.test_live_outputs import (
    Pushgateway,
    quick_periods,
    run,
    statsd_lines,
    udp_listener,
)

__all__ = ["quick_periods"]  # a fixture, used by name

# An environment variable's value: secret wherever the plan reads it through $env.
ENV_SECRET = "env-s3cr3t-value-77"
OTHER_SECRET = "0th3r-s3cr3t-value"
# The env secret in a tag, a tag's key, the scenario's and the phase's names, and two
# endpoints whose urls hold different secrets, so that both mask to `GET /seen/***`.
PLAN = """config:
  target: {target}
  phases: [{{duration: 3, arrivalRate: 5, name: "phase {secret}"}}]
  variables: {{token: s3cr3t-token-value, other: {other}}}
  secrets: [token, other]
  plugins:
    publish-metrics:
      - type: statsd
        port: {plugin_port}
        tags: ["plan:{{{{ $env.YL_LIVE_SECRET }}}}"]
      - type: prometheus
        pushgateway: {gateway}
        tags: ["plan:{{{{ $env.YL_LIVE_SECRET }}}}"]
scenarios:
  - name: "scenario {secret}"
    flow:
      - get: {{url: "/ok", headers: {{x-key: "{{{{ $env.YL_LIVE_SECRET }}}}"}}}}
      - get: {{url: /seen/s3cr3t-token-value}}
      - get: {{url: /seen/{other}}}
"""
REQUESTS = 45


def test_no_secret_leaves_through_a_tag_a_scenario_a_phase_or_an_endpoint(
    tmp_path: Path,
    fresh_server: ServerThread,
    quick_periods: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YL_LIVE_SECRET", ENV_SECRET)
    jsonl = tmp_path / "live.jsonl"
    with (
        Pushgateway() as gateway,
        udp_listener() as (plugin_port, from_plan),
        udp_listener() as (port, tagged),
        udp_listener() as (plain_port, plain),
    ):
        plan = tmp_path / "plan.yml"
        plan.write_text(
            PLAN.format(
                target=fresh_server.url,
                secret=ENV_SECRET,
                other=OTHER_SECRET,
                plugin_port=plugin_port,
                gateway=gateway.url,
            ),
            encoding="utf-8",
        )
        tags = f"tag=env:{ENV_SECRET},tag={ENV_SECRET}:x"
        result, counters = run(
            tmp_path,
            plan,
            *("--out", f"statsd=127.0.0.1:{port},{tags}"),
            *("--out", f"statsd=127.0.0.1:{plain_port},format=plain,prefix=p{ENV_SECRET}."),
            *("--out", f"jsonl={jsonl},{tags}"),
            *("--out", f"prometheus-push={gateway.url},{tags}"),
        )
    assert result.exit_code == 0, result.output + result.stderr
    assert counters["http.requests"] == REQUESTS
    sent = {
        "statsd from the plan": "\n".join(from_plan),
        "statsd": "\n".join(tagged),
        "plain statsd": "\n".join(plain),
        "jsonl": jsonl.read_text(encoding="utf-8"),
        "pushgateway bodies": "\n".join(text for *_, text in gateway.pushes),
        "pushgateway groups": "\n".join(decoded(path) for _, path, _, _ in gateway.pushes),
    }
    for where, text in sent.items():
        assert text, f"nothing came to the {where}"
        for secret in (ENV_SECRET, OTHER_SECRET, "s3cr3t-token-value"):
            assert secret not in text, (where, secret)
    # What was masked was sent, as ***: the scenario's count, the tags, the endpoints.
    assert "vusers.created_by_name.scenario ***" in sent["jsonl"]
    assert "#env:***" in sent["statsd"] and "plan:***" in sent["statsd from the plan"]
    assert "/env@base64/" in sent["pushgateway groups"]


def decoded(path: str) -> str:
    """A Pushgateway group's path with each `name@base64/value` pair decoded."""
    parts = path.split("/")
    out = []
    for index, part in enumerate(parts):
        if index and parts[index - 1].endswith("@base64"):
            part = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
        out.append(part)
    return "/".join(out)


def test_endpoints_that_mask_alike_are_one_series(
    tmp_path: Path,
    fresh_server: ServerThread,
    quick_periods: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`GET /seen/<token>` and `GET /seen/<other>` are both `GET /seen/***` once
    masked: one series in each push, one point per second (counts summed, histograms
    merged), so that the Pushgateway takes the push and the numbers still add up."""
    monkeypatch.setenv("YL_LIVE_SECRET", ENV_SECRET)
    jsonl = tmp_path / "live.jsonl"
    with Pushgateway() as gateway, udp_listener() as (port, lines):
        plan = tmp_path / "plan.yml"
        plan.write_text(
            PLAN.format(
                target=fresh_server.url,
                secret="s",
                other=OTHER_SECRET,
                plugin_port=port,
                gateway=gateway.url,
            ),
            encoding="utf-8",
        )
        result, counters = run(tmp_path, plan, "--out", f"jsonl={jsonl}")
    assert result.exit_code == 0, result.output + result.stderr
    assert gateway.pushes
    for *_, text in gateway.pushes:
        _, samples = parse(text)
        series = Counter((name, tuple(sorted(labels.items()))) for name, labels, _ in samples)
        assert [s for s, n in series.items() if n > 1] == []
    _, samples = parse(gateway.pushes[-1][3])
    seen = [
        (labels, value)
        for name, labels, value in samples
        if name == "yamlload_http_requests_total" and labels["endpoint"] == "GET /seen/***"
    ]
    assert [value for _, value in seen] == [30]
    count = [
        value
        for name, labels, value in samples
        if name == "yamlload_http_response_time_seconds_count"
        and labels.get("endpoint") == "GET /seen/***"
    ]
    assert count == [30]
    # JSON lines: one point per metric and tag set in each second.
    points = [
        json.loads(line)
        for line in jsonl.read_text(encoding="utf-8").splitlines()
        if '"type":"Point"' in line
    ]
    keys = Counter(
        (p["data"]["time"], p["metric"], tuple(sorted(p["data"]["tags"].items()))) for p in points
    )
    assert [k for k, n in keys.items() if n > 1] == []
    requests = [p for p in points if p["metric"] == "http.requests"]
    assert sum(p["data"]["value"] for p in requests) == counters["http.requests"] == REQUESTS
    # StatsD: the per-endpoint gauges of one second are one line per endpoint too.
    parsed = statsd_lines(lines)
    assert sum(v for n, v, _, _ in parsed if n == "artillery.http.requests") == REQUESTS
