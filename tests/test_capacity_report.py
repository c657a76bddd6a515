"""What `yamlload capacity` says (issue 22's review): the rate's unit (users/s offered,
req/s answered), an answer that is only a lower bound said so, a rule that broke a
step kept apart from the SLOs, and the HTML report's header and tooltips. Pure: the
answer is built from a Capacity, no traffic."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

from tests.helpers import REPO
from yamlload.checks.capacity import Done, SearchSettings
from yamlload.checks.evaluate import evaluate
from yamlload.checks.outcome import describe_outcome
from yamlload.checks.parse import parse_ensure
from yamlload.cli import capacity_steps
from yamlload.cli.capacity import Search
from yamlload.metrics.periods import Period
from yamlload.report.capacity import (
    CURVE_HEADERS,
    WHOLE_SEARCH,
    answer_lines,
    capacity_markdown,
    curve_rows,
    format_capacity,
    step_line,
)
from yamlload.report.capacity_chart import capacity_section
from yamlload.report.html import render_html
from yamlload.report.markdown import markdown_summary
from yamlload.results.capacity import Capacity, CapacityStep, SloResult, StepVerdict
from yamlload.results.summary import Summary

RULE = "the target failed half its requests or more: 60.00% errors"
REQUESTS_PER_USER = 50


def step(rate: float, verdict: StepVerdict, reason: str | None = None) -> CapacityStep:
    """A step of a scenario making REQUESTS_PER_USER requests a user."""
    slo = SloResult("p95<500", 100.0 if verdict == "good" else 900.0, verdict == "good", "x ms")
    return CapacityStep(
        rate, verdict, 8.0, 80, rate * REQUESTS_PER_USER, 1.0, 2.0, 3.0, 0.0, 1.0, (slo,), reason
    )


def converged() -> Capacity:
    found = Capacity(("p95<500",), [step(4, "good"), step(8, "bad"), step(7.23, "good")])
    found.max_rate, found.broke_at = 7.23, 8
    found.broke_by = found.steps[1].first_broken()
    return found


def never_broke() -> Capacity:
    found = Capacity(("p95<500",), [step(10, "good"), step(20, "good"), step(40, "good")])
    found.max_rate = 40
    found.ended = "never broke: every step met every SLO up to --to 40 users/s"
    return found


def stopped_by_the_generator() -> Capacity:
    reason = f"{capacity_steps.GENERATOR_LIMIT}; use --workers (arrival lag p99 = 250 ms)"
    found = Capacity(("p95<500",), [step(10, "good"), step(20, "invalid", reason)])
    found.max_rate = 10
    return found


def report_schema() -> dict[str, Any]:
    schema = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    capacity: dict[str, Any] = schema["properties"]["capacity"]
    return capacity


def test_the_offered_rate_is_users_a_second_and_the_achieved_requests_a_second() -> None:
    """50 requests a user: 7.23 users/s is 361.5 req/s; nothing reads as one unit."""
    found = converged()
    lines = answer_lines(found)
    assert lines[0] == "Maximum sustainable rate: 7.23 users/s (361.5 req/s)"
    assert lines[1] == "Broke at: 8 users/s, first by p95<500 (x ms)"
    assert CURVE_HEADERS[0] == "offered users/s" and CURVE_HEADERS[2] == "answered req/s"
    assert step_line(1, found.steps[0]).startswith("step 1: 4 users/s  p95 2.0 ms")
    assert "200.0 req/s answered  good" in step_line(1, found.steps[0])
    assert "| offered users/s |" in "\n".join(capacity_markdown(found))
    data = found.to_json()
    assert data["max_request_rate"] == 361.5 and data["max_rate"] == 7.23
    assert data["max_rate_is_lower_bound"] is False
    jsonschema.validate(data, report_schema())


def test_the_schema_and_the_docs_name_the_units() -> None:
    properties = report_schema()["properties"]
    assert "users/s" in properties["max_rate"]["description"]
    assert "req/s" in properties["max_request_rate"]["description"]
    step_properties = properties["steps"]["items"]["properties"]
    assert "users/s" in step_properties["rate"]["description"]
    assert "req/s" in step_properties["throughput"]["description"]
    docs = (REPO / "docs" / "report-format.md").read_text(encoding="utf-8")
    for key in ("max_request_rate", "max_rate_is_lower_bound", "broke_by_rule", "users/s"):
        assert key in docs


@pytest.mark.parametrize(
    ("found", "best"),
    [
        (never_broke(), "at least 40 users/s (2,000.0 req/s)"),
        (stopped_by_the_generator(), "at least 10 users/s (500.0 req/s)"),
    ],
)
def test_a_search_that_did_not_break_gives_a_lower_bound(found: Capacity, best: str) -> None:
    assert answer_lines(found)[0] == f"Maximum sustainable rate: {best}"
    assert f"- Maximum sustainable rate: {best}" in capacity_markdown(found)
    assert f"<li>Maximum sustainable rate: {best}</li>" in capacity_section(found)
    data = found.to_json()
    assert data["max_rate_is_lower_bound"] is True
    jsonschema.validate(data, report_schema())
    assert Capacity.from_json(data).to_json() == data


def test_a_converged_search_is_not_a_lower_bound() -> None:
    assert "at least" not in format_capacity(converged())


@pytest.mark.parametrize(("workers", "cores", "advice"), [(1, 2, "--workers"), (2, 2, "machines")])
def test_the_generator_limit_advises_more_machines_once_every_core_is_used(
    monkeypatch: pytest.MonkeyPatch, workers: int, cores: int, advice: str
) -> None:
    monkeypatch.setattr(capacity_steps.os, "cpu_count", lambda: cores)
    words = capacity_steps.generator_limit(workers)
    assert words.startswith(capacity_steps.GENERATOR_LIMIT)
    assert advice in words
    if advice == "machines":
        assert "--workers" not in words and "docs/scaling.md" in words


def test_a_rule_that_broke_a_step_is_not_an_slo() -> None:
    """Most requests failed, every SLO held: broke_by is null, broke_by_rule says why,
    and the console says it as it did."""
    breaking = step(12, "bad", RULE)
    breaking = CapacityStep(**{**breaking.__dict__, "slos": ()})
    found = Capacity(("p95<500",), [step(6, "good"), breaking, step(9, "good")])
    settings = SearchSettings(6, 100, 0.5)
    search = SimpleNamespace(found=found, args=SimpleNamespace(search=settings))
    Search._conclude(search, Done(9, 12, "converged"))  # type: ignore[arg-type]
    data = found.to_json()
    assert data["broke_by"] is None and data["broke_by_rule"] == RULE
    assert f"Broke at: 12 users/s ({RULE})" in answer_lines(found)
    jsonschema.validate(data, report_schema())
    assert Capacity.from_json(data).to_json() == data


def test_an_old_report_with_a_rule_in_broke_by_reads_as_a_rule() -> None:
    old = converged().to_json()
    old["broke_by"] = {"slo": RULE, "value": None, "ok": False, "measured": ""}
    del old["broke_by_rule"]
    found = Capacity.from_json(old)
    assert found.broke_by is None and found.broke_by_rule == RULE
    kept = Capacity.from_json(converged().to_json())
    assert kept.broke_by is not None and kept.broke_by.slo == "p95<500"


def capacity_summary(found: Capacity) -> Summary:
    summary = Summary(
        "plans/capacity.yml", "http://t", "2026-12-03T17:00:00+00:00", 174.0, [Period(0)], []
    )
    summary.capacity = found
    return summary


def test_the_html_header_says_how_long_the_search_took() -> None:
    found = converged()
    found.elapsed_seconds = 200.0
    page = render_html(capacity_summary(found))
    assert "ran 3m 20s" in page and "2m 54s" not in page
    found.elapsed_seconds = None  # an older report: what the steps measured, said so
    page = render_html(capacity_summary(found))
    assert "steps measured for 24s" in page and "2m 54s" not in page
    assert found.to_json()["elapsed_seconds"] is None


def test_the_capacity_charts_tooltips_show_rates_not_times() -> None:
    section = capacity_section(converged())
    tooltips = re.findall(r"<circle[^>]*><title>([^<]*)</title>", section)
    assert "p95 (ms) at 7.23 users/s: 2.0" in tooltips
    assert tooltips and all("users/s" in t for t in tooltips)
    assert not any(re.search(r"\d+(m|s)\b", t.split(":")[0]) for t in tooltips)


def test_the_docs_worked_example_agrees_with_itself_and_the_tool() -> None:
    """limits.md's worked example and report-format.md's JSON are one search: the answer
    the tool makes of the JSON's numbers is the one limits.md's console printed, and
    every curve in limits.md has the tool's headers."""
    limits = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")
    formats = (REPO / "docs" / "report-format.md").read_text(encoding="utf-8")
    section = formats[formats.index("## capacity") :]

    def number(key: str) -> float:
        found = re.search(rf'"{key}": ([0-9.]+)', section)
        assert found is not None, key
        return float(found.group(1))

    max_rate, served = number("max_rate"), number("max_request_rate")
    sustained = CapacityStep(max_rate, "good", 8.0, 1559, served, 1.0, 2.0, 3.0, 0.0, 1.0)
    found = Capacity(("p95<100",), [sustained], max_rate=max_rate, broke_at=number("broke_at"))
    answer = answer_lines(found)[0]
    assert answer == "Maximum sustainable rate: 193.8 users/s (193.8 req/s)"
    assert f"\n{answer}\n" in limits  # the worked example's console printed it
    assert f"`{answer}`" in section
    curve_headers = [line for line in limits.splitlines() if line.startswith("offered ")]
    assert len(curve_headers) == 2
    for line in curve_headers:
        assert re.split(r"\s{2,}", line.strip()) == list(CURVE_HEADERS)


def test_a_lagging_step_over_every_core_advises_more_machines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reason a step records: --workers while a core is idle, machines after."""
    from tests.test_capacity_steps import a_plan, second, window_of
    from yamlload.checks.parse import parse_ensure
    from yamlload.checks.validity import LAG_REASON
    from yamlload.cli.capacity_steps import judged_step

    monkeypatch.setattr(capacity_steps.os, "cpu_count", lambda: 2)
    lagging = [f"{LAG_REASON} its schedule: arrival lag p99 = 250 ms"]
    monkeypatch.setattr(capacity_steps, "lag_reasons", lambda *_: lagging)
    reasons = {}
    for workers in (1, 2):
        window = window_of(second(1.0, 20), second(2.0, 20))
        step_ = judged_step(
            10.0, window, a_plan(), [parse_ensure("p95<500")], 100.0, workers=workers
        )
        assert step_.verdict == "invalid"
        reasons[workers] = step_.reason or ""
    assert "use --workers" in reasons[1] and "machines" not in reasons[1]
    assert "use more machines" in reasons[2] and "--workers" not in reasons[2]


def test_the_curve_says_why_a_rule_made_a_step_bad() -> None:
    """No SLO broke, a rule did: the curve's last column says the rule, not "—"."""
    ruled = CapacityStep(**{**step(12, "bad", RULE).__dict__, "slos": ()})
    found = Capacity(("p95<500",), [step(6, "good"), ruled, step(8, "bad")])
    assert CURVE_HEADERS[-1] == "why bad"
    rows = {row[0]: row[-1] for row in curve_rows(found)}
    assert rows["12"] == RULE
    assert rows["8"] == "p95<500 (x ms)" and rows["6"] == "—"
    assert f"| {RULE} |" in "\n".join(capacity_markdown(found))
    assert f"<td>{RULE}</td>" in capacity_section(found)
    assert RULE in format_capacity(found)


def test_the_whole_search_numbers_say_they_are_the_whole_search() -> None:
    """The tiles and the time axis cover every step, broken ones included, each on a new
    10-second period: a capacity report says so; a run's report does not."""
    page = render_html(capacity_summary(converged()))
    assert "<h2>The whole search</h2>" in page
    assert WHOLE_SEARCH in page
    assert page.index("Maximum sustainable rate") < page.index(WHOLE_SEARCH)
    assert page.index(WHOLE_SEARCH) < page.index('aria-label="key numbers"')
    plain = capacity_summary(converged())
    plain.capacity = None
    assert "whole search" not in render_html(plain)
    text = markdown_summary(capacity_summary(converged()), [], [])
    assert "### The whole search" in text and WHOLE_SEARCH in text
    assert text.index("### Capacity") < text.index("### The whole search")
    assert text.index("### The whole search") < text.index("| requests | rps |")
    assert "whole search" not in markdown_summary(plain, [], [])


def test_a_capacity_check_on_a_lower_bound_says_at_least() -> None:
    summary = capacity_summary(stopped_by_the_generator())
    (outcome,) = evaluate([parse_ensure("capacity>=20")], summary)
    assert describe_outcome(outcome) == "at least 10 users/s" and not outcome.ok
    summary = capacity_summary(converged())
    (outcome,) = evaluate([parse_ensure("capacity>=7")], summary)
    assert describe_outcome(outcome) == "7.23 users/s" and outcome.ok


def test_the_capacity_tooltips_show_a_decimal_as_the_table_does() -> None:
    found = converged()
    found.steps[2] = CapacityStep(
        **{**found.steps[2].__dict__, "p95": 102.7, "error_rate": 0.01234}
    )
    tooltips = re.findall(r"<circle[^>]*><title>([^<]*)</title>", capacity_section(found))
    assert "p95 (ms) at 7.23 users/s: 102.7" in tooltips
    assert "error rate (%) at 7.23 users/s: 1.23" in tooltips
    assert "102.7" in [row[4] for row in curve_rows(found)]
