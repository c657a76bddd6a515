"""Payload CSVs are parsed when the plan is compiled: `validate` catches what `run` would
(a bad CSV is a positioned plan error, exit 2), and the plan carries the parsed rows so
the run does not read the file again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli
from yamlload import PlanError, load_plan

PLAN = """\
config:
  target: http://127.0.0.1:1
  payload:
    path: users.csv
    fields: [name, id]
    skipHeader: true
scenarios:
  - flow: [{get: {url: /a}}]
"""
# Past csv's field limit (131,072 characters): the one thing csv.reader refuses.
HUGE_FIELD = '"' + "x" * 200_000 + '"'


def bad_csv(tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(f"name,id\nann,1\nbob,{HUGE_FIELD}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_malformed_csv_is_a_positioned_plan_error(
    write_plan, tmp_path: Path, command: str
) -> None:
    csv_path = bad_csv(tmp_path)
    plan = write_plan(PLAN)
    result = run_cli(command, str(plan))
    assert result.exit_code == 2, result.stdout + result.stderr
    # where the plan names the file, then where in the file
    expected = f"{plan}:4:11: config.payload.path: {csv_path.resolve()}:3: not valid CSV"
    assert expected in result.stderr, result.stderr


def test_a_csv_that_is_not_utf8_is_a_plan_error(write_plan, tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_bytes("name,id\ncafé,1\n".encode("latin-1"))
    plan = write_plan(PLAN)
    with pytest.raises(PlanError) as caught:
        load_plan(str(plan))
    (problem,) = caught.value.problems
    assert "config.payload.path" in problem.message
    assert "not UTF-8 text (byte 0xe9" in problem.message


def test_the_plan_carries_the_parsed_rows(write_plan, tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("name,id\nann,1\nbob,2.5\n", encoding="utf-8")
    plan = load_plan(str(write_plan(PLAN)))
    (payload,) = plan.payloads
    assert payload.rows is not None
    assert list(payload.rows) == [{"name": "ann", "id": 1}, {"name": "bob", "id": 2.5}]
    # the rows do not make two plans of the same file differ, nor fill a repr
    assert "ann" not in repr(payload)


def test_load_all_rows_for_the_run_are_one_list(write_plan, tmp_path: Path) -> None:
    from yamlload.plan.payload import payload_rows

    (tmp_path / "users.csv").write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    text = PLAN.replace("    fields: [name, id]\n    skipHeader: true\n", "")
    text = text.replace("    path: users.csv\n", "    path: users.csv\n    loadAll: true\n")
    text = text.replace("    path: users.csv\n", "    path: users.csv\n    name: all\n")
    (payload,) = load_plan(str(write_plan(text))).payloads
    rows = payload_rows(payload)
    assert isinstance(rows, list)
    assert rows == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]


@pytest.mark.parametrize("options", [{}, {"fields": ("x", "y"), "skip_header": True}])
def test_the_compiled_rows_are_the_runs_rows(tmp_path: Path, options: dict[str, object]) -> None:
    """plan.payload parses as the runtime's reader did before rows were compiled into the
    plan (test_inputs.reference_rows: the csv module, read whole), on tricky inputs."""
    from tests.test_inputs import TRICKY, reference_rows
    from yamlload.plan.ir import Payload
    from yamlload.plan.payload import read_payload

    path = tmp_path / "p.csv"
    for text in TRICKY:
        path.write_bytes(text.encode("utf-8"))
        payload = Payload(str(path), **{"fields": (), **options})
        assert list(read_payload(payload)) == reference_rows(payload), text
