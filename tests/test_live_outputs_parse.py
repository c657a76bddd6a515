"""What `--out` and publish-metrics accept: a misspelled kind gets the close one named,
and a port may be a quoted number, as Artillery reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread
from tests.test_live_outputs import run, write_plan
from yamlload import PlanOptions, load_plan
from yamlload.errors import PlanError
from yamlload.plan.compile.context import Context
from yamlload.plan.compile.publish import compile_live_outputs
from yamlload.plan.ir import LiveOutput
from yamlload.plan.layering import assemble


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("statds=127.0.0.1:8125", "unknown kind 'statds'; did you mean 'statsd'?"),
        ("prometheus=http://127.0.0.1:9091", "did you mean 'prometheus-push'?"),
        ("json=live.jsonl", "did you mean 'jsonl'?"),
        ("nope=x", "expected KIND=TARGET with KIND one of statsd, prometheus-push, jsonl"),
    ],
)
def test_an_unknown_kind_is_exit_2_with_the_close_one_named(
    tmp_path: Path, fresh_server: ServerThread, spec: str, said: str
) -> None:
    plan = write_plan(tmp_path, fresh_server.url)
    result, _ = run(tmp_path, plan, "--out", spec, "-q")
    assert result.exit_code == 2, result.output + result.stderr
    assert said in result.stderr
    assert "did you mean" not in result.stderr or spec != "nope=x"
    assert fresh_server.hits() == {}



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
