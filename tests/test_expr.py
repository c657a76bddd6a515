"""Templates, conditions and capture paths: parsed once, evaluated per user, never eval'd."""

from __future__ import annotations

import random

import pytest

from yamlload.plan.expr import (
    ExprError,
    compile_jmespath,
    jsonpath_to_jmespath,
    parse_condition,
    parse_template,
)


def lookup_from(values: dict[str, object]):
    return lambda name: values.get(name)


def test_literal_text_is_constant() -> None:
    template = parse_template("/health")
    assert template.is_constant
    assert template.render(lookup_from({})) == "/health"


def test_a_single_expression_keeps_its_type() -> None:
    template = parse_template("{{ count }}")
    assert template.render(lookup_from({"count": 7})) == 7
    mixed = parse_template("n={{ count }}")
    assert mixed.render(lookup_from({"count": 7})) == "n=7"


def test_paths_triple_braces_and_builtins() -> None:
    values = {"user": {"ids": [4, 5]}, "$loopElement": {"url": "/x"}, "$env": {"HOME": "/root"}}
    assert parse_template("{{{ user.ids[1] }}}").render(lookup_from(values)) == 5
    assert parse_template("{{ user.ids.0 }}").render(lookup_from(values)) == 4
    assert parse_template("go {{ $loopElement.url }}").render(lookup_from(values)) == "go /x"
    assert parse_template("{{ $env.HOME }}").render(lookup_from(values)) == "/root"


def test_undefined_variables_render_undefined_like_artillery() -> None:
    assert parse_template("/pets/{{ nope }}").render(lookup_from({})) == "/pets/undefined"


def test_random_number_stays_in_range_and_is_seeded() -> None:
    template = parse_template("{{ $randomNumber(1, 20) }}")
    values = [template.render(lookup_from({}), random.Random(3)) for _ in range(50)]
    assert all(1 <= v <= 20 for v in values)
    again = [template.render(lookup_from({}), random.Random(3)) for _ in range(50)]
    assert values == again


def test_random_string_uuid_and_timestamp() -> None:
    rng = random.Random(1)
    assert len(parse_template("{{ $randomString(12) }}").render(lookup_from({}), rng)) == 12
    assert len(parse_template("{{ $randomString() }}").render(lookup_from({}), rng)) == 10
    uuid = parse_template("{{ $uuid }}").render(lookup_from({}), rng)
    assert len(uuid) == 36 and uuid[14] == "4"
    assert parse_template("{{ $timestamp() }}").render(lookup_from({})) > 1_600_000_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/a/{{ foo", "'{{' is never closed"),
        ("{{ }}", "empty '{{ }}'"),
        ("{{ $nope() }}", "unknown built-in '$nope'"),
        ("{{ $randmNumber(1, 2) }}", "did you mean '$randomNumber'?"),
        ("{{ $randomNumber(1, 2, 3) }}", "$randomNumber() takes 0 to 2 arguments, got 3"),
        ("{{ a b }}", "unexpected 'b' in template"),
        ("{{ a # }}", "unexpected character '#'"),
    ],
)
def test_broken_templates_raise_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        parse_template(text)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("name === 'Hassy'", {"name": "Hassy"}, True),
        ("name == 'Hassy'", {"name": "Luna"}, False),
        ("name !== 'Hassy'", {"name": "Luna"}, True),
        ("notDefined", {}, False),
        ("endpoint2", {"endpoint2": "sum"}, True),
        ("count > 5 and count <= 10", {"count": 7}, True),
        ("count > 5 && count <= 10", {"count": 11}, False),
        ("a or b", {"a": 0, "b": ""}, False),
        ("not a", {"a": 0}, True),
        ("!a || b", {"a": 1, "b": 1}, True),
        ("code == 200", {"code": "200"}, True),
        ("code in (200, 201)", {"code": 201}, True),
        ("code not in (200, 201)", {"code": 404}, True),
        ("(a + b) * 2 == 10", {"a": 2, "b": 3}, True),
        ("a % 2 == 1", {"a": 3}, True),
        ("2 ^ 3 == 8", {}, True),
        ("-a < 0", {"a": 1}, True),
        ("max(a, b) == 4", {"a": 1, "b": 4}, True),
        ("http.codes.200 > 0", {"http": {"codes": {"200": 3}}}, True),
        ("a / 0 > 1", {"a": 1}, False),
    ],
)
def test_conditions(expression: str, values: dict[str, object], expected: bool) -> None:
    assert bool(parse_condition(expression).evaluate(lookup_from(values))) is expected


@pytest.mark.parametrize("expression", ["a ===", "(a", "a b", "nosuchfn(1)", "", "and", "a in"])
def test_broken_conditions_raise(expression: str) -> None:
    with pytest.raises(ExprError):
        parse_condition(expression)


def test_condition_names_are_listed() -> None:
    assert parse_condition("a > 1 and b.c == 'x'").names() == {"a", "b.c"}


@pytest.mark.parametrize(
    ("jsonpath", "jmespath"),
    [
        ("$", "@"),
        ("$.id", "id"),
        ("$.data.createUser.id", "data.createUser.id"),
        ("$.result.0.name", "result[0].name"),
        ("$.items[2]", "items[2]"),
        ("$.items[*].id", "items[*].id"),
        ("$['odd key'].x", '"odd key".x'),
        ("$[0]", "[0]"),
        ("id", "id"),
        ("$.user-id", '"user-id"'),
    ],
)
def test_jsonpath_becomes_jmespath(jsonpath: str, jmespath: str) -> None:
    assert jsonpath_to_jmespath(jsonpath) == jmespath


def test_translated_paths_find_the_values() -> None:
    body = {"result": [{"name": "Luna"}], "items": [{"id": 1}, {"id": 2}], "odd key": {"x": 9}}
    assert compile_jmespath(jsonpath_to_jmespath("$.result.0.name")).search(body) == "Luna"
    assert compile_jmespath(jsonpath_to_jmespath("$.items[*].id")).search(body) == [1, 2]
    assert compile_jmespath(jsonpath_to_jmespath("$['odd key'].x")).search(body) == 9
    assert compile_jmespath(jsonpath_to_jmespath("$")).search(body) == body


@pytest.mark.parametrize("jsonpath", ["$..id", "$.a[?(@.b)]", "$.a b"])
def test_unsupported_jsonpath_is_an_error(jsonpath: str) -> None:
    with pytest.raises(ExprError):
        jsonpath_to_jmespath(jsonpath)


def test_invalid_jmespath_is_an_error() -> None:
    with pytest.raises(ExprError) as caught:
        compile_jmespath("items[?")
    assert "invalid JMESPath" in caught.value.message
