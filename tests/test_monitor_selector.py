"""monitor/selector.py: the selector language of config.monitor's metrics (issue 17)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.monitor import selector
from yamlload.monitor.exposition import Sample, parse_exposition
from yamlload.monitor.selector import KNOWN_FUNCTIONS, SelectorError, parse


def samples(text: str) -> dict[str, list[Sample]]:
    return parse_exposition(text).by_name()


NOW = samples(
    """\
process_cpu_seconds_total 130
process_resident_memory_bytes 250000000
pg_stat_activity_count{datname="app",state="active"} 7
pg_stat_activity_count{datname="app",state="idle"} 3
pg_stat_activity_count{datname="other",state="active"} 2
pg_stat_activity_count{datname="nolabel"} 100
queue_depth{queue="a"} 5
queue_depth{queue="b"} 9
queue_depth{queue="c"} NaN
http_requests_total{code="200"} 1100
http_requests_total{code="500"} 4
http_requests_total{code="404"} 50
"""
)
BEFORE = samples(
    """\
process_cpu_seconds_total 120
http_requests_total{code="200"} 1000
http_requests_total{code="500"} 10
"""
)


def value(text: str, seconds: float | None = 10.0) -> float | None:
    return parse(text).evaluate(NOW, BEFORE, seconds)


# --- evaluation -----------------------------------------------------------------------


def test_a_single_series_is_its_value() -> None:
    assert value("process_resident_memory_bytes") == 250e6
    assert value("process_resident_memory_bytes / 1e6") == 250.0


def test_several_series_are_summed_by_default() -> None:
    assert value("pg_stat_activity_count") == 112
    assert value("sum(pg_stat_activity_count)") == 112


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('pg_stat_activity_count{state="active"}', 9),
        ('pg_stat_activity_count{state="active",datname="app"}', 7),
        ('pg_stat_activity_count{state="active", datname="app",}', 7),
        ('pg_stat_activity_count{state!="active"}', 103),  # a missing label is ""
        ('pg_stat_activity_count{state=""}', 100),
        ('pg_stat_activity_count{state=~"act.*"}', 9),
        ('pg_stat_activity_count{state=~"act"}', None),  # anchored, as Prometheus
        ('pg_stat_activity_count{state=~"active|idle"}', 12),
        ('pg_stat_activity_count{state!~"act.*"}', 103),
        ("pg_stat_activity_count{state='idle'}", 3),
        ("pg_stat_activity_count{}", 112),
    ],
)
def test_matchers(text: str, expected: float | None) -> None:
    assert value(text) == expected


def test_max_and_min() -> None:
    assert value("max(pg_stat_activity_count)") == 100
    assert value('min(pg_stat_activity_count{state="active"})') == 2
    assert value("max(queue_depth)") == 9  # a NaN sample is left out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 / 4 / 5", 0.5),
        ("1 - 2 - 3", -4),
        ("-2 * -3", 6),
        ("1e6 / 2.5e+2", 4000),
        (".5 + 1.", 1.5),
        ("- (1 + 1)", -2),
        ("queue_depth{queue=\"a\"} * 2 + queue_depth{queue='b'}", 19),
    ],
)
def test_arithmetic_with_the_usual_precedence(text: str, expected: float) -> None:
    assert value(text) == pytest.approx(expected)


def test_nothing_matching_is_none_and_none_spreads() -> None:
    assert value("no_such_metric") is None
    assert value("no_such_metric * 100 + 1") is None
    assert value("max(no_such_metric)") is None
    assert value('queue_depth{queue="c"}') is None  # only a NaN


def test_division_by_zero_is_none() -> None:
    assert value("process_cpu_seconds_total / 0") is None
    assert value("1 / (queue_depth{queue='a'} - 5)") is None


def test_a_result_that_is_not_finite_is_none() -> None:
    assert value("1e308 * 10") is None


def test_rate_is_per_second_between_two_samples() -> None:
    assert value("rate(process_cpu_seconds_total) * 100") == pytest.approx(100.0)
    assert value("rate(process_cpu_seconds_total)", seconds=20) == pytest.approx(0.5)


def test_rate_is_reset_safe_a_counter_that_went_down_counts_from_zero() -> None:
    # code="500" went from 10 to 4: a restart; it counts as 4 since the reset
    assert value('rate(http_requests_total{code="500"})') == pytest.approx(0.4)
    # the series only seen now (404) has no rate yet; the others are summed
    assert value("rate(http_requests_total)") == pytest.approx(10.0 + 0.4)
    assert value("max(rate(http_requests_total))") == pytest.approx(10.0)
    assert value("min(rate(http_requests_total))") == pytest.approx(0.4)


def test_rate_without_an_earlier_sample_is_none() -> None:
    expr = parse("rate(process_cpu_seconds_total)")
    assert expr.evaluate(NOW, None, None) is None
    assert expr.evaluate(NOW, {}, 10.0) is None
    assert expr.evaluate(NOW, BEFORE, 0.0) is None
    assert parse('rate(http_requests_total{code="404"})').evaluate(NOW, BEFORE, 10.0) is None


def test_an_expression_knows_its_metrics_and_whether_it_needs_an_earlier_sample() -> None:
    expr = parse("rate(a_total) * 100 + sum(b{x='1'}) / c")
    assert expr.metric_names == frozenset({"a_total", "b", "c"})
    assert expr.uses_rate
    assert not parse("b / 1e6").uses_rate
    assert str(expr) == expr.text == "rate(a_total) * 100 + sum(b{x='1'}) / c"


def test_a_metric_may_be_named_like_a_function_when_not_called() -> None:
    assert parse("sum + rate").evaluate(samples("sum 1\nrate 2\n"), None, None) == 3


# --- errors, with their columns ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("avg(x)", 1, "unknown function 'avg' at column 1; known: sum, max, min, rate"),
        ("2 * Sum(x)", 5, "unknown function 'Sum' at column 5; known: sum, max, min, rate"),
        ("rate(1)", 6, "rate() needs a metric selector at column 6"),
        ("rate(sum(x))", 6, "rate() needs a metric selector at column 6"),
        ("rate(x * 2)", 8, "expected ')' to close rate( at column 8"),
        ("rate()", 6, "rate() needs a metric selector at column 6"),
        ("sum(1 + x)", 5, "sum() needs a metric selector or rate(...) at column 5"),
        ("max(x + 1)", 7, "expected ')' to close max( at column 7"),
        (
            "rate(x[5m])",
            7,
            "rate() takes no range at column 7; it is per second between this sample and the previous one: write rate(x)",
        ),
        ('x{state=="a"}', 9, "bad matcher: expected a quoted label value at column 9"),
        ("x{state=a}", 9, "bad matcher: expected a quoted label value at column 9"),
        ('x{state="a"', 12, "bad matcher: expected ',' or '}' at column 12"),
        ('x{state="a" y="b"}', 13, "bad matcher: expected ',' or '}' at column 13"),
        ('x{="a"}', 3, "bad matcher: expected a label name at column 3"),
        ('x{a:b="a"}', 3, "bad matcher: 'a:b' is not a label name at column 3"),
        ('x{state~"a"}', 8, "unexpected character '~' at column 8"),
        ('x{state>"a"}', 8, "unexpected character '>' at column 8"),
        ('x{state<"a"}', 8, "unexpected character '<' at column 8"),
        ('x{state "a"}', 9, "bad matcher: expected =, !=, =~ or !~ at column 9"),
        ("x{state=~'('}", 10, "bad matcher: invalid regular expression '('"),
        ('x{s="a\\q"}', 7, "bad escape '\\q' at column 7"),
        ('x{s="a}', 5, "unterminated string at column 5"),
        ("x +", 4, "expected a number, a metric or '(' at column 4 (the end)"),
        ("(x", 3, "expected ')' at column 3 (the end)"),
        ("x y", 3, "unexpected 'y' at column 3"),
        ("x $", 3, "unexpected character '$' at column 3"),
        ("1e6x", 1, "bad number '1e6x' at column 1"),
        ("1.2.3", 1, "bad number '1.2.3' at column 1"),
        ("", 1, "empty selector at column 1"),
        ("   ", 4, "empty selector at column 4"),
        ("sum x", 5, "unexpected 'x' at column 5"),
        (
            "sum by (a) (x)",
            5,
            "grouping (by, without) is not supported at column 5; sum(...) adds up every series that matches",
        ),
        ("x == 1", 3, "unexpected '=' at column 3"),
    ],
)
def test_errors_say_what_and_where(text: str, column: int, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse(text)
    assert caught.value.column == column
    assert str(caught.value).startswith(message), str(caught.value)


def test_an_error_keeps_its_message_apart_from_its_column() -> None:
    with pytest.raises(SelectorError) as caught:
        parse("x + avg(y)")
    error = caught.value
    assert (error.message, error.column, error.hint) == (
        "unknown function 'avg'",
        5,
        "known: sum, max, min, rate",
    )
    assert error.plain == "unknown function 'avg'; known: sum, max, min, rate"
    assert KNOWN_FUNCTIONS == ("sum", "max", "min", "rate")


def test_depth_and_length_are_bounded() -> None:
    deep = "(" * (selector.MAX_DEPTH + 1) + "1" + ")" * (selector.MAX_DEPTH + 1)
    with pytest.raises(SelectorError, match="nested"):
        parse(deep)
    assert parse("(" * 10 + "1" + ")" * 10).evaluate({}, None, None) == 1
    with pytest.raises(SelectorError, match="longer than"):
        parse("x" * (selector.MAX_SELECTOR_CHARS + 1))
    with pytest.raises(SelectorError, match="nested"):
        parse("-" * (selector.MAX_DEPTH + 1) + "1")


# --- properties -------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("xsumaterin(){}[]=!~\"'\\,.+-*/ 1e_:")), max_size=40))
def test_parse_raises_only_selector_errors(text: str) -> None:
    try:
        expr = parse(text)
    except SelectorError as error:
        assert 1 <= error.column <= len(text) + 1
        return
    result = expr.evaluate(NOW, BEFORE, 10.0)
    assert result is None or math.isfinite(result)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parse_raises_only_selector_errors_on_any_text(text: str) -> None:
    try:
        parse(text)
    except SelectorError as error:
        assert 1 <= error.column <= len(text) + 1


NUMBERS = st.integers(0, 1000).map(str) | st.sampled_from(["1e3", "2.5", ".5", "4e-1"])


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        return draw(NUMBERS)
    kind = draw(st.sampled_from(["binary", "paren", "negate"]))
    if kind == "paren":
        return f"({draw(arithmetic(depth + 1))})"
    if kind == "negate":
        return f"-{draw(arithmetic(depth + 1))}"
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    return f"{draw(arithmetic(depth + 1))} {op} {draw(arithmetic(depth + 1))}"


@settings(max_examples=300, deadline=None)
@given(arithmetic())
def test_arithmetic_agrees_with_python(text: str) -> None:
    try:
        expected: float | None = float(eval(text))
    except ZeroDivisionError:
        expected = None
    got = parse(text).evaluate({}, None, None)
    if expected is None or not math.isfinite(expected):
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_the_compiler_can_read_selectors_without_psutil_or_aiohttp() -> None:
    import subprocess
    import sys

    code = (
        "import sys, yamlload.monitor.selector; "
        "assert 'psutil' not in sys.modules and 'aiohttp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("regex", ["(a+)+$", "(a*b?)*", "(x|y+)+", "(?:a{1,3})+"])
def test_a_repetition_of_a_repetition_is_refused(regex: str) -> None:
    """Python's regex engine can take exponential time on such a pattern against a long
    label value, on the run's loop where no signal stops it (a review froze a run so)."""
    with pytest.raises(SelectorError, match="repeats a repetition"):
        parse(f'sum(m{{l=~"{regex}"}})')


@pytest.mark.parametrize("regex", ["5..", "a+", "(ab)+", "foo|bar.*", "api-.*"])
def test_ordinary_regex_matchers_are_accepted(regex: str) -> None:
    parse(f'm{{l=~"{regex}"}}')


def test_a_regex_dot_matches_a_newline_as_in_prometheus_3() -> None:
    """Prometheus 3 made `.` match every character (a label value may hold a newline)."""
    now = samples('build_info{version="1.2\\nrc"} 1\nbuild_info{version="2.0"} 1\n')
    assert parse('build_info{version=~"1.*"}').evaluate(now) == 1.0
    assert parse('build_info{version!~".*rc"}').evaluate(now) == 1.0


def test_a_value_too_large_for_a_sum_is_no_value() -> None:
    """A hostile endpoint's 1e308 summed over a period overflowed to inf, and the report
    could not be written (JSON has no inf): such a value is dropped like NaN."""
    now = samples("up 1e308\nsmall 1e29\nneg -1e31\n")
    assert parse("up").evaluate(now) is None
    assert parse("neg").evaluate(now) is None
    assert parse("small").evaluate(now) == 1e29
    assert parse("small * 1e6").evaluate(now) is None
