"""What `--out` and publish-metrics accept: a misspelled kind gets the close one named,
and a port may be a quoted number, as Artillery reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.test_live_outputs import write_plan
from yamlload import PlanOptions, load_plan
from yamlload.errors import PlanError
from yamlload.plan.compile.context import Context
from yamlload.plan.compile.publish import compile_live_outputs
from yamlload.plan.ir import LiveOutput
from yamlload.plan.layering import assemble


def reporters(tmp_path: Path, port: str) -> tuple[LiveOutput, ...]:
    """The plan's publish-metrics as compile/publish.py makes them, the schema aside."""
    extra = f"  plugins:\n    publish-metrics: [{{type: statsd, port: {port}}}]\n"
    path = str(write_plan(tmp_path, "http://127.0.0.1:9", extra))
    options = PlanOptions()
    cx = Context(assemble(path, options), path, options, set(), set())
    outputs = compile_live_outputs(cx)
    if cx.problems:
        raise PlanError(cx.problems)
    return outputs


@pytest.mark.parametrize("port", ['"8125"', "' 9125 '", "9125"])
def test_publish_metrics_reads_a_quoted_port(tmp_path: Path, port: str) -> None:
    (statsd,) = reporters(tmp_path, port)
    assert statsd.target == f"127.0.0.1:{port.strip(chr(34) + chr(39) + ' ')}"


@pytest.mark.parametrize(
    ("port", "says"),
    [("'81.5'", "not a port"), ("'8125x'", "not a port"), ("'70000'", "65,535"), ("'²'", "not")],
)
def test_publish_metrics_refuses_a_quoted_port_that_is_not_one(
    tmp_path: Path, port: str, says: str
) -> None:
    with pytest.raises(PlanError, match=says):
        reporters(tmp_path, port)


@pytest.mark.parametrize("port", ['"8125"', "' 9125 '"])
def test_a_port_may_be_a_quoted_number(tmp_path: Path, port: str) -> None:
    extra = f"  plugins:\n    publish-metrics: [{{type: statsd, port: {port}}}]\n"
    path = write_plan(tmp_path, "http://127.0.0.1:9", extra)
    plan = load_plan(str(path), PlanOptions())
    (statsd,) = plan.live_outputs
    assert statsd.target == f"127.0.0.1:{port.strip(chr(34) + chr(39) + ' ')}"


@pytest.mark.parametrize(
    ("port", "says"),
    [("'81.5'", "not a port"), ("'8125x'", "not a port"), ("'70000'", "65,535")],
)
def test_a_quoted_port_that_is_not_one_is_refused(tmp_path: Path, port: str, says: str) -> None:
    extra = f"  plugins:\n    publish-metrics: [{{type: statsd, port: {port}}}]\n"
    path = write_plan(tmp_path, "http://127.0.0.1:9", extra)
    result = run_cli("validate", str(path))
    assert result.exit_code == 2
    assert "publish-metrics[0].port" in result.stderr and says in result.stderr


def test_an_error_about_a_templated_value_shows_the_template_not_the_secret(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "p.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "  plugins:\n    publish-metrics:\n"
        "      - {type: statsd, prefix: 'pre{{ $env.SEC }}.'}\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n",
        encoding="utf-8",
    )
    result = run_cli("validate", str(plan), env={"SEC": "hunter2 pw"})
    assert result.exit_code == 2
    assert "a StatsD name cannot hold" in result.stderr
    assert "hunter2" not in result.stderr and "{{ $env.SEC }}" in result.stderr
