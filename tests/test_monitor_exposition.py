"""monitor/exposition.py: Prometheus text format 0.0.4 into samples, bounded, never raising."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.monitor import exposition
from yamlload.monitor.exposition import Sample, parse_exposition

NODE_TEXT = """\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# TYPE http_requests_total counter
http_requests_total{method="get",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3   1395066363000
# A plain comment, and a blank line next

pg_stat_activity_count{datname="app",state="active",} 7
rpc_duration_seconds{quantile="0.5"} NaN
rpc_duration_seconds_max +Inf
temperature_celsius -Inf
ratio 1e-3
job:requests:rate5m 4.5e+02
"""


def test_parses_samples_with_labels_values_and_timestamps() -> None:
    parsed = parse_exposition(NODE_TEXT)
    assert parsed.malformed == 0
    assert not parsed.truncated
    by = {(s.name, tuple(sorted(s.labels.items()))): s for s in parsed.samples}
    assert by[("process_cpu_seconds_total", ())].value == 12.5
    get = by[("http_requests_total", (("code", "200"), ("method", "get")))]
    assert get.value == 1027
    assert get.timestamp_ms == 1395066363000
    assert by[("http_requests_total", (("code", "400"), ("method", "post")))].value == 3
    assert by[("pg_stat_activity_count", (("datname", "app"), ("state", "active")))].value == 7
    assert math.isnan(by[("rpc_duration_seconds", (("quantile", "0.5"),))].value)
    assert by[("rpc_duration_seconds_max", ())].value == math.inf
    assert by[("temperature_celsius", ())].value == -math.inf
    assert by[("ratio", ())].value == 0.001
    assert by[("job:requests:rate5m", ())].value == 450.0
    assert len(parsed.samples) == 9


def test_escaped_label_values_are_unescaped() -> None:
    text = 'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9\n'
    (sample,) = parse_exposition(text).samples
    assert sample.labels == {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'}
    assert sample.value == 1.458255915e9


def test_label_values_may_hold_braces_commas_and_spaces() -> None:
    (sample,) = parse_exposition('m{a="x} y, z{",b=""} 2\n').samples
    assert sample.labels == {"a": "x} y, z{", "b": ""}


def test_bytes_are_decoded_and_crlf_and_tabs_are_tolerated() -> None:
    parsed = parse_exposition(b'a 1\r\nb{x="\xc3\xa9"}\t2\r\n')
    assert [(s.name, s.labels, s.value) for s in parsed.samples] == [
        ("a", {}, 1.0),
        ("b", {"x": "é"}, 2.0),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "no_value",
        "1bad_name 3",
        "m{a=1} 3",  # unquoted label value
        'm{a="1"',  # unclosed braces
        'm{a="1} 3',  # unclosed quote
        'm{a="1",a="2"} 3',  # a label twice
        'm{1a="1"} 3',  # bad label name
        'm{a="\\q"} 3',  # unknown escape
        "m 3 4 5",  # too many fields
        "m three",
        "m 1_000",
        "m 3 1.5",  # a timestamp is an integer
        'm{a="1"}b 3',
        "m{,} 3",
    ],
)
def test_a_malformed_line_is_skipped_and_counted(line: str) -> None:
    parsed = parse_exposition(f"good 1\n{line}\nalso_good 2\n")
    assert [s.name for s in parsed.samples] == ["good", "also_good"]
    assert parsed.malformed == 1
    assert parsed.lines == 3


def test_empty_braces_are_no_labels() -> None:
    (sample,) = parse_exposition("m{} 3\n").samples
    assert sample.labels == {}


def test_keep_filters_by_metric_name_before_parsing_labels() -> None:
    parsed = parse_exposition('a{x="1"} 1\nb 2\nc{broken 3\n', keep={"a", "b"})
    assert [s.name for s in parsed.samples] == ["a", "b"]
    assert parsed.malformed == 0  # c was never looked at past its name


def test_bytes_past_the_cap_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposition, "MAX_EXPOSITION_BYTES", 12)
    parsed = parse_exposition(b"a 1\nbb 2\nccc 3\ndddd 4\n")
    # "a 1\nbb 2\ncc" is read; the cut line is dropped, not counted as malformed
    assert [s.name for s in parsed.samples] == ["a", "bb"]
    assert parsed.truncated
    assert parsed.malformed == 0


def test_samples_past_the_cap_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposition, "MAX_SAMPLES", 2)
    parsed = parse_exposition("a 1\nb 2\nc 3\n")
    assert [s.name for s in parsed.samples] == ["a", "b"]
    assert parsed.truncated


def test_by_name_groups_samples() -> None:
    parsed = parse_exposition('a{x="1"} 1\nb 2\na{x="2"} 3\n')
    grouped = parsed.by_name()
    assert [s.value for s in grouped["a"]] == [1, 3]
    assert [s.value for s in grouped["b"]] == [2]


def test_a_sample_knows_its_series() -> None:
    one = Sample("m", {"b": "2", "a": "1"}, 1.0)
    other = Sample("m", {"a": "1", "b": "2"}, 5.0)
    assert one.series == other.series


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_never_raises_on_any_input(data: bytes | str) -> None:
    parsed = parse_exposition(data)
    assert parsed.malformed >= 0
    for sample in parsed.samples:
        assert isinstance(sample.value, float)


LABEL_VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), LABEL_VALUES),
    st.floats(allow_nan=False),
)
def test_any_escaped_label_value_round_trips(labels: dict[str, str], value: float) -> None:
    inside = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    parsed = parse_exposition(f"metric{{{inside}}} {value!r}\n")
    assert parsed.malformed == 0
    (sample,) = parsed.samples
    assert sample.labels == labels
    assert sample.value == value


def test_a_label_value_past_the_cap_makes_its_line_malformed() -> None:
    """A selector's regex runs on label values: one of megabytes from a hostile endpoint
    would make even a linear regex slow, so such a line is not a sample."""
    cap = exposition.MAX_LABEL_VALUE_CHARS
    parsed = parse_exposition(f'a{{x="{"y" * cap}"}} 1\nb{{x="{"y" * (cap + 1)}"}} 2\n')
    assert [s.name for s in parsed.samples] == ["a"]
    assert parsed.malformed == 1


def test_a_timestamp_too_long_for_an_int_is_a_malformed_line() -> None:
    """int() refuses more than 4,300 digits: one such line failed the whole scrape."""
    parsed = parse_exposition(f"a 1 {'9' * 5000}\nb 2\n")
    assert [s.name for s in parsed.samples] == ["b"]
    assert parsed.malformed == 1
