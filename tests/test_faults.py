"""Fault injection: the engine against a hostile target (tests/faults.py). Every case
gives exact counters, the run goes on, and nothing escapes as an exception."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.faults import BIG_BYTES, SLOW_BODY, SLOW_BYTE_SECONDS, FaultServer
from tests.helpers import REPO, run_cli
from tests.servers import ServerThread, make_test_app
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import Summary, summarize
from yamlload.runtime.engine import BODY_TOO_LARGE, FAILED_CAPTURE, RunOptions, run_plan

# What goes on the wire and how it is counted: checked on both transports.
pytestmark = pytest.mark.both_transports

ONE_USER = "config:\n  phases: [{duration: 1, arrivalCount: 1}]\n  http: {timeout: 0.5}\n"


@pytest.fixture(scope="module")
def hostile() -> Any:
    with FaultServer() as server:
        yield server


def run(path: Path, target: str) -> Summary:
    plan = load_plan(str(path), PlanOptions(target=target))
    return summarize(plan, run_plan(plan, RunOptions(seed=3)), "test")


def counters(summary: Summary) -> dict[str, int]:
    """The counters a fault decides (not the per-scenario or per-endpoint copies)."""
    return {
        name: value
        for name, value in summary.to_json()["aggregate"]["counters"].items()
        if name.startswith(("errors.", "http.", "vusers.")) and "created_by_name" not in name
    }


def one_request(path: str, extra: str = "") -> str:
    return ONE_USER + f"scenarios:\n  - flow: [{{get: {{url: '{path}'{extra}}}}}]\n"


FAILED_REQUEST = {
    "http.requests": 1,
    "http.requests_failed": 1,
    "vusers.created": 1,
    "vusers.failed": 1,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/reset", {**FAILED_REQUEST, "errors.EPROTO": 1}),  # reset after 100 of 1000 bytes
        ("/stall", {**FAILED_REQUEST, "errors.ETIMEDOUT": 1}),
        ("/cut-json", {**FAILED_REQUEST, "errors.EPROTO": 1}),  # 9 of 100 bytes, then FIN
        ("/garbage", {**FAILED_REQUEST, "errors.EPROTO": 1}),  # not HTTP at all
    ],
)
def test_a_broken_response_is_one_error_and_one_failed_user(
    hostile: FaultServer, write_plan, path: str, expected: dict[str, int]
) -> None:
    assert counters(run(write_plan(one_request(path)), hostile.url)) == expected


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_a_100_mib_body_is_counted_in_full(hostile: FaultServer, write_plan, path: str) -> None:
    plan = write_plan(one_request(path).replace("timeout: 0.5", "timeout: 60"))
    assert counters(run(plan, hostile.url)) == {
        "http.codes.200": 1,
        "http.downloaded_bytes": BIG_BYTES,
        "http.requests": 1,
        "http.responses": 1,
        "vusers.completed": 1,
        "vusers.created": 1,
    }


def test_a_body_over_max_body_bytes_fails_its_capture_clearly(
    hostile: FaultServer, write_plan
) -> None:
    plan = write_plan(
        one_request("/big", ", capture: {regexp: 'y+', as: ys}").replace(
            "timeout: 0.5", "timeout: 60"
        )
    )
    summary = run(plan, hostile.url)
    assert counters(summary) == {
        f"errors.{BODY_TOO_LARGE}": 1,
        "http.codes.200": 1,
        "http.downloaded_bytes": BIG_BYTES,  # still read and counted to the end
        "http.requests": 1,
        "http.responses": 1,
        "vusers.created": 1,
        "vusers.failed": 1,
    }


@pytest.mark.parametrize(("limit", "captured"), [(8, True), (7, False)])
def test_max_body_bytes_is_exact(
    hostile: FaultServer, write_plan, limit: int, captured: bool
) -> None:
    # /ok's body is exactly 8 bytes: {"id":1}
    plan = write_plan(
        one_request("/ok", ", capture: {json: '$.id', as: id}").replace(
            "timeout: 0.5", f"timeout: 0.5, maxBodyBytes: {limit}"
        )
    )
    summary = run(plan, hostile.url)
    assert summary.counter("vusers.completed") == (1 if captured else 0)
    assert summary.counter(f"errors.{BODY_TOO_LARGE}") == (0 if captured else 1)


def test_malformed_json_fails_the_capture_not_the_run(hostile: FaultServer, write_plan) -> None:
    plan = write_plan(
        ONE_USER.replace("arrivalCount: 1", "arrivalCount: 3") + "scenarios:\n  - flow:\n"
        "    - get: {url: /bad-json, capture: {json: '$.id', as: id}}\n"
        "    - get: {url: /ok}\n"
    )
    assert counters(run(plan, hostile.url)) == {
        f"errors.{FAILED_CAPTURE}": 3,
        "http.codes.200": 3,
        "http.downloaded_bytes": 3 * 23,
        "http.requests": 3,
        "http.responses": 3,
        "vusers.created": 3,
        "vusers.failed": 3,
    }


def test_a_slow_body_is_timed_to_its_last_byte(hostile: FaultServer, write_plan) -> None:
    summary = run(
        write_plan(one_request("/slow").replace("timeout: 0.5", "timeout: 10")), hostile.url
    )
    assert summary.counter("http.codes.200") == 1
    assert summary.counter("http.downloaded_bytes") == len(SLOW_BODY)
    # 20 bytes, each after a 20 ms pause: the response cannot take less than 400 ms
    assert (
        summary.histogram("http.response_time").min
        >= len(SLOW_BODY) * SLOW_BYTE_SECONDS * 1000 * 0.95
    )


def test_the_run_goes_on_through_every_fault(hostile: FaultServer, write_plan) -> None:
    plan = write_plan(
        "config:\n  phases: [{duration: 1, arrivalCount: 10}]\n  http: {timeout: 0.5}\n"
        "scenarios:\n"
        + "".join(
            f"  - name: {path}\n    flow: [{{get: {{url: /ok}}}}, {{get: {{url: {path}}}}}, {{get: {{url: /ok}}}}]\n"
            for path in ("/reset", "/stall", "/cut-json", "/garbage", "/ok")
        )
    )
    summary = run(plan, hostile.url)
    created = summary.counter("vusers.created")
    assert created == 10
    ok_users = summary.counter("vusers.created_by_name./ok")
    assert 0 < ok_users < created  # seeded: both kinds of user are in the run
    assert summary.counter("vusers.completed") == ok_users
    assert summary.counter("vusers.failed") == created - ok_users
    errors = sum(summary.counters_with("errors.").values())
    assert errors == created - ok_users
    # every user's first /ok answered; only the /ok scenario reaches its third request
    assert summary.counter("http.codes.200") == created + 2 * ok_users


def test_streaming_keeps_a_100_mib_body_out_of_memory(hostile: FaultServer, tmp_path: Path) -> None:
    """The whole CLI in a child process: its peak RSS over that of the same run of a
    tiny body stays well under one body's size (a body held whole would add 100 MiB)."""
    baseline_mb = _peak_rss_mb(hostile, tmp_path, "/ok", "/ok", 4 * len('{"id":1}'))
    peak_mb = _peak_rss_mb(hostile, tmp_path, "/big", "/big-chunked", 4 * BIG_BYTES)
    assert peak_mb - baseline_mb < BIG_BYTES / 2**20 / 2, (
        f"peak RSS {peak_mb:.0f} MB (a tiny body's run: {baseline_mb:.0f} MB) while 400 MiB went by"
    )


def _peak_rss_mb(hostile: FaultServer, tmp_path: Path, first: str, second: str, size: int) -> float:
    """The peak RSS (MB) of `yamlload run` on a plan of two users each getting `first`
    and `second`, having checked that `size` body bytes in all were read."""
    plan = tmp_path / "big.yml"
    plan.write_text(
        f"config:\n  target: {hostile.url}\n  phases: [{{duration: 1, arrivalCount: 2}}]\n  http: {{timeout: 60}}\n"
        f"scenarios:\n  - flow: [{{get: {{url: {first}}}}}, {{get: {{url: {second}}}}}]\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(tmp_path / "r.json")],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    report = (tmp_path / "r.json").read_text()
    assert f'"http.downloaded_bytes": {size}' in report
    return float(usage.ru_maxrss / 1024)


def test_max_body_bytes_must_be_a_count(write_plan) -> None:
    plan = write_plan(
        one_request("/ok").replace("timeout: 0.5", "timeout: 0.5, maxBodyBytes: lots")
    )
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert f"{plan}:3:" in result.stderr and "maxBodyBytes" in result.stderr


# ---- certificates: an error unless -k


@pytest.fixture(scope="module")
def expired_tls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    yesterday = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    leaf = authority.issue_cert(
        "127.0.0.1", not_before=yesterday - dt.timedelta(days=30), not_after=yesterday
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with ServerThread(make_test_app(), ssl_context=context) as running:
        yield running, ca_file


@pytest.mark.parametrize(
    ("flags", "code"), [((), "errors.CERT_HAS_EXPIRED"), (("-k",), "http.codes.200")]
)
def test_an_expired_certificate_is_an_error_unless_insecure(
    expired_tls: tuple[ServerThread, Path], tmp_path: Path, flags: tuple[str, ...], code: str
) -> None:
    server, ca_file = expired_tls
    plan = tmp_path / "tls.yml"
    plan.write_text(one_request("/ok"))
    report = tmp_path / "r.json"
    # The CA is trusted (SSL_CERT_FILE), so the only fault left is the expiry.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "yamlload",
            "run",
            "-q",
            str(plan),
            "-t",
            server.url,
            "-o",
            str(report),
            *flags,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "SSL_CERT_FILE": str(ca_file)},
    )
    assert f'"{code}": 1' in report.read_text(), done.stderr
