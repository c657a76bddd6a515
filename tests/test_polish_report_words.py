"""Every output says the same things the same way: an endpoint with no responses has
no latency ('—' in the console and Markdown, an empty CSV cell, never 0.0); counts are
grouped (1,000,000, never 1e+06 or 1000000); the Markdown summary has the Thresholds
and Expect results headings the console and HTML have; a plan with only `expect`
speaks of expectations, not of "1 threshold".

The runs load a server this test starts on 127.0.0.1 (two arrivals over a second); the
second endpoint is 127.0.0.1's discard port, where nothing listens."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread
from yamlload.plan.ir import Phase
from yamlload.report.console import format_deltas, format_summary
from yamlload.report.describe import phase_load
from yamlload.report.markdown import markdown_summary
from yamlload.results.summary import Summary
from yamlload.units import format_count

PLAN = """\
config:
  target: {url}
  phases: [{{duration: 1, arrivalCount: 2}}]
scenarios:
  - flow:
      - get:
          url: /ok
          expect: [{{statusCode: {code}}}]
      - get:
          url: http://127.0.0.1:9/nothing
"""
NO_RESPONSE_ENDPOINT = "GET http://127.0.0.1:9/nothing"


@pytest.fixture(scope="module")
def outputs(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the plan whose expect holds, its every output read back."""
    folder = tmp_path_factory.mktemp("words")
    plan = folder / "plan.yml"
    plan.write_text(PLAN.format(url=server.url, code=200), encoding="utf-8")
    result = run_cli(
        "run",
        "-q",
        str(plan),
        "-o",
        str(folder / "r.json"),
        "--summary-md",
        str(folder / "s.md"),
        "--html",
        str(folder / "r.html"),
        "--csv",
        str(folder / "r"),
        "--junit",
        str(folder / "j.xml"),
    )
    return {
        "result": result,
        "folder": folder,
        "console": result.stdout,
        "markdown": (folder / "s.md").read_text(encoding="utf-8"),
        "html": (folder / "r.html").read_text(encoding="utf-8"),
        "report": json.loads((folder / "r.json").read_text(encoding="utf-8")),
        "endpoints_csv": list(csv.DictReader((folder / "r-endpoints.csv").open(encoding="utf-8"))),
    }


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.lstrip("| ").startswith(start))


def test_an_endpoint_with_no_responses_shows_no_latency_in_the_console(
    outputs: dict[str, Any],
) -> None:
    row = _line(outputs["console"], NO_RESPONSE_ENDPOINT).split()
    assert row[-4:] == ["—"] * 4, row
    assert "0.0" not in row[-4:]


def test_an_endpoint_with_no_responses_shows_no_latency_in_markdown(
    outputs: dict[str, Any],
) -> None:
    row = _line(outputs["markdown"], NO_RESPONSE_ENDPOINT)
    assert row.endswith("| — | — |"), row


def test_an_endpoint_with_no_responses_has_empty_latency_cells_in_csv(
    outputs: dict[str, Any],
) -> None:
    row = next(r for r in outputs["endpoints_csv"] if r["endpoint"] == NO_RESPONSE_ENDPOINT)
    assert [row[c] for c in ("p50_ms", "p95_ms", "p99_ms", "max_ms")] == ["", "", "", ""]
    answered = next(r for r in outputs["endpoints_csv"] if r["endpoint"] == "GET /ok")
    assert answered["p50_ms"] != ""


def test_markdown_has_the_thresholds_and_expect_results_headings(
    outputs: dict[str, Any],
) -> None:
    markdown = outputs["markdown"]
    assert "### Thresholds" not in markdown  # the plan has only expect: no thresholds
    assert "### Expect results\n\nExpectations: **ok (none failed)**" in markdown
    assert "### Endpoints" in markdown
    assert "| ok.statusCode | 2 |" in markdown


def test_the_html_has_the_thresholds_and_expect_results_headings(
    outputs: dict[str, Any],
) -> None:
    assert "<h2>Thresholds</h2>" not in outputs["html"]  # only expect: no thresholds
    assert "Expectations: <strong>ok (none failed)</strong>" in outputs["html"]
    assert "<h2>Expect results</h2>" in outputs["html"]


def test_a_plan_with_only_expect_speaks_of_expectations(outputs: dict[str, Any]) -> None:
    assert outputs["result"].exit_code == 0, outputs["result"].stderr
    summary = Summary.from_json(outputs["report"])
    outcomes_passed = markdown_summary(summary, _outcomes(summary), [])
    assert "threshold" not in outcomes_passed.split("\n\n")[1], outcomes_passed
    assert "passed** (every expectation)" in outcomes_passed.split("\n\n")[1]


def test_a_failed_expectation_is_not_called_a_failed_threshold(
    server: ServerThread, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(PLAN.format(url=server.url, code=201), encoding="utf-8")
    run_cli(
        "run",
        "-q",
        str(plan),
        "-o",
        str(tmp_path / "r.json"),
        "--summary-md",
        str(tmp_path / "s.md"),
        "--html",
        str(tmp_path / "r.html"),
    )
    summary = Summary.from_json(json.loads((tmp_path / "r.json").read_text("utf-8")))
    verdict = markdown_summary(summary, _outcomes(summary), []).split("\n\n")[1]
    assert "threshold" not in verdict and "2 expectations failed" in verdict, verdict
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "1 of 1 threshold" not in page
    assert "Failed: 2 expectations failed" in page


def _outcomes(summary: Summary) -> list[Any]:
    """The report's judged checks, as the Markdown writer takes them."""
    from yamlload.checks.evaluate import evaluate
    from yamlload.checks.parse import EXPECT_CHECK, Check
    from yamlload.metrics.names import EXPECT_FAILED

    return list(evaluate([Check(EXPECT_CHECK, EXPECT_FAILED, "==", 0.0)], summary))


def test_counters_are_grouped_in_the_console(outputs: dict[str, Any]) -> None:
    data = json.loads(json.dumps(outputs["report"]))
    data["aggregate"]["counters"]["http.requests"] = 1_000_000
    shown = format_summary(Summary.from_json(data))
    assert _line(shown, "http.requests").split()[-1] == "1,000,000"


def test_big_numbers_are_grouped_never_in_e_notation() -> None:
    assert format_count(1_000_000) == "1,000,000"
    assert format_count(1e11) == "100,000,000,000"
    huge = format_count(1e308)
    assert len(huge) < 30 and "e+" not in huge, huge
    rate = Phase(index=0, name="p", duration=2, kind="rate", arrival_rate=1_000_000)
    assert phase_load(rate) == "1,000,000/s"
    ramp = Phase(index=0, name="p", duration=2, kind="ramp", arrival_rate=2, ramp_to=1e6)
    assert phase_load(ramp) == "2 → 1,000,000/s"


def test_compare_tables_group_big_numbers() -> None:
    from yamlload.checks.compare import Delta

    row = Delta(name="http.requests", baseline=1e11, current=2e11)
    table = format_deltas([row])
    assert "e+" not in table and "100,000,000,000" in table
