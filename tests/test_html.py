"""The HTML report: numbers in the page match the JSON report, it is self-contained,
and in real headless Chromium it draws its charts, logs no errors and sorts."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import browser
from tests.helpers import PLANS, run_cli

SHORT = '{"config":{"phases":[{"duration":6,"arrivalRate":8},{"duration":8,"arrivalRate":8,"rampTo":20}]}}'


class Cells(HTMLParser):
    """Collects the tiles' values and the endpoint table's data-value cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, str] = {}
        self.rows: list[list[str]] = []
        self._tile: str | None = None
        self._in_endpoints = False
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "dd":
            self._tile = found.get("data-metric")
        if tag == "table" and found.get("id") == "endpoints":
            self._in_endpoints = True
        if self._in_endpoints and tag == "tr":
            self.rows.append([])
        if self._in_endpoints and tag == "td" and self.rows:
            self.rows[-1].append(found.get("data-value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_endpoints = False

    def handle_data(self, data: str) -> None:
        if self._tile:
            self.tiles[self._tile] = data
            self._tile = None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    folder = tmp_path_factory.mktemp("html")
    result = run_cli(
        "run",
        "-q",
        "--demo-target",
        str(PLANS / "api_load_test.yml"),
        "--overrides",
        SHORT,
        "-o",
        str(folder / "r.json"),
        "--html",
        str(folder / "r.html"),
        "--csv",
        str(folder / "r"),
        "--ensure",
        "p95<2s",
        "--ensure",
        "GET /search: p99<0.001",
    )
    assert result.exit_code == 1, result.stdout  # the second check fails on purpose
    return folder / "r.html", json.loads((folder / "r.json").read_text()), folder


def test_numbers_in_the_page_match_the_json_report(rendered) -> None:
    page, report, _ = rendered
    cells = Cells()
    cells.feed(page.read_text(encoding="utf-8"))
    agg = report["aggregate"]
    assert cells.tiles["requests"] == f"{agg['counters']['http.requests']:,}"
    assert cells.tiles["p95"] == f"{agg['summaries']['http.response_time']['p95']:.1f} ms"
    assert cells.tiles["p99"] == f"{agg['summaries']['http.response_time']['p99']:.1f} ms"
    assert cells.tiles["users"] == f"{agg['counters']['vusers.created']:,}"
    rows = {r[0]: r for r in cells.rows if r}
    for endpoint in report["endpoints"]:
        row = rows[endpoint["name"]]
        assert int(row[1]) == endpoint["requests"]
        assert float(row[5]) == pytest.approx(endpoint["summary"]["p95"], abs=0.01)
    text = page.read_text(encoding="utf-8")
    assert "Failed: 1 of" in text and "GET /search: p99&lt;0.001" in text
    measured = {c["check"]: c["measured"] for c in report["checks"]}
    assert measured["maxErrorRate: user_failure_rate <= 1%"].endswith("%")
    assert measured["p95<2s"].endswith(" ms")
    thresholds = {c: m for c, m in measured.items() if c != "plugins.expect.failed == 0"}
    assert all(f"<td>{m}</td>" in text for m in thresholds.values())
    # the expect check is with the expect results, not among the thresholds
    assert "<code>plugins.expect.failed == 0</code>" not in text
    assert "Expectations: <strong>" in text


def test_the_page_is_self_contained(rendered) -> None:
    page, _, _ = rendered
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "@import" not in text and "url(http" not in text
    assert text.count('<svg class="chart"') >= 6
    for needle in ("phase 1", "phase 2", "HTTP 200", "The plan as it ran", "Generator health"):
        assert needle in text


def test_csv_files_match_the_report(rendered) -> None:
    _, report, folder = rendered
    with (folder / "r-periods.csv").open() as handle:
        periods = list(csv.DictReader(handle))
    assert (
        sum(int(p["requests"]) for p in periods) == report["aggregate"]["counters"]["http.requests"]
    )
    with (folder / "r-endpoints.csv").open() as handle:
        endpoints = {row["endpoint"]: row for row in csv.DictReader(handle)}
    assert {e["name"] for e in report["endpoints"]} == set(endpoints)


def test_report_command_renders_a_json_report_again(rendered, tmp_path: Path) -> None:
    _, report, folder = rendered
    out = tmp_path / "again.html"
    result = run_cli("report", str(folder / "r.json"), "-o", str(out))
    assert result.exit_code == 0
    cells = Cells()
    cells.feed(out.read_text(encoding="utf-8"))
    assert cells.tiles["requests"] == f"{report['aggregate']['counters']['http.requests']:,}"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert run_cli("report", str(bad)).exit_code == 2


def test_compare_writes_an_overlay_page(rendered, tmp_path: Path) -> None:
    _, _, folder = rendered
    out = tmp_path / "compare.html"
    result = run_cli("compare", str(folder / "r.json"), str(folder / "r.json"), "--html", str(out))
    assert result.exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert (
        "baseline p95" in text and "current p95" in text and text.count('<svg class="chart"') == 2
    )


@pytest.mark.skipif(
    browser.chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_in_real_chromium_charts_draw_no_errors_and_sorting_works(rendered, tmp_path: Path) -> None:
    page_file, report, _ = rendered

    async def check() -> dict:
        page, process, session = await browser.open_page(page_file)
        try:
            found = {
                "charts": await page.evaluate("document.querySelectorAll('svg.chart').length"),
                "marks": await page.evaluate(
                    "Array.from(document.querySelectorAll('svg.chart')).map(s => s.querySelectorAll('path.line, rect.bar, circle.dot').length)"
                ),
                "width": await page.evaluate(
                    "document.querySelector('svg.chart').getBoundingClientRect().width"
                ),
            }
            order = "Array.from(document.querySelectorAll('#endpoints tbody tr')).map(r => Number(r.cells[1].dataset.value))"
            await page.evaluate("document.querySelectorAll('#endpoints th button')[1].click()")
            found["ascending"] = await page.evaluate(order)
            await page.evaluate("document.querySelectorAll('#endpoints th button')[1].click()")
            found["descending"] = await page.evaluate(order)
            await page.screenshot(tmp_path / "report.png")
            found["errors"] = list(page.errors)
            return found
        finally:
            await browser.close(page, process, session)

    found = asyncio.run(check())
    assert found["errors"] == []
    assert found["charts"] >= 6
    assert all(n > 0 for n in found["marks"]), found["marks"]
    assert found["width"] > 300
    requests = sorted(e["requests"] for e in report["endpoints"])
    assert found["ascending"] == requests
    assert found["descending"] == requests[::-1]
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_the_page_never_contradicts_itself(tmp_path: Path) -> None:
    """Thresholds and expectations are named apart; an endpoint with no response shows
    no latency ("—", not 0.0 ms); a checkpoint is marked partial."""
    plan = tmp_path / "plan.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 2}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n",
        encoding="utf-8",
    )
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    result = run_cli(
        "run",
        str(plan),
        "-q",
        "-o",
        str(report),
        "--html",
        str(page),
        "--ensure",
        "error_rate<1%",
        "--allow-lag",
    )
    assert result.exit_code == 3  # nothing answered: an invalid run
    text = page.read_text(encoding="utf-8")
    assert "Errors and failed expectations" in text and "failed checks" not in text
    cells = Cells()
    cells.feed(text)
    row = next(r for r in cells.rows if r and r[0] == "GET /")
    shown = re.findall(r"<td data-value=\"-1\">(.*?)</td>", text)
    assert len(shown) == 4 and set(shown) == {"—"}, row
    data = json.loads(report.read_text(encoding="utf-8"))
    data["run"]["checkpoint"] = True
    report.write_text(json.dumps(data), encoding="utf-8")
    assert run_cli("report", str(report), "-o", str(page)).exit_code == 0
    assert "Partial: a checkpoint of a run that was still going" in page.read_text("utf-8")
    assert "Thresholds" in result.stdout and "\nChecks\n" not in result.stdout


def test_status_bars_are_coloured_by_what_they_mean_not_by_order() -> None:
    """A run of failures never shows green: 2xx green (c0), 3xx blue (c4), 4xx amber
    (c2), 5xx red (c1), no response purple (c3), whatever codes the run saw."""
    from yamlload.report.html import stacked_bars

    def colour_of(svg: str, category: str) -> str:
        found = re.search(r'<rect class="bar (c\d)"[^>]*><title>' + re.escape(category), svg)
        assert found, category
        return found.group(1)

    failing = stacked_bars("codes", [(0.0, 10.0, {"error ECONNREFUSED": 5})], 10.0, [], "n")
    assert colour_of(failing, "error ECONNREFUSED") == "c3"
    mixed = {"HTTP 200": 5, "HTTP 201": 2, "HTTP 302": 1, "HTTP 404": 1, "HTTP 503": 1}
    svg = stacked_bars("codes", [(0.0, 10.0, mixed)], 10.0, [], "n")
    assert [colour_of(svg, c) for c in mixed] == ["c0", "c0", "c4", "c2", "c1"]
    # two codes of a class: one colour, the second fainter
    assert re.search(r"title>HTTP 201", svg) and 'opacity="0.65"><title>HTTP 201' in svg


def test_a_run_nothing_answered_shows_no_latency_rather_than_zero(tmp_path: Path) -> None:
    plan = tmp_path / "dead.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 2}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n",
        encoding="utf-8",
    )
    html = tmp_path / "r.html"
    result = run_cli("run", "-q", str(plan), "-o", str(tmp_path / "r.json"), "--html", str(html))
    assert result.exit_code != 0  # invalid: nothing answered
    page = html.read_text(encoding="utf-8")
    for tile in ("p50", "p95", "p99"):
        assert f'data-metric="{tile}">—</dd>' in page
    # the distribution says why it is empty, and a missing value is a dash, not a hyphen
    assert "No response: no latency to show." in page
    assert "<td>-</td>" not in page
