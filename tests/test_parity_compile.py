"""Artillery 2 parity in the front end: templates, arrival counts, names, plugins and the
IR fields the engine reads. Each expectation was checked against Artillery 2.0.21."""

from __future__ import annotations

import pytest

from yamlload import PlanError, load_plan
from yamlload._expr import parse_template
from yamlload._plan import Plan

HEAD = "config:\n  target: http://127.0.0.1:1\n"
ONE_FLOW = "scenarios:\n  - flow: [{get: {url: /a}}]\n"


def plan_of(write_plan, config: str = "", scenarios: str = ONE_FLOW) -> Plan:
    return load_plan(str(write_plan(HEAD + config + scenarios)))


def problems_of(write_plan, config: str = "", scenarios: str = ONE_FLOW) -> list[str]:
    with pytest.raises(PlanError) as caught:
        plan_of(write_plan, config, scenarios)
    return [str(p) for p in caught.value.problems]


def lookup_from(values: dict[str, object]):
    return lambda name: values.get(name)


# --------------------------------------------------------------------------- 1. undefined


def test_an_undefined_variable_inside_a_string_renders_undefined() -> None:
    # Artillery's renderVariables: String.replace(template, undefined) writes "undefined".
    assert parse_template("/items/{{ x }}").render(lookup_from({})) == "/items/undefined"
    assert parse_template("/u/{{ user.id }}").render(lookup_from({"user": {}})) == "/u/undefined"
    assert parse_template("{{ a }}-{{ b }}").render(lookup_from({"a": 1})) == "1-undefined"


def test_a_whole_value_template_of_an_undefined_variable_is_no_value() -> None:
    # Artillery's template() returns undefined for exactly "{{ x }}": no value, not text.
    assert parse_template("{{ x }}").render(lookup_from({})) is None
    assert parse_template("{{ x }}").render(lookup_from({"x": 0})) == 0


def test_a_config_template_with_an_undefined_variable_is_still_an_error(write_plan) -> None:
    # Compile-time templates (target, phases) must not quietly become "http://undefined".
    path = write_plan(
        "config:\n  target: 'http://{{ host }}:8000'\n" + ONE_FLOW,
    )
    with pytest.raises(PlanError) as caught:
        load_plan(str(path))
    (problem,) = caught.value.problems
    assert "config.target" in problem.message
    assert "host" in problem.message
