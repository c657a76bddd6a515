from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ServerThread, make_test_app
from yamlload.plan.ir import HttpSettings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--transport",
        choices=("aiohttp", "fast"),
        default="aiohttp",
        help="the transport of plans that do not name one (runs in this process only; "
        "a plan the fast transport cannot run still runs on aiohttp, see choose.py)",
    )


@pytest.fixture(autouse=True)
def default_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`pytest --transport fast` runs the suite's plans on the fast transport (issue 15)."""
    chosen = str(request.config.getoption("--transport"))
    if chosen != HttpSettings.transport:
        # compile_http reads the class's default for a plan without config.http.transport.
        monkeypatch.setattr(HttpSettings, "transport", chosen)
    return chosen


@pytest.fixture
def write_plan(tmp_path: Path):
    """Write a plan file (and optional side files) into a temp folder; return its path."""

    def write(text: str, name: str = "plan.yml", **files: str) -> Path:
        for filename, content in files.items():
            (tmp_path / filename).write_text(content, encoding="utf-8")
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _serve_test_app() -> Iterator[ServerThread]:
    with ServerThread(make_test_app()) as running:
        yield running


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    """The test app (tests/servers.py) on 127.0.0.1, one per test module: the module's
    tests share it and its hit counts, as each module's own copy of this fixture did."""
    yield from _serve_test_app()


@pytest.fixture
def fresh_server() -> Iterator[ServerThread]:
    """The test app, started for this test alone: for tests that count every request the
    server saw (a module overrides `server` with it, see tests/test_outputs.py)."""
    yield from _serve_test_app()
