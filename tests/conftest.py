from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ServerThread, make_test_app
from yamlload.plan.ir import TRANSPORT_VARIABLE, TRANSPORTS, HttpSettings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--transport",
        choices=TRANSPORTS,
        default=HttpSettings.transport,
        help="the transport of the tests' plans that do not name one; tests marked "
        "both_transports run on both whatever this says",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked both_transports (tests of what goes on the wire and how it is
    counted) runs once per transport: its in-process plans run on each in turn."""
    if metafunc.definition.get_closest_marker("both_transports") is not None:
        metafunc.parametrize("default_transport", TRANSPORTS, indirect=True)


@pytest.fixture(autouse=True)
def default_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The transport of the test's plans that do not name one: `pytest --transport
    aiohttp` runs them on aiohttp; both_transports tests get each in turn (issue 15)."""
    chosen = str(getattr(request, "param", request.config.getoption("--transport")))
    # The CLI (in this process or a child) reads YAMLLOAD_TRANSPORT; a plan compiled
    # here with PlanOptions() sees no environment and reads the class's default.
    monkeypatch.setenv(TRANSPORT_VARIABLE, chosen)
    if chosen != HttpSettings.transport:
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
