"""Fuzzing every parser of user input besides the plan (test_properties.py has that one):
CSV payloads, --ensure expressions, --overrides JSON, and the JSON reports given to
`report`, `compare` and `merge`. Each answers with a value or a clear yamlload error;
nothing else escapes."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli
from yamlload import PlanError, PlanOptions, UsageError, load_plan
from yamlload.checks.parse import parse_ensure
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.periods import Period
from yamlload.plan.ir import Payload
from yamlload.results.summary import Summary
from yamlload.runtime.engine import read_payload

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path(tempfile.mkdtemp(prefix="yamlload-fuzz-"))


# ---- CSV payloads


@FUZZ
@given(
    content=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    cast=st.booleans(),
    named=st.booleans(),
)
def test_any_csv_gives_rows_or_a_clear_error(
    content: bytes, delimiter: str, cast: bool, named: bool
) -> None:
    path = SCRATCH / "payload.csv"
    path.write_bytes(content)
    payload = Payload(str(path), ("a", "b") if named else (), delimiter=delimiter, cast=cast)
    try:
        rows = read_payload(payload)
    except UsageError as exc:
        assert str(path) in str(exc)
        return
    assert all(isinstance(row, dict) for row in rows)


def test_a_csv_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\ncafé\n".encode("latin-1"))
    try:
        read_payload(Payload(str(path), ()))
    except UsageError as exc:
        assert "not UTF-8" in str(exc) and "0xe9" in str(exc)
    else:
        raise AssertionError("latin-1 bytes were read as UTF-8")


# ---- --ensure


ENSURE_PIECES = st.sampled_from(
    [
        "p95",
        "p99",
        "error_rate",
        "http.codes.200",
        "GET /a:",
        "<",
        "<=",
        ">",
        "==",
        "!=",
        "500",
        "1%",
        "1.5s",
        "+10%",
        "+2pp",
        "ms",
        " ",
        "max",
        "vusers.failed",
        "0",
        "-",
        "e9",
        "%%",
        ":",
    ]
)


@FUZZ
@given(
    text=st.one_of(st.text(max_size=60), st.lists(ENSURE_PIECES, max_size=8).map("".join)),
    relative=st.booleans(),
)
def test_any_ensure_expression_parses_or_is_a_plan_error(text: str, relative: bool) -> None:
    try:
        check = parse_ensure(text, relative=relative)
    except PlanError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return
    assert check is not None


# ---- --overrides


BASE_PLAN = "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios:\n  - flow: [{get: {url: /}}]\n"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["config", "phases", "target", "duration", "arrivalRate", "scenarios", "flow", "x"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@FUZZ
@given(overrides=st.one_of(st.text(max_size=80), JSON_VALUES.map(json.dumps)))
def test_any_overrides_give_a_plan_or_a_clear_error(overrides: str) -> None:
    path = SCRATCH / "plan.yml"
    path.write_text(BASE_PLAN)
    try:
        plan = load_plan(str(path), PlanOptions(overrides=overrides))
    except (PlanError, UsageError) as exc:
        assert str(exc)
        return
    assert plan.scenarios


# ---- JSON reports for report, compare and merge


def _valid_report() -> dict[str, Any]:
    metrics = Metrics()
    for ms in (3.0, 5.0, 120.0):
        metrics.observe("http.response_time", ms)
        metrics.observe("plugins.metrics-by-endpoint.response_time.GET /a", ms)
    metrics.count("http.requests", 3)
    metrics.count("http.responses", 3)
    metrics.count("http.codes.200", 3)
    metrics.count("vusers.created", 3)
    return Summary(
        "plan.yml", "http://127.0.0.1:9", "now", 10.0, [Period(0, metrics)], []
    ).to_json()


VALID_REPORT = _valid_report()


def _as_segment(report: dict[str, Any], label: str) -> dict[str, Any]:
    """The report as one segment of a split run, so `merge` has a set to check."""
    return {**copy.deepcopy(report), "workers": [{"segment": label}]}


# The damaged reports are segment 1/2; the good one they merge with is 2/2.
SEGMENT_REPORT = _as_segment(VALID_REPORT, "1/2")
OTHER_SEGMENT = _as_segment(VALID_REPORT, "2/2")
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=8),
    st.just([]),
    st.just({}),
    st.just([[1, 2]]),
    st.just({"bins": [[1, -5]]}),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


REPORT_PATHS = _paths(SEGMENT_REPORT)


@st.composite
def damaged_reports(draw: st.DrawFn) -> str:
    report = copy.deepcopy(SEGMENT_REPORT)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(REPORT_PATHS))
        parent: Any = report
        try:
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = copy.deepcopy(draw(ODD_VALUES))  # never one shared object
        except (KeyError, IndexError, TypeError):
            continue
    text = json.dumps(report, allow_nan=True)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    return text


@FUZZ
@given(text=st.one_of(damaged_reports(), st.text(max_size=100)))
def test_any_report_file_is_read_or_refused_clearly(text: str) -> None:
    path = SCRATCH / "report.json"
    path.write_text(text)
    good = SCRATCH / "good.json"
    good.write_text(json.dumps(OTHER_SEGMENT))
    for command in (
        ["report", str(path), "-o", str(SCRATCH / "r.html")],
        ["compare", str(good), str(path), "--ensure", "p95<+10%"],
        ["merge", str(good), str(path), "-o", str(SCRATCH / "merged.json")],
    ):
        result = run_cli(*command)  # an escaping exception fails the test here
        assert result.exit_code in (0, 1, 2), (command, result.output)
        if result.exit_code == 2:
            assert "report" in result.stderr


def test_the_valid_report_is_accepted_by_all_three() -> None:
    good = SCRATCH / "good.json"
    good.write_text(json.dumps(VALID_REPORT))
    assert run_cli("report", str(good), "-o", str(SCRATCH / "r.html")).exit_code == 0
    assert run_cli("compare", str(good), str(good)).exit_code == 0
    first, second = SCRATCH / "first.json", SCRATCH / "second.json"
    first.write_text(json.dumps(SEGMENT_REPORT))
    second.write_text(json.dumps(OTHER_SEGMENT))
    merged = run_cli("merge", str(first), str(second), "-o", str(SCRATCH / "m.json"))
    assert merged.exit_code == 0, merged.stderr
    twice = run_cli("merge", str(good), str(good), "-o", str(SCRATCH / "m.json"))
    assert twice.exit_code == 2  # the same run twice would double its counts
