"""More of the plan vocabulary, run for real: pools, extended metrics, logs, regexp and
header captures, legacy match, CSV options, scenario hooks, poisson arrivals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.servers import ServerThread
from tests.test_engine import ONE_USER, run
from yamlload import PlanOptions, load_plan
from yamlload.runtime.engine import Engine, RunOptions

# What goes on the wire and how it is counted: checked on both transports.
pytestmark = pytest.mark.both_transports


class CollectLogs:
    """An observer that keeps the run's log lines."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def tick(self, progress: Any) -> None: ...

    def period_done(self, period: Any, width: float) -> None: ...

    def log(self, message: str) -> None:
        self.lines.append(message)


def test_shared_pool_and_extended_metrics(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 10}]\n  http: {pool: 2, extendedMetrics: true}\n"
        "scenarios:\n  - flow: [{get: {url: /sleep/20}}, {get: {url: /ok}}]\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("http.codes.200") == 20
    assert summary.histogram("http.ttfb").count == 20
    # ten users shared two connections: at most two were ever opened
    assert 1 <= summary.histogram("http.tcp").count <= 2


def test_own_connection_per_user_by_default(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 5}]\n  http: {extendedMetrics: true}\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}, {get: {url: /ok}}]\n"
    )
    summary = run(plan, server.url)
    assert summary.histogram("http.tcp").count == 5  # one per user, reused for its 2nd request


def test_log_steps_reach_the_observer(server: ServerThread, write_plan) -> None:
    lines: list[str] = []

    path = write_plan(
        ONE_USER
        + "  variables: {who: ann}\nscenarios:\n  - flow: [{log: 'hello {{ who }} in {{ $environment }}'}]\n"
    )
    plan = load_plan(str(path), PlanOptions(target=server.url, environment="dev"))
    import uvloop

    uvloop.run(Engine(plan, RunOptions(seed=1), CollectLogs(lines)).run())
    assert lines == ["hello ann in dev"]


def test_regexp_and_header_captures_and_legacy_match(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        ONE_USER + "scenarios:\n  - flow:\n"
        "      - get:\n          url: /ok\n"
        "          capture:\n"
        '            - {regexp: \'"path": ?"(?P<p>[^"]+)"\', group: p, as: path}\n'
        "            - {regexp: 'o(k)', group: 1, as: letter}\n"
        "            - {header: content-type, as: type}\n"
        "          match: {json: $.ok, value: 'true'}\n"
        "      - get:\n          url: '/echo?p={{ path }}&l={{ letter }}'\n"
        "          expect:\n            - jmespath: \"query.p == '/ok' && query.l == 'k'\"\n"
        "            - equals: ['{{ type }}', 'application/json; charset=utf-8']\n"
        "      - get:\n          url: /ok\n          match: {json: $.path, value: /elsewhere}\n"
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.ok") == 2
    assert summary.counter("errors.Failed capture or match") == 1
    assert summary.counter("vusers.failed") == 1


def test_csv_delimiter_cast_and_header_row_fields(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 2}]\n"
        "  payload:\n    - path: pets.txt\n      fields: [species, name, age]\n      options: {delimiter: ' '}\n"
        "      order: sequence\n    - path: ids.csv\n      order: sequence\n"
        "scenarios:\n  - flow:\n      - post:\n          url: /echo\n          json: {age: '{{ age }}', id: '{{ id }}', name: '{{ name }}'}\n"
        "          capture: {json: $.body, as: body}\n"
        '          expect:\n            - jmespath: "contains(body, \'\\"age\\": 3\') || contains(body, \'\\"age\\": 7\')"\n',
        **{"pets.txt": "dog rex 3\ncat tom 7\n", "ids.csv": "id,ignored\n11,x\n12,y\n"},
    )
    summary = run(plan, server.url)
    assert summary.counter("plugins.expect.ok") == 2  # ages were cast to numbers


def test_after_scenario_hook_runs(server: ServerThread, write_plan) -> None:
    hooks = (
        "def done(context):\n    context.vars['finished'] = True\n    raise RuntimeError('after')\n"
    )
    plan = write_plan(
        ONE_USER
        + "  processor: hooks.py\nscenarios:\n  - afterScenario: done\n    flow: [{get: {url: /ok}}]\n",
        **{"hooks.py": hooks},
    )
    summary = run(plan, server.url)
    assert summary.counter("errors.EPROCESSOR") == 1
    assert summary.counter("vusers.failed") == 1


def test_poisson_arrivals_run(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 2, arrivalRate: 20, mode: poisson}]\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )
    summary = run(plan, server.url)
    created = summary.counter("vusers.created")
    assert 15 <= created <= 70  # mean 40; the seed fixes the exact number
    assert summary.counter("http.codes.200") == created


def test_pause_phases_take_their_time(server: ServerThread, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 1}, {pause: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )
    summary = run(plan, server.url)
    assert summary.duration >= 2.0
    assert [p.name for p in summary.phases] == ["phase 1", "phase 2"]


def test_constant_requests_are_built_once_and_templated_ones_every_time(
    server: ServerThread, write_plan
) -> None:
    """The hot-path cache: a request with nothing to render reuses its arguments, and
    sends the same body every time; a templated one is rendered per user."""
    lines: list[str] = []

    path = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 3}]\n  variables: {who: [ann, bob, cy]}\n"
        "scenarios:\n  - flow:\n"
        "      - loop:\n"
        "          - post: {url: /echo, json: {fixed: 1}, capture: {json: '$.body', as: fixed}}\n"
        "          - log: 'fixed {{ fixed }}'\n"
        "        count: 2\n"
        "      - post: {url: /echo, json: {who: '{{ who }}'}, capture: {json: '$.body', as: mine}}\n"
        "      - log: 'mine {{ mine }}'\n"
    )
    plan = load_plan(str(path), PlanOptions(target=server.url))
    import uvloop

    engine = Engine(plan, RunOptions(seed=5), CollectLogs(lines))
    uvloop.run(engine.run())
    assert sorted(line for line in lines if line.startswith("fixed")) == ['fixed {"fixed": 1}'] * 6
    mine = sorted(line for line in lines if line.startswith("mine"))
    assert len(mine) == 3 and all(line.startswith('mine {"who": "') for line in mine)
    assert len(set(mine)) > 1  # rendered per user, not frozen from the first
    cached = [spec for spec in engine.http._constant_specs.values() if spec is not None]
    assert len(cached) == 1 and cached[0]["json"] == {"fixed": 1}
