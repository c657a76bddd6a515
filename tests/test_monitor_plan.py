"""config.monitor in a plan (issue 17): the schema, the IR, and `validate` pointing at
the character of a selector that is wrong, every mistake at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import run_cli
from yamlload.errors import PlanError
from yamlload.plan.compile import load_plan
from yamlload.plan.layering import PlanOptions
from yamlload.plan.secrets import Redactor

HEAD = """\
config:
  target: http://127.0.0.1:9
  phases: [{duration: 1, arrivalRate: 1}]
  monitor:
"""
TAIL = """\
scenarios:
  - flow: [{get: {url: /}}]
"""


def plan_text(monitor: str) -> str:
    return HEAD + monitor + TAIL


def test_sources_compile_into_the_plan(write_plan: Any) -> None:
    path = write_plan(
        plan_text(
            """\
    - name: api
      prometheus: http://127.0.0.1:9100/metrics
      interval: 2s
      timeout: 1.5
      metrics:
        cpu_percent: rate(process_cpu_seconds_total) * 100
        memory_mb: process_resident_memory_bytes / 1e6
    - name: db
      pid: 4242
    - name: web-1
      process: nginx
"""
        )
    )
    plan = load_plan(str(path))
    api, db, web = plan.monitor
    assert (api.name, api.kind, api.url, api.interval, api.timeout) == (
        "api",
        "prometheus",
        "http://127.0.0.1:9100/metrics",
        2.0,
        1.5,
    )
    assert [name for name, _ in api.metrics] == ["cpu_percent", "memory_mb"]
    assert api.metrics[0][1].uses_rate
    assert api.series == ("monitor.api.cpu_percent", "monitor.api.memory_mb")
    assert (db.kind, db.pid, db.interval) == ("pid", 4242, 5.0)
    assert db.metric_names == ("cpu_percent", "rss_mb", "fds", "threads", "connections")
    assert (web.kind, web.process) == ("process", "nginx")


def test_a_plan_without_monitor_has_none(write_plan: Any) -> None:
    path = write_plan(HEAD.replace("  monitor:\n", "") + TAIL)
    assert load_plan(str(path)).monitor == ()


def test_validate_points_at_each_wrong_selector_character_all_at_once(write_plan: Any) -> None:
    path = write_plan(
        plan_text(
            """\
    - name: api
      prometheus: http://127.0.0.1:9100/metrics
      metrics:
        cpu: rat(process_cpu_seconds_total)
        mem: "process_resident_memory_bytes{job=~}"
        ok: up
"""
        )
    )
    result = run_cli("validate", str(path))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if "monitor" in line]
    # line 8 is `        cpu: rat(...)`: the selector starts at column 14, `rat` is unknown
    assert any(
        line.startswith(f"{path}:8:14: config.monitor[0].metrics.cpu: ") for line in lines
    ), lines
    assert any("rat" in line for line in lines), lines
    # line 9 is `        mem: "process...{job=~}"`: the text starts after the quote at
    # column 14, and the error is at the `}` (column 36 of the text)
    text = "process_resident_memory_bytes{job=~}"
    column = 15 + text.index("}")
    assert any(
        line.startswith(f"{path}:9:{column}: config.monitor[0].metrics.mem: ") for line in lines
    ), lines


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("- name: api\n      metrics: {x: up}\n", "prometheus"),
        ("- name: api\n      pid: 1\n      process: x\n", "only one"),
        ("- name: api\n      prometheus: http://127.0.0.1:1/m\n", "metrics"),
        ("- name: api\n      pid: 1\n      metrics: {x: up}\n", "metrics"),
        ("- name: a b\n      pid: 1\n", "name"),
        ("- name: api\n      pid: 1\n      interval: 0.5s\n", "at least 1"),
        ("- name: api\n      prometheus: ftp://127.0.0.1/m\n      metrics: {x: up}\n", "http"),
        ("- name: api\n      pid: 1\n    - name: api\n      pid: 2\n", "twice"),
        ("- name: api\n      pid: -3\n", "pid"),
    ],
)
def test_mistakes_in_a_source_are_positioned(write_plan: Any, source: str, says: str) -> None:
    path = write_plan(plan_text("    " + source))
    with pytest.raises(PlanError) as caught:
        load_plan(str(path))
    text = str(caught.value)
    assert "config.monitor[" in text, text
    assert says in text, text


def test_an_env_password_in_the_url_is_masked(write_plan: Any) -> None:
    path = write_plan(
        plan_text(
            """\
    - name: api
      prometheus: "http://scraper:{{ $env.SCRAPE_PASSWORD }}@127.0.0.1:9100/metrics"
      metrics: {up: up}
"""
        )
    )
    options = PlanOptions(env=(("SCRAPE_PASSWORD", "hunter2-secret"),))
    plan = load_plan(str(path), options)
    (api,) = plan.monitor
    assert api.url == "http://scraper:hunter2-secret@127.0.0.1:9100/metrics"
    redactor = Redactor.for_plan(plan)
    assert "hunter2-secret" not in redactor.text(f"scraping {api.url} failed")


def test_a_literal_password_in_the_url_is_a_secret_too(write_plan: Any) -> None:
    path = write_plan(
        plan_text(
            """\
    - name: api
      prometheus: http://scraper:literal-pass@127.0.0.1:9100/metrics
      metrics: {up: up}
"""
        )
    )
    plan = load_plan(str(path))
    assert "literal-pass" not in Redactor.for_plan(plan).text("the value was literal-pass")


def test_validate_lists_the_sources_with_the_password_masked(write_plan: Any) -> None:
    path = write_plan(
        plan_text(
            """\
    - name: api
      prometheus: http://scraper:pass-word-1@127.0.0.1:9100/metrics
      metrics: {up: up, memory_mb: process_resident_memory_bytes / 1e6}
    - name: db
      pid: 4242
      interval: 10s
"""
        )
    )
    result = run_cli("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "monitor    2 sources" in result.output
    assert (
        "api  http://scraper:***@127.0.0.1:9100/metrics, every 5s: up, memory_mb" in result.output
    )
    assert "db  process 4242, every 10s: cpu_percent, rss_mb" in result.output
    assert "pass-word-1" not in result.output


def test_a_path_is_on_the_targets_host(write_plan: Any) -> None:
    path = write_plan(
        plan_text("    - name: api\n      prometheus: /metrics\n      metrics: {up: up}\n")
    )
    (api,) = load_plan(str(path)).monitor
    assert api.url == "http://127.0.0.1:9/metrics"


def test_a_bad_missing_or_repeated_name_hides_none_of_the_sources_other_mistakes(
    write_plan: Any,
) -> None:
    path = write_plan(
        plan_text(
            """\
    - name: "bad name"
      prometheus: http://127.0.0.1:9100/metrics
      metrics: {cpu: "rat(x)"}
    - name: api
      pid: 1
    - name: api
      pid: -3
    - prometheus: http://127.0.0.1:9100/metrics
      metrics: {mem: "max("}
"""
        )
    )
    result = run_cli("validate", str(path))
    assert result.exit_code == 2, result.output
    said = result.output
    assert "config.monitor[0].name" in said, said
    assert "config.monitor[0].metrics.cpu" in said and "rat" in said, said
    assert "names a source twice" in said, said
    assert "config.monitor[2].pid" in said, said
    assert "config.monitor[3]" in said and "name" in said, said
    assert "config.monitor[3].metrics.mem" in said, said


@pytest.mark.parametrize("key", ["token", "access_token", "api_key", "apiKey", "auth", "sig"])
def test_a_token_in_the_urls_query_is_a_secret(write_plan: Any, key: str) -> None:
    """A scrape URL may carry its credential in the query (?token=...): never echoed in
    the plan document of a report, nor in a line of the console."""
    path = write_plan(
        plan_text(
            f"""\
    - name: api
      prometheus: http://127.0.0.1:9100/metrics?format=text&{key}=q-secret-77
      metrics: {{up: up}}
"""
        )
    )
    plan = load_plan(str(path))
    redactor = Redactor.for_plan(plan)
    echoed = str(redactor.document(plan.raw))
    assert "q-secret-77" not in echoed and "format=text" in echoed, echoed
    assert "q-secret-77" not in redactor.text(f"scraping {plan.monitor[0].url} failed")
    result = run_cli("validate", str(path))
    assert "q-secret-77" not in result.output


@pytest.mark.parametrize(
    "query",
    [
        "token=abc",
        "private_token=p4",
        "X-Amz-Signature=f00",
        "X-Goog-Signature=gs",
        "access-token=t",
        "jwt=e.y.z",
    ],
)
def test_a_short_or_unusual_query_credential_is_masked_in_every_output(
    write_plan: Any, query: str
) -> None:
    path = write_plan(
        plan_text(
            f"""\
    - name: api
      prometheus: http://127.0.0.1:9100/metrics?format=text&{query}
      metrics: {{up: up}}
"""
        )
    )
    plan = load_plan(str(path))
    redactor = Redactor.for_plan(plan)
    name, _, value = query.partition("=")
    echoed = str(redactor.document(plan.raw))
    assert f"{name}=***" in echoed and f"{name}={value}" not in echoed, echoed
    assert f"{name}={value}" not in run_cli("validate", str(path)).output
