"""The fast transport's prepared-request cache: a constant request's bytes are built
once for the run; a templated request's Specs (one per send) are never kept."""

from __future__ import annotations

from pathlib import Path

from yamlload import PlanOptions, load_plan
from yamlload.runtime.http.fast_transport import PREPARED_CACHE_SIZE, FastTransport
from yamlload.runtime.options import RunOptions

PLAN = """config:
  target: http://127.0.0.1:9
  phases: [{duration: 1, arrivalCount: 1}]
scenarios:
  - flow: [{get: {url: /}}]
"""


def transport(tmp_path: Path) -> FastTransport:
    path = tmp_path / "plan.yml"
    path.write_text(PLAN, encoding="utf-8")
    return FastTransport(load_plan(str(path), PlanOptions()), RunOptions(), lambda _n, _v: None)


def spec(path: str) -> dict[str, object]:
    return {"method": "GET", "url": f"http://127.0.0.1:9{path}", "headers": {}}


def test_a_spec_that_comes_back_is_prepared_once_more_then_kept(tmp_path: Path) -> None:
    fast, constant = transport(tmp_path), spec("/same")
    first, second, third, fourth = (fast.prepared(constant) for _ in range(4))
    assert first is not second  # built at first and second sight
    assert third is second and fourth is second  # then kept
    assert first.data == second.data and b"GET /same HTTP/1.1\r\n" in first.data


def test_specs_made_per_send_are_never_kept(tmp_path: Path) -> None:
    fast = transport(tmp_path)
    made = [spec(f"/item/{n}") for n in range(3 * PREPARED_CACHE_SIZE)]
    for each in made:  # held alive, so no id is reused
        assert b"/item/" in fast.prepared(each).data
    assert fast._prepared == {}
    assert len(fast._seen_once) <= PREPARED_CACHE_SIZE
