"""`yamlload trend --html`: a self-contained page with a chart per metric over the runs,
the grade bands shaded, untrusted text escaped, and in real headless Chromium it draws a
point per run and logs no error."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import browser
from tests.helpers import run_cli
from tests.servers import ServerThread
from tests.trend_reports import Real, day, derive, grade, make_real_runs

HOSTILE_PLAN = '<img src=x onerror="alert(1)">.yml'
HOSTILE_REVISION = '"><s>rev</s>'  # short enough to be shown whole
CHARTS = 5  # p50, p95, p99, rps, error rate
RUNS = 6


class Charts(HTMLParser):
    """Each chart's title, its dots, the grade of each band it shades, every script
    tag and the page's Content-Security-Policy."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, list[str] | str]] = []
        self.scripts = 0
        self.policy = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "script":
            self.scripts += 1
        if tag == "meta" and found.get("http-equiv") == "Content-Security-Policy":
            self.policy = found.get("content") or ""
        if tag == "svg" and "chart" in classes:
            self.charts.append({"title": found.get("aria-label") or "", "dots": [], "bands": []})
        if tag == "circle" and "dot" in classes:
            self.charts[-1]["dots"].append("dot")  # type: ignore[union-attr]
        if tag == "rect" and "band" in classes:
            self.charts[-1]["bands"].append(found.get("data-grade") or "")  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def real(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Real:
    return make_real_runs(server, tmp_path_factory.mktemp("real"))


def write_page(real: Real, folder: Path, newest_grade: dict | None) -> Path:
    folder.mkdir()
    for i in range(RUNS - 1):
        derive(real.fast[i % 3], folder / f"r{i}.json", day(i + 1), revision=f"rev{i + 1}")
    derive(real.slow, folder / "r9.json", day(RUNS), HOSTILE_REVISION, newest_grade)
    page = folder / "trend.html"
    result = run_cli("trend", str(folder), "--html", str(page))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"HTML: {page}" in result.stdout
    return page


def test_a_chart_per_metric_with_a_point_per_run(real: Real, tmp_path: Path) -> None:
    page = write_page(real, tmp_path / "reports", grade("C"))
    charts = Charts()
    charts.feed(page.read_text(encoding="utf-8"))
    assert len(charts.charts) == CHARTS
    assert [len(c["dots"]) for c in charts.charts] == [RUNS] * CHARTS
    titles = " ".join(str(c["title"]) for c in charts.charts)
    for metric in ("p50", "p95", "p99", "request rate", "error rate"):
        assert metric in titles
    text = page.read_text(encoding="utf-8")
    assert "2026-01-01" in text and "rev1" in text  # the x axis: date and revision


def test_the_page_is_self_contained_and_runs_no_script(real: Real, tmp_path: Path) -> None:
    page = write_page(real, tmp_path / "reports", None)
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    charts = Charts()
    charts.feed(text)
    assert charts.scripts == 0
    assert "default-src 'none'" in charts.policy and "script-src" not in charts.policy


def test_text_from_reports_is_escaped(real: Real, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    for i in range(2):
        derive(
            real.fast[i], folder / f"r{i}.json", day(i + 1), HOSTILE_REVISION, source=HOSTILE_PLAN
        )
    page = folder / "trend.html"
    assert run_cli("trend", str(folder), "--html", str(page)).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert "<s>rev" not in text and "<img src=x" not in text
    assert "&quot;&gt;&lt;s&gt;rev&lt;/s&gt;" in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.yml" in text


def test_grade_bands_come_from_the_newest_report_else_the_defaults(
    real: Real, tmp_path: Path
) -> None:
    table = {
        "http.response_time.p95": {"bands": [1, 2, 3, 4], "better": "lower"},
        "http.request_rate": {"bands": [200, 150, 100, 50], "better": "higher"},
    }
    custom = Charts()
    custom.feed(write_page(real, tmp_path / "custom", grade("D", table)).read_text("utf-8"))
    by_title = {str(c["title"]): c["bands"] for c in custom.charts}
    p95 = next(b for t, b in by_title.items() if "p95" in t)
    rps = next(b for t, b in by_title.items() if "request rate" in t)
    errors = next(b for t, b in by_title.items() if "error rate" in t)
    # the slow run's p95 is far above 4 ms: the chart reaches the F band
    assert p95 == ["A", "B", "C", "D", "F"]
    assert rps == ["F"]  # higher is better: a few requests/s is under the D band's 50
    assert errors == []  # the newest report's table does not grade it
    default = Charts()
    default_page = write_page(real, tmp_path / "default", None).read_text("utf-8")
    default.feed(default_page)
    by_title = {str(c["title"]): c["bands"] for c in default.charts}
    p95 = next(b for t, b in by_title.items() if "p95" in t)
    assert p95[:1] == ["A"] and p95 == ["A", "B", "C", "D", "F"][: len(p95)]
    assert next(b for t, b in by_title.items() if "error rate" in t)[:1] == ["A"]
    # a rate's bands are fractions in a report, drawn in % like its values
    assert "grade A: below 0.1%" in default_page
    assert next(b for t, b in by_title.items() if "p50" in t) == []
    assert next(b for t, b in by_title.items() if "request rate" in t) == []


@pytest.mark.skipif(
    browser.chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_in_real_chromium_each_chart_draws_a_point_per_run(real: Real, tmp_path: Path) -> None:
    page_file = write_page(real, tmp_path / "reports", grade("B"))

    async def check() -> dict:
        page, process, session = await browser.open_page(page_file)
        try:
            found = {
                "dots": await page.evaluate(
                    "Array.from(document.querySelectorAll('svg.chart')).map(s => s.querySelectorAll('circle.dot').length)"
                ),
                "lines": await page.evaluate("document.querySelectorAll('path.line').length"),
                "bands": await page.evaluate("document.querySelectorAll('rect.band').length"),
                "width": await page.evaluate(
                    "document.querySelector('svg.chart').getBoundingClientRect().width"
                ),
                "rows": await page.evaluate("document.querySelectorAll('#runs tbody tr').length"),
            }
            await page.screenshot(tmp_path / "trend.png")
            found["errors"] = list(page.errors)
            return found
        finally:
            await browser.close(page, process, session)

    found = asyncio.run(check())
    assert found["errors"] == []
    assert found["dots"] == [RUNS] * CHARTS
    assert found["lines"] == CHARTS
    assert found["bands"] >= 2
    assert found["width"] > 300
    assert found["rows"] == RUNS
    assert (tmp_path / "trend.png").stat().st_size > 10_000


def test_many_runs_label_some_ticks_and_always_the_newest(real: Real, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    for i in range(20):
        derive(real.fast[i % 3], folder / f"r{i}.json", day(i + 1), revision=f"rev{i + 1}")
    page = folder / "trend.html"
    assert run_cli("trend", str(folder), "--html", str(page)).exit_code == 0
    text = page.read_text(encoding="utf-8")
    charts = Charts()
    charts.feed(text)
    assert [len(c["dots"]) for c in charts.charts] == [20] * CHARTS
    labelled = set(re.findall(r">(rev\d+)</tspan>", text))
    assert "rev20" in labelled and 2 <= len(labelled) <= 6


def test_bands_where_higher_is_better_run_from_f_at_the_bottom() -> None:
    from yamlload.report.trend import grade_ranges
    from yamlload.results.grading import Bands

    lower = grade_ranges(Bands("p95", (500, 1000, 2000, 5000), "lower"))
    assert lower[0][:2] == ("A", float("-inf")) and lower[0][2] == 500
    assert lower[-1] == ("F", 5000, float("inf"))
    higher = grade_ranges(Bands("rps", (200, 150, 100, 50), "higher"))
    assert higher[0] == ("A", 200, float("inf"))
    assert higher[1] == ("B", 150, 200)
    assert higher[-1] == ("F", float("-inf"), 50)


def test_the_page_says_what_the_newest_was_judged_against_and_when_in_utc(
    real: Real, tmp_path: Path
) -> None:
    """With --mixed the baseline is the newest run's own plan, and the page says so;
    dates are to the second, in UTC, as the console shows them."""
    folder = tmp_path / "reports"
    folder.mkdir()
    derive(real.fast[0], folder / "a.json", "2026-01-01T12:00:07+02:00", revision="a")
    derive(real.fast[1], folder / "b.json", day(2), revision="b", source="load/search.yml")
    build = derive(real.slow, tmp_path / "build.json", day(3), revision="build")
    page = folder / "trend.html"
    result = run_cli(
        "trend",
        str(folder),
        "--newest",
        str(build),
        "--mixed",
        "--ensure",
        "p95<+10%",
        "--html",
        str(page),
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    text = page.read_text(encoding="utf-8")
    assert "the median of the 1 run of checkout.yml before it" in text
    assert "2026-01-01 10:00:07Z" in text and "started (UTC)" in text
    assert "Newest run 2026-01-03 10:00:00Z (build)" in text
