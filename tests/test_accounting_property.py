"""Every request is accounted for, whatever the plan and whenever the run is stopped.

    http.requests = http.responses + (request errors) + http.requests_interrupted

in the aggregate, in every 10-second period and for every endpoint; the periods add up
to the aggregate; every user that was created ended in exactly one way. Random small
plans (open and closed model; answers, redirects, 500s, slow answers, a dead port,
captures that fail) are run against a server on 127.0.0.1 and stopped at a random moment.

`assert_accounted` is the one statement of the invariant; test_truth.py uses it too.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.servers import ServerThread, free_port
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import summarize
from yamlload.runtime.engine import Engine, RunOptions, run_on_uvloop

# What goes on the wire and how it is counted: checked on both transports.
pytestmark = pytest.mark.both_transports

ENDPOINT = "plugins.metrics-by-endpoint."
# Failures of a user's flow after its response arrived: counted under `errors.*` in the
# aggregate, but they are not outcomes of a request, so no endpoint holds them.
FLOW_ERRORS = frozenset({"Failed capture or match", "EPROCESSOR"})


# --------------------------------------------------------------------------- the invariant


@dataclass
class EndpointCounts:
    requests: int = 0
    interrupted: int = 0
    failed: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def endpoint_counts(counters: Mapping[str, int]) -> dict[str, EndpointCounts]:
    """The per-endpoint counters of one scope, by label (labels may hold dots)."""
    found: dict[str, EndpointCounts] = {}
    for key, n in counters.items():
        if not key.startswith(ENDPOINT):
            continue
        rest = key[len(ENDPOINT) :]
        for suffix, attr in (
            (".requests_interrupted", "interrupted"),
            (".requests_failed", "failed"),
            (".requests", "requests"),
        ):
            if rest.endswith(suffix):
                label = rest[: -len(suffix)]
                entry = found.setdefault(label, EndpointCounts())
                setattr(entry, attr, getattr(entry, attr) + n)
                break
        else:
            for infix, attr in ((".codes.", "codes"), (".errors.", "errors")):
                label, sep, name = rest.rpartition(infix)
                if sep and label:
                    bucket = getattr(found.setdefault(label, EndpointCounts()), attr)
                    bucket[name] = bucket.get(name, 0) + n
                    break
    return found


def _with_prefix(counters: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in counters.items() if k.startswith(prefix)}


def assert_scope_accounted(
    counters: Mapping[str, int], where: str, flow_errors: Iterable[str] = FLOW_ERRORS
) -> None:
    """The invariant in one scope: the aggregate's counters or one period's."""
    c = lambda name: counters.get(name, 0)  # noqa: E731
    endpoints = endpoint_counts(counters)
    endpoint_errors: Counter[str] = Counter()
    for entry in endpoints.values():
        endpoint_errors.update(entry.errors)
    request_errors = sum(endpoint_errors.values())
    requests, responses = c("http.requests"), c("http.responses")
    interrupted = c("http.requests_interrupted")
    assert requests == responses + request_errors + interrupted, (
        f"{where}: http.requests {requests} != http.responses {responses} + request errors "
        f"{request_errors} + http.requests_interrupted {interrupted} ({dict(counters)})"
    )
    codes = _with_prefix(counters, "http.codes.")
    assert sum(codes.values()) == responses, f"{where}: codes {codes} vs responses {responses}"

    # The endpoints add up to the whole.
    assert sum(e.requests for e in endpoints.values()) == requests, (
        f"{where}: the endpoints' requests {[(k, e.requests) for k, e in endpoints.items()]} "
        f"do not add up to http.requests {requests}"
    )
    assert sum(e.interrupted for e in endpoints.values()) == interrupted, where
    assert sum(e.failed for e in endpoints.values()) == c("http.requests_failed"), (
        f"{where}: endpoints' requests_failed vs http.requests_failed {c('http.requests_failed')}"
    )
    endpoint_codes: Counter[str] = Counter()
    for entry in endpoints.values():
        endpoint_codes.update(entry.codes)
    assert dict(endpoint_codes) == codes, f"{where}: endpoint codes {endpoint_codes} vs {codes}"

    # Each endpoint on its own.
    for label, e in endpoints.items():
        answered, errored = sum(e.codes.values()), sum(e.errors.values())
        assert e.requests == answered + errored + e.interrupted, (
            f"{where}, endpoint {label!r}: requests {e.requests} != codes {e.codes} + errors "
            f"{e.errors} + interrupted {e.interrupted}"
        )
        assert errored <= e.failed <= e.requests, (
            f"{where}, endpoint {label!r}: requests_failed {e.failed} must count the "
            f"{errored} request errors and be at most requests {e.requests}"
        )

    # Request errors in the aggregate are exactly the endpoints'; the rest are flow errors.
    errors = _with_prefix(counters, "errors.")
    for name, n in endpoint_errors.items():
        assert errors.get(name, 0) == n, (
            f"{where}: errors.{name} is {errors.get(name, 0)}, the endpoints hold {n}"
        )
    others = {name for name in errors if name not in endpoint_errors}
    assert others <= set(flow_errors), (
        f"{where}: errors {sorted(others)} are neither an endpoint's request errors nor flow "
        f"failures {sorted(flow_errors)}"
    )


def assert_accounted(report: Mapping[str, Any], flow_errors: Iterable[str] = FLOW_ERRORS) -> None:
    """The invariant over a whole JSON report (Summary.to_json()): the aggregate, every
    period, every endpoint, the periods' sum, the endpoints list and the users."""
    aggregate = report["aggregate"]["counters"]
    assert_scope_accounted(aggregate, "aggregate", flow_errors)
    total: Counter[str] = Counter()
    for i, period in enumerate(report["intermediate"]):
        assert_scope_accounted(period["counters"], f"period {i} ({period['period']})", flow_errors)
        total.update(period["counters"])
    assert {k: v for k, v in total.items() if v} == {k: v for k, v in aggregate.items() if v}, (
        "the periods' counters do not add up to the aggregate's"
    )
    by_label = endpoint_counts(aggregate)
    listed = {e["name"]: e for e in report["endpoints"]}
    assert set(listed) == set(by_label), (sorted(listed), sorted(by_label))
    for name, entry in listed.items():
        counts = by_label[name]
        assert entry["requests"] == counts.requests, (name, entry, counts)
        assert entry["codes"] == counts.codes, (name, entry, counts)
        assert entry["errors"] == counts.errors, (name, entry, counts)
    c = lambda name: aggregate.get(name, 0)  # noqa: E731
    vusers = {k: v for k, v in aggregate.items() if k.startswith("vusers.")}
    assert c("vusers.created") == (
        c("vusers.completed") + c("vusers.failed") + c("vusers.interrupted")
    ), f"users unaccounted for: {vusers}"


# --------------------------------------------------------------------------- random runs


@pytest.fixture(scope="module")
def dead_url() -> str:
    """An absolute URL where nothing listens: ECONNREFUSED."""
    return f"http://127.0.0.1:{free_port()}/dead"


DEAD = "DEAD"  # replaced by the dead URL when the plan is written

STEPS = st.one_of(
    st.just({"get": {"url": "/ok"}}),
    st.booleans().map(lambda follow: {"get": {"url": "/redirect", "followRedirect": follow}}),
    st.just({"get": {"url": "/status/500"}}),
    st.sampled_from([0, 50, 300, 600]).map(lambda ms: {"get": {"url": f"/sleep/{ms}"}}),
    st.just({"get": {"url": DEAD, "name": "dead port"}}),
    st.just(
        {"get": {"url": "/ok", "name": "bad capture", "capture": {"json": "$.nope", "as": "x"}}}
    ),
)

OPEN_PHASES = st.one_of(
    st.builds(
        lambda d, n: {"duration": d, "arrivalCount": n},
        st.sampled_from([0.2, 0.5, 1.0]),
        st.integers(1, 4),
    ),
    st.builds(
        lambda d, r: {"duration": d, "arrivalRate": r},
        st.sampled_from([0.5, 1.0]),
        st.integers(1, 4),
    ),
)
CLOSED_PHASES = st.builds(
    lambda d, u, spawn: {"duration": d, "users": u, **({"spawnRate": spawn} if spawn else {})},
    st.sampled_from([0.3, 0.6, 1.0]),
    st.integers(1, 3),
    st.sampled_from([None, 5, 20]),
)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    closed = draw(st.booleans())
    phase = draw(CLOSED_PHASES if closed else OPEN_PHASES)
    flow = draw(st.lists(STEPS, min_size=1, max_size=3))
    if closed:
        flow = [*flow, {"think": 0.05}]  # a closed user loops: keep its pace human
    return {
        "config": {"phases": [phase], "http": {"timeout": 2}},
        "scenarios": [{"name": "random", "flow": flow}],
    }


def run_stopped(
    plan_doc: dict[str, Any], target: str, dead_url: str, seed: int, stop_after: float
) -> dict[str, Any]:
    """Run the plan on one event loop, SIGINT-stopped after `stop_after` seconds (unless
    it ended first); the JSON report."""
    text = json.dumps(plan_doc).replace(json.dumps(DEAD), json.dumps(dead_url))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.json"
        path.write_text(text, encoding="utf-8")
        plan = load_plan(str(path), PlanOptions(target=target))

    async def main() -> Any:
        engine = Engine(plan, RunOptions(seed=seed, grace_seconds=0.2))
        stop = asyncio.get_running_loop().call_later(stop_after, engine.stop, "SIGINT")
        try:
            return await engine.run()
        finally:
            stop.cancel()

    result = run_on_uvloop(main())
    return summarize(plan, result, "property").to_json()


SLOW_SLEEP = {"get": {"url": "/sleep/600"}}


@settings(
    max_examples=8,
    deadline=None,
    # Each example is a real run of up to ~3 s: generate and report, do not shrink.
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(plan_doc=plans(), seed=st.integers(0, 2**31), stop_after=st.floats(0.0, 2.0))
# Closed users mid-request when the stop comes: their requests are cut after the grace.
@example(
    plan_doc={
        "config": {"phases": [{"duration": 1.0, "users": 3}], "http": {"timeout": 2}},
        "scenarios": [{"name": "random", "flow": [SLOW_SLEEP, {"think": 0.05}]}],
    },
    seed=1,
    stop_after=0.8,
)
# Open-model users in every kind of outcome, stopped while some are in flight.
@example(
    plan_doc={
        "config": {"phases": [{"duration": 0.5, "arrivalCount": 4}], "http": {"timeout": 2}},
        "scenarios": [
            {
                "name": "random",
                "flow": [
                    {"get": {"url": "/redirect", "followRedirect": True}},
                    {"get": {"url": "/status/500"}},
                    {"get": {"url": DEAD, "name": "dead port"}},
                ],
            },
            {"name": "slow", "flow": [SLOW_SLEEP, {"get": {"url": "/ok"}}]},
        ],
    },
    seed=2,
    stop_after=0.6,
)
def test_every_request_is_accounted_for_whenever_the_run_stops(
    server: ServerThread, dead_url: str, plan_doc: dict[str, Any], seed: int, stop_after: float
) -> None:
    report = run_stopped(plan_doc, server.url, dead_url, seed, stop_after)
    assert_accounted(report)
    # A stop is a stop, not a failure: no user is counted twice, none is lost, and
    # requests_failed only counts what failed (500s, request errors; cut ones at most).
    aggregate = report["aggregate"]["counters"]
    failed_at_least = aggregate.get("http.codes.500", 0) + sum(
        n for k, n in aggregate.items() if k.startswith("errors.") and k[7:] not in FLOW_ERRORS
    )
    failed = aggregate.get("http.requests_failed", 0)
    assert (
        failed_at_least <= failed <= failed_at_least + aggregate.get("http.requests_interrupted", 0)
    ), (failed, failed_at_least)
