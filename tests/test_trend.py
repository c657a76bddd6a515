"""`yamlload trend`: runs of one plan in time order, the regression rule (the newest run
against the median of the previous N), folders, mixed plans, checkpoints, damaged
reports and the CSV, over real reports of runs against a local server."""

from __future__ import annotations

import csv
import json
import statistics
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread
from tests.trend_reports import Failing, Real, day, derive, grade, make_failing_runs, make_real_runs
from yamlload.checks.measure import measure
from yamlload.report.json import read_json

P95 = "http.response_time.p95"
CSV_COLUMNS = [
    "date",
    "plan",
    "revision",
    "grade",
    "p50",
    "p95",
    "p99",
    "rps",
    "error_rate",
    "verdict",
    "report",
]


@pytest.fixture(scope="module")
def real(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Real:
    return make_real_runs(server, tmp_path_factory.mktemp("real"))


@pytest.fixture(scope="module")
def failing(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Failing:
    return make_failing_runs(server, tmp_path_factory.mktemp("failing"))


def p95_of(path: Path) -> float:
    value = measure(read_json(path), P95)
    assert value is not None
    return value


def history(real: Real, folder: Path, newest: dict | None = None, runs: int = 5) -> list[Path]:
    """`runs` earlier runs (the fast ones, in turn) on days 1..runs, then `newest`."""
    folder.mkdir(exist_ok=True)
    paths = [
        derive(real.fast[i % 3], folder / f"run{i + 1}.json", day(i + 1), revision=f"rev{i + 1}")
        for i in range(runs)
    ]
    if newest is not None:
        paths.append(derive(newest, folder / "newest.json", day(runs + 1), revision="newest"))
    return paths


def test_a_known_regression_fails_naming_p95_with_the_median_and_the_newest(
    real: Real, tmp_path: Path
) -> None:
    paths = history(real, tmp_path / "reports", newest=real.slow)
    result = run_cli("trend", str(tmp_path / "reports"), "--ensure", "p95<+10%")
    assert result.exit_code == 1, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("p95<+10%"))
    median = statistics.median(p95_of(p) for p in paths[:-1])
    newest = p95_of(paths[-1])
    assert f"{median:.1f} ms" in line and f"{newest:.1f} ms" in line
    assert f"{(newest - median) / median * 100:+.2f}%" in line
    assert line.split()[-1] == "fail"
    assert "median of the 5 runs before it" in result.stdout


def test_runs_with_no_regression_pass(real: Real, tmp_path: Path) -> None:
    """Real runs of the same fast route: the newest is within a wide absolute limit of
    the earlier ones' median (the regression above is hundreds of ms)."""
    folder = tmp_path / "reports"
    history(real, folder, runs=2)
    derive(real.fast[2], folder / "newest.json", day(9), revision="newest")
    result = run_cli(
        "trend", str(folder), "--ensure", "p95<+250ms", "--ensure", "error_rate<+0.5pp"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = [x for x in result.stdout.splitlines() if x.startswith(("p95<", "error_rate<"))]
    assert len(rows) == 2 and all(r.split()[-1] == "ok" for r in rows), rows


def test_the_same_run_again_is_no_change(real: Real, tmp_path: Path) -> None:
    paths = [derive(real.slow, tmp_path / f"r{i}.json", day(i + 1)) for i in range(4)]
    result = run_cli("trend", *map(str, paths), "--ensure", "p95<+10%", "--ensure", "rps>-5%")
    assert result.exit_code == 0, result.stdout
    assert "+0.00%" in result.stdout


def test_the_baseline_is_the_median_of_the_last_n_before_the_newest(
    real: Real, tmp_path: Path
) -> None:
    """--baseline 2 reads only the two runs just before the newest: here two slow ones,
    so a slow newest is no regression, though the older fast runs would say it is."""
    folder = tmp_path / "reports"
    history(real, folder, runs=3)
    derive(real.slow, folder / "s1.json", day(10))
    derive(real.slow, folder / "s2.json", day(11))
    derive(real.slow, folder / "s3.json", day(12), revision="last")
    assert run_cli("trend", str(folder), "--ensure", "p95<+10%").exit_code == 1
    result = run_cli("trend", str(folder), "--ensure", "p95<+10%", "--baseline", "2")
    assert result.exit_code == 0, result.stdout
    assert "median of the 2 runs before it" in result.stdout


def test_fewer_runs_than_the_baseline_asks_is_a_note(real: Real, tmp_path: Path) -> None:
    paths = history(real, tmp_path / "reports", newest=real.slow, runs=2)
    result = run_cli("trend", *map(str, paths), "--ensure", "p95<+10%")
    assert result.exit_code == 1
    assert "median of the 2 runs before it" in result.stdout
    assert "fewer than --baseline 5" in result.stderr


def test_one_run_cannot_be_judged_and_says_so(real: Real, tmp_path: Path) -> None:
    path = derive(real.slow, tmp_path / "only.json", day(1))
    result = run_cli("trend", str(path), "--ensure", "p95<+10%")
    assert result.exit_code == 0
    assert "only one run" in result.stderr and "not evaluated" in result.stderr
    assert "p95<+10%" not in result.stdout


def test_time_order_does_not_depend_on_argument_order(real: Real, tmp_path: Path) -> None:
    days = [5, 2, 9, 1, 7]
    paths = [
        derive(real.fast[i % 3], tmp_path / f"x{i}.json", day(d), revision=f"day{d:02d}")
        for i, d in enumerate(days)
    ]
    out = tmp_path / "trend.csv"
    result = run_cli("trend", *map(str, paths), "--csv", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    shown = [w for w in result.stdout.split() if w.startswith("day")]
    assert shown == [f"day{d:02d}" for d in sorted(days)]
    with out.open(encoding="utf-8") as handle:
        assert [r["revision"] for r in csv.DictReader(handle)] == shown


def test_the_table_reads_each_metric_as_the_checks_do(real: Real, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    history(real, folder, newest=real.slow, runs=1)
    result = run_cli("trend", str(folder))
    assert result.exit_code == 0
    summary = read_json(folder / "newest.json")
    line = next(x for x in result.stdout.splitlines() if "newest" in x)
    for metric in ("http.response_time.p50", P95, "http.response_time.p99"):
        value = measure(summary, metric)
        assert value is not None and f"{value:,.1f}" in line
    assert f"{measure(summary, 'http.request_rate'):,.1f}/s" in line
    assert line.split()[-1] == "failed"  # the slow run broke its p95<200
    first = next(x for x in result.stdout.splitlines() if "rev1" in x)
    assert first.split()[-1] == "passed" and "0.00%" in first


def test_revision_and_grade_come_from_the_report_when_it_has_them(
    real: Real, tmp_path: Path
) -> None:
    with_both = derive(real.fast[0], tmp_path / "a.json", day(1), "abc1234", grade("B"))
    without = derive(real.fast[1], tmp_path / "b.json", day(2))
    result = run_cli("trend", str(with_both), str(without))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    first = next(x for x in lines if "2026-01-01" in x).split()
    second = next(x for x in lines if "2026-01-02" in x).split()
    assert first[3:5] == ["abc1234", "B"]
    assert second[3:5] == ["—", "—"]


def test_a_folder_is_its_reports_other_json_is_skipped_with_a_note(
    real: Real, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    history(real, folder, runs=3)
    (folder / "package.json").write_text('{"name": "web"}', encoding="utf-8")
    (folder / "cut.json").write_text('{"yamlload": {"vers', encoding="utf-8")
    (folder / "notes.txt").write_text("not json", encoding="utf-8")
    result = run_cli("trend", str(folder))
    assert result.exit_code == 0, result.stderr
    assert sum(w.startswith("rev") and w[3:].isdigit() for w in result.stdout.split()) == 3
    notes = [x for x in result.stderr.splitlines() if x.startswith("note: skipped")]
    assert len(notes) == 2
    assert any("package.json" in x and "not a yamlload" in x for x in notes)
    assert any("cut.json" in x for x in notes)


def test_a_damaged_report_named_is_exit_2_with_its_path_and_why(real: Real, tmp_path: Path) -> None:
    good = history(real, tmp_path / "reports", runs=1)[0]
    cut = tmp_path / "cut.json"
    cut.write_text(good.read_text(encoding="utf-8")[:500], encoding="utf-8")
    result = run_cli("trend", str(good), str(cut))
    assert result.exit_code == 2
    assert str(cut) in result.stderr and "not a JSON report" in result.stderr
    missing = run_cli("trend", str(good), str(tmp_path / "gone.json"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_no_report_at_all_is_exit_2(tmp_path: Path) -> None:
    result = run_cli("trend", str(tmp_path))
    assert result.exit_code == 2
    assert "no yamlload report" in result.stderr


def test_reports_of_different_plans_are_refused_unless_mixed(real: Real, tmp_path: Path) -> None:
    a = derive(real.fast[0], tmp_path / "a.json", day(1))
    b = derive(real.fast[1], tmp_path / "b.json", day(2), source="load/search.yml")
    refused = run_cli("trend", str(a), str(b))
    assert refused.exit_code == 2
    assert "checkout.yml" in refused.stderr and "search.yml" in refused.stderr
    assert "--mixed" in refused.stderr
    mixed = run_cli("trend", str(a), str(b), "--mixed")
    assert mixed.exit_code == 0, mixed.stderr
    assert "checkout.yml" in mixed.stdout and "search.yml" in mixed.stdout


def test_the_same_plan_file_from_another_folder_is_the_same_plan(
    real: Real, tmp_path: Path
) -> None:
    """CI checks out into a different folder on each runner: the file's name decides."""
    a = derive(real.fast[0], tmp_path / "a.json", day(1), source="/builds/1/load/checkout.yml")
    b = derive(real.fast[1], tmp_path / "b.json", day(2), source="/home/runner/checkout.yml")
    assert run_cli("trend", str(a), str(b)).exit_code == 0


def test_a_checkpoint_is_left_out_with_a_warning_when_nothing_is_judged(
    real: Real, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    history(real, folder, runs=2)
    derive(real.slow, folder / "partial.json", day(30), revision="partial", checkpoint=True)
    result = run_cli("trend", str(folder))
    assert result.exit_code == 0, result.stdout
    assert "partial.json" in result.stderr and "checkpoint" in result.stderr
    assert "partial" not in result.stdout.split()


def test_the_gate_refuses_a_set_with_a_checkpoint_or_a_damaged_report_unless_newest_is_named(
    real: Real, tmp_path: Path
) -> None:
    """A killed run leaves a checkpoint as its report: judging the newest of the others
    would judge an older run and pass. Without --newest that is exit 2, saying why."""
    folder = tmp_path / "reports"
    history(real, folder, runs=2)
    derive(real.slow, folder / "partial.json", day(30), revision="partial", checkpoint=True)
    result = run_cli("trend", str(folder), "--ensure", "p95<+250ms")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "partial.json" in result.stderr and "did not finish" in result.stderr
    assert "--newest FILE" in result.stderr
    (folder / "partial.json").unlink()
    (folder / "cut.json").write_text('{"yamlload": {"vers', encoding="utf-8")
    (folder / "package.json").write_text('{"name": "web"}', encoding="utf-8")
    result = run_cli("trend", str(folder), "--ensure", "p95<+250ms")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "cut.json" in result.stderr and "did not finish" in result.stderr
    (folder / "cut.json").unlink()  # other JSON in the folder is no run's report: a note
    result = run_cli("trend", str(folder), "--ensure", "p95<+250ms")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "package.json" in result.stderr


def test_newest_names_the_run_judged_whatever_else_the_folder_holds(
    real: Real, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    history(real, folder, runs=3)
    derive(real.slow, folder / "partial.json", day(20), checkpoint=True)
    (folder / "cut.json").write_text('{"yamlload": {"vers', encoding="utf-8")
    derive(real.fast[0], folder / "later.json", day(30), revision="later")
    build = derive(real.slow, tmp_path / "build.json", day(10), revision="build")
    result = run_cli("trend", str(folder), "--newest", str(build), "--ensure", "p95<+10%")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Newest run 2026-01-10 10:00:00Z (build)" in result.stdout
    assert "median of the 3 runs before it" in result.stdout
    assert "later.json" in result.stderr and "after the run judged" in result.stderr
    assert "later" not in result.stdout.split()
    assert "partial.json" in result.stderr and "cut.json" in result.stderr
    inside = run_cli(
        "trend",
        str(folder),
        "--newest",
        str(folder / "run2.json"),
        "--ensure",
        "p95<+10%",
        "--baseline",
        "1",
    )
    assert "median of the 1 run before it" in inside.stdout, inside.stdout + inside.stderr
    assert "rev3" not in inside.stdout.split()


def test_newest_must_be_a_finished_report_of_the_plan(real: Real, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    history(real, folder, runs=2)
    gone = run_cli("trend", str(folder), "--newest", str(tmp_path / "gone.json"))
    assert gone.exit_code == 2 and "gone.json: no such file" in gone.stderr
    partial = derive(real.slow, tmp_path / "partial.json", day(9), checkpoint=True)
    killed = run_cli("trend", str(folder), "--newest", str(partial), "--ensure", "p95<+10%")
    assert killed.exit_code == 2, killed.stdout
    assert "partial.json" in killed.stderr and "did not finish" in killed.stderr
    cut = tmp_path / "cut.json"
    cut.write_text(partial.read_text(encoding="utf-8")[:300], encoding="utf-8")
    damaged = run_cli("trend", str(folder), "--newest", str(cut))
    assert damaged.exit_code == 2 and "cut.json: not a JSON report" in damaged.stderr
    other = derive(real.slow, tmp_path / "o.json", day(9), source="load/search.yml")
    for mixed in ((), ("--mixed",)):
        refused = run_cli("trend", str(folder), "--newest", str(other), *mixed)
        assert refused.exit_code == 2, refused.stdout
        assert "search.yml" in refused.stderr and "checkout.yml" in refused.stderr


def test_a_report_from_the_future_is_left_out_with_a_warning(real: Real, tmp_path: Path) -> None:
    """A runner whose clock is ahead wrote a fast report dated tomorrow: it would be the
    newest for a day, and the real newest (slow) would never be judged."""
    folder = tmp_path / "reports"
    history(real, folder, newest=real.slow, runs=3)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    derive(real.fast[0], folder / "ahead.json", tomorrow, revision="ahead")
    result = run_cli("trend", str(folder), "--ensure", "p95<+10%")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "ahead.json" in result.stderr and "future" in result.stderr
    assert "ahead" not in result.stdout.split()


def test_a_report_only_a_little_ahead_is_kept() -> None:
    """Clocks of CI runners differ by seconds: within FUTURE_SLACK a run is kept."""
    from yamlload.cli.trend import FUTURE_SLACK, from_the_future

    now = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
    assert not from_the_future(now + FUTURE_SLACK, now)
    assert from_the_future(now + FUTURE_SLACK + timedelta(seconds=1), now)


def test_a_copy_of_a_report_counts_once(real: Real, tmp_path: Path) -> None:
    """A copy of the newest under another name was its own baseline: +0%, no regression."""
    folder = tmp_path / "reports"
    history(real, folder, newest=real.slow, runs=1)
    (folder / "a-copy.json").write_bytes((folder / "newest.json").read_bytes())
    result = run_cli("trend", str(folder), "--ensure", "p95<+10%", "--baseline", "1")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "the same run as" in result.stderr and "a-copy.json" in result.stderr
    assert "Trend of 2 runs" in result.stdout


def test_invalid_runs_are_shown_but_left_out_of_the_baseline(
    real: Real, failing: Failing, tmp_path: Path
) -> None:
    """Two runs that reached nothing (100% errors) made the baseline's error rate 100%,
    so a newest run failing every request was no change."""
    folder = tmp_path / "reports"
    history(real, folder, runs=1)
    derive(failing.unreachable, folder / "down1.json", day(2), revision="down1")
    derive(failing.unreachable, folder / "down2.json", day(3), revision="down2")
    derive(failing.errors, folder / "errors.json", day(4), revision="errors")
    result = run_cli("trend", str(folder), "--ensure", "error_rate<+0.5pp")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "median of the 1 run before it" in result.stdout
    assert "down1.json" in result.stderr and "invalid" in result.stderr
    down = [x for x in result.stdout.splitlines() if "down" in x]
    assert len(down) == 2 and all(x.split()[-1] == "invalid" for x in down)


def test_an_invalid_newest_run_fails_its_checks_with_the_reason(
    real: Real, failing: Failing, tmp_path: Path
) -> None:
    """A run that reached nothing sent as many requests as before: rps>-10% held."""
    folder = tmp_path / "reports"
    history(real, folder, newest=failing.unreachable, runs=2)
    result = run_cli("trend", str(folder), "--ensure", "rps>-10%")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "could not reach the target" in result.stdout and "invalid" in result.stdout
    row = next(x for x in result.stdout.splitlines() if x.startswith("rps>-10%"))
    assert row.split()[-1] == "fail"


def test_mixed_judges_the_newest_against_its_own_plan_only(real: Real, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    history(real, folder, runs=2)
    for d in (4, 5):
        derive(real.slow, folder / f"s{d}.json", day(d), source="load/search.yml")
    derive(real.slow, folder / "newest.json", day(6), revision="newest")
    result = run_cli("trend", str(folder), "--mixed", "--ensure", "p95<+10%", "--baseline", "2")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "median of the 2 runs of checkout.yml before it" in result.stdout


def test_the_refusal_of_mixed_plans_names_each(real: Real, tmp_path: Path) -> None:
    paths = [
        derive(real.fast[0], tmp_path / f"{name}.json", day(i + 1), source=f"load/{name}.yml")
        for i, name in enumerate(("a", "b", "c"))
    ]
    result = run_cli("trend", *map(str, paths))
    assert result.exit_code == 2
    assert "reports of 3 plans: a.yml (" in result.stderr
    assert all(f"{name}.yml ({tmp_path / name}.json)" in result.stderr for name in "abc")


def test_the_date_is_shown_to_the_second_in_utc(real: Real, tmp_path: Path) -> None:
    path = derive(real.fast[0], tmp_path / "a.json", "2026-01-01T12:00:07+02:00", "r")
    result = run_cli("trend", str(path))
    assert result.exit_code == 0
    assert "started (UTC)" in result.stdout
    assert "2026-01-01 10:00:07Z" in result.stdout


def test_an_infinite_limit_is_refused_by_trend_and_compare(real: Real, tmp_path: Path) -> None:
    paths = history(real, tmp_path / "reports", runs=2)
    for limit in ("p95<+1e999%", "p99<+1e999ms", "error_rate<+1e999pp", "p95>-1e999%"):
        for command in ("trend", "compare"):
            result = run_cli(command, *map(str, paths), "--ensure", limit)
            assert result.exit_code == 2, (command, limit, result.stdout)
            assert limit in result.stderr and "finite" in result.stderr


def test_the_csv_has_a_row_per_run_with_raw_numbers(real: Real, tmp_path: Path) -> None:
    paths = history(real, tmp_path / "reports", newest=real.slow, runs=2)
    out = tmp_path / "trend.csv"
    result = run_cli("trend", *map(str, paths), "--csv", str(out))
    assert result.exit_code == 0
    assert f"CSV: {out}" in result.stdout
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 3
    newest = read_json(paths[-1])
    assert float(rows[-1]["p95"]) == measure(newest, P95)
    assert float(rows[-1]["rps"]) == measure(newest, "http.request_rate")
    assert float(rows[-1]["error_rate"]) == measure(newest, "error_rate")
    assert rows[-1]["date"] == day(3) and rows[-1]["revision"] == "newest"
    assert rows[-1]["verdict"] == "failed" and rows[0]["verdict"] == "passed"
    assert rows[0]["grade"] == "" and rows[0]["plan"].endswith("checkout.yml")
    assert rows[0]["report"] == str(paths[0])


def test_a_check_that_is_not_a_change_or_names_no_endpoint_is_exit_2(
    real: Real, tmp_path: Path
) -> None:
    paths = history(real, tmp_path / "reports", runs=2)
    absolute = run_cli("trend", *map(str, paths), "--ensure", "p95<500")
    assert absolute.exit_code == 2 and "a comparison limit is a change" in absolute.stderr
    endpoint = run_cli("trend", *map(str, paths), "--ensure", "GET /nope: p95<+10%")
    assert endpoint.exit_code == 2 and "no endpoint 'GET /nope'" in endpoint.stderr


def test_a_per_endpoint_check_reads_that_endpoint(real: Real, tmp_path: Path) -> None:
    paths = history(real, tmp_path / "reports", newest=real.slow, runs=3)
    name = json.loads(paths[0].read_text(encoding="utf-8"))["endpoints"][0]["name"]
    result = run_cli("trend", *map(str, paths), "--ensure", f"{name}: p95<+10%")
    assert result.exit_code == 1
    assert any(x.startswith(f"{name}: p95<+10%") for x in result.stdout.splitlines())


def test_baseline_must_be_at_least_one(real: Real, tmp_path: Path) -> None:
    paths = history(real, tmp_path / "reports", runs=2)
    assert run_cli("trend", *map(str, paths), "--baseline", "0").exit_code == 2


def test_a_grade_of_another_shape_is_refused_and_a_revision_stays_on_its_line(
    real: Real, tmp_path: Path
) -> None:
    """Reports are untrusted: a grade that is not a report's shape is refused with where
    (the report schema), never a crash; a revision with a line break stays on its line."""
    odd = derive(real.fast[0], tmp_path / "a.json", day(1), "abc", {"overall": 5, "table": []})
    result = run_cli("trend", str(odd))
    assert result.exit_code == 2
    assert f"{odd}: not a yamlload JSON report: at grade" in result.stderr
    broken = derive(real.fast[1], tmp_path / "b.json", day(2), "x\ny", grade("B"))
    result = run_cli("trend", str(broken))
    assert result.exit_code == 0, result.stderr
    row = next(x for x in result.stdout.splitlines() if "2026-01-02" in x).split()
    assert row[3:6] == ["x", "y", "B"]  # the break is a space


def test_a_full_commit_hash_shows_as_git_short_form(real: Real, tmp_path: Path) -> None:
    sha = "9f8e7d6c5b4a3210fedcba9876543210abcdef01"
    path = derive(real.fast[0], tmp_path / "a.json", day(1), sha)
    out = tmp_path / "t.csv"
    result = run_cli("trend", str(path), "--csv", str(out))
    assert "9f8e7d6 " in result.stdout and sha not in result.stdout
    assert sha in out.read_text(encoding="utf-8")  # the CSV keeps it whole


def test_text_in_the_csv_is_never_a_formula(real: Real, tmp_path: Path) -> None:
    written = ['=HYPERLINK("http://x")', " =1+1", "\t@SUM(A1)", "\u00a0-2+3", "  +1"]
    out = tmp_path / "t.csv"
    for i, revision in enumerate(written):
        path = derive(real.fast[0], tmp_path / f"a{i}.json", day(i + 1), revision)
        assert run_cli("trend", str(path), "--csv", str(out)).exit_code == 0
        with out.open(encoding="utf-8", newline="") as handle:
            [row] = list(csv.DictReader(handle))
        assert row["revision"] == "'" + revision


def test_an_output_that_is_one_of_the_reports_is_refused(real: Real, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    paths = history(real, folder, runs=2)
    before = paths[0].read_bytes()
    result = run_cli("trend", str(folder), "--csv", str(paths[0]))
    assert result.exit_code == 2, result.stdout
    assert paths[0].read_bytes() == before


def test_on_github_the_trend_and_its_checks_go_to_the_step_summary(
    real: Real, tmp_path: Path
) -> None:
    """As `run` writes its summary there: the runs and the checks, in Markdown, appended."""
    history(real, tmp_path / "reports", newest=real.slow)
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    odd = "2025-12-31T10:00:00+00:00"  # before the others: not the run judged
    derive(real.fast[1], tmp_path / "reports" / "odd.json", odd, revision="a|b<img>")
    result = run_cli(
        "trend",
        str(tmp_path / "reports"),
        "--ensure",
        "p95<+10%",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## yamlload trend: checkout.yml (7 runs)")
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in text.splitlines()]
    assert next(r for r in rows if "plan" in r)[:3] == ["started (UTC)", "plan", "revision"]
    check = next(r for r in rows if r[0] == "p95&lt;+10%")
    assert check[-1] == "fail"
    assert r"a\|b&lt;img&gt;" in text  # a cell stays a cell, and inert
    assert "a|b" not in text and "<img>" not in text
