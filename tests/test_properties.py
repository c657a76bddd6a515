"""Property tests: whatever a plan file holds, the loader answers with a positioned
yamlload error or a plan, never with any other exception."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from yamlload import PlanError, UsageError, load_plan
from yamlload.plan.source import parse_document

VALID: dict[str, Any] = {
    "config": {
        "target": "http://127.0.0.1:8000",
        "phases": [
            {"duration": 10, "arrivalRate": 2, "rampTo": 5, "name": "ramp"},
            {"pause": "5s"},
            {"duration": "1m", "arrivalCount": 30, "maxVusers": 10},
            {"duration": 30, "users": 5, "spawnRate": 1},
        ],
        "variables": {"ids": [1, 2, 3], "region": "eu"},
        "defaults": {"headers": {"x-test": "{{ region }}"}},
        "http": {"timeout": 5},
        "ensure": {"p95": 200, "thresholds": [{"http.response_time.p99": 300}]},
        "plugins": {"expect": {}},
    },
    "before": {
        "flow": [{"post": {"url": "/login", "capture": {"json": "$.token", "as": "token"}}}]
    },
    "scenarios": [
        {
            "name": "browse",
            "weight": 3,
            "flow": [
                {
                    "get": {
                        "url": "/items/{{ $randomNumber(1, 9) }}",
                        "expect": [{"statusCode": 200}],
                    }
                },
                {"think": {"min": 1, "max": 2}},
                {"loop": [{"get": {"url": "/a/{{ $loopElement }}"}}], "over": "ids"},
                {
                    "post": {
                        "url": "/b",
                        "json": {"n": "{{ $randomString(5) }}"},
                        "ifTrue": "region == 'eu'",
                    }
                },
                {"log": "done {{ token }}"},
            ],
        },
        {"flow": [{"parallel": [{"get": {"url": "/c"}}, {"get": {"url": "/d"}}]}]},
    ],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["{{ x", "{{ $nope() }}", "{{ }}", "5m", "-1", "$..x", "a ===", "1e400", "%"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def all_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(all_paths(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(all_paths(value, (*path, index)))
    return found


def mutate(plan: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    plan = copy.deepcopy(plan)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in all_paths(plan) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent: Any = plan
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["drop", "replace", "add", "nest"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = data.draw(values)
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=12))] = data.draw(values)
        elif action == "nest":
            depth = data.draw(st.integers(min_value=1, max_value=150))
            nested: Any = data.draw(scalars)
            for _ in range(depth):
                nested = [nested]
            parent[path[-1]] = nested
    return plan


def to_text(plan: Any, as_json: bool) -> bytes:
    if as_json:
        return json.dumps(plan).encode()
    import io

    out = io.StringIO()
    YAML().dump(plan, out)
    return out.getvalue().encode()


def check(raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"plan{suffix}"
        path.write_bytes(raw)
        try:
            load_plan(str(path))
        except PlanError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.pos.file == str(path) or problem.pos.file.startswith("--"), problem
                assert problem.pos.line >= 1, problem
                assert problem.message
        except UsageError:
            pass


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_base_plan_is_valid() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.json"
        path.write_text(json.dumps(VALID))
        plan = load_plan(str(path))
        assert [s.name for s in plan.scenarios] == [
            "browse",
            "1",
        ]  # unnamed: its index, as Artillery


@SETTINGS
@given(data=st.data(), as_json=st.booleans())
def test_mutated_plans_give_positioned_errors(data: st.DataObject, as_json: bool) -> None:
    plan = mutate(VALID, data)
    check(to_text(plan, as_json), ".json" if as_json else ".yml")


@SETTINGS
@given(data=st.data())
def test_corrupted_bytes_give_positioned_errors(data: st.DataObject) -> None:
    raw = bytearray(to_text(VALID, data.draw(st.booleans())))
    for _ in range(data.draw(st.integers(min_value=1, max_value=5))):
        where = data.draw(st.integers(min_value=0, max_value=len(raw)))
        how = data.draw(st.sampled_from(["insert", "delete", "truncate"]))
        if how == "insert":
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=4))
        elif how == "delete" and where < len(raw):
            del raw[where]
        else:
            del raw[where:]
    check(bytes(raw), ".yml")


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text_never_escapes_as_another_exception(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"), ".yml")


def test_alias_bombs_are_stopped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    try:
        parse_document("\n".join(lines).encode(), "bomb.yml")
    except PlanError as exc:
        assert "more than" in exc.problems[0].message
    else:
        raise AssertionError("a billion-laughs document must be refused")


def test_deep_nesting_is_refused_with_a_position() -> None:
    raw = ("scenarios: " + "[" * 500 + "]" * 500 + "\n").encode()
    try:
        parse_document(raw, "deep.yml")
    except PlanError as exc:
        assert exc.problems[0].pos.line >= 1
        assert "nesting" in exc.problems[0].message
    else:
        raise AssertionError("deep nesting must be refused")
