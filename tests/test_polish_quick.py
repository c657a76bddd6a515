"""`yamlload quick` refuses a run that would send nothing, and a rate whose users
(rate × duration) pass the limit `-c` has, with exit 2 before any request."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread
from yamlload.errors import EXIT_USAGE


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["-c", "0"], "-c 0 starts no users"),
        (["-n", "0"], "-n 0 sends no requests"),
        (["-r", "5", "-n", "0"], "-n 0 sends no requests"),
        (["-r", "1", "-d", "0"], "-r 1 -d 0 starts no users"),
        (["-r", "0.001", "-d", "1s"], "-r 0.001 -d 1s starts no users"),
        (["-d", "0"], "-d goes with -r"),
    ],
)
def test_a_quick_run_that_would_send_nothing_is_a_usage_error(
    server: ServerThread, options: list[str], said: str
) -> None:
    before = sum(server.hits().values())
    result = run_cli("quick", f"{server.url}/ok", "-q", "-o", "/dev/null", *options)
    assert result.exit_code == EXIT_USAGE, result.stdout + result.stderr
    assert said in result.stderr
    assert "nothing would be sent" in result.stderr or "-d goes with -r" in said
    assert sum(server.hits().values()) == before


def test_a_rate_is_held_to_the_users_limit_of_c(server: ServerThread) -> None:
    before = sum(server.hits().values())
    result = run_cli("quick", f"{server.url}/ok", "-q", "-o", "/dev/null", "-r", "1e6", "-d", "2s")
    assert result.exit_code == EXIT_USAGE, result.stdout + result.stderr
    assert (
        "-r 1,000,000 -d 2s would start 2,000,000 users, more than one plan can run "
        "(limit 1,000,000)" in result.stderr
    )
    assert "e+" not in result.stderr
    assert sum(server.hits().values()) == before


def test_limits_in_messages_are_written_out_not_in_e_notation() -> None:
    result = run_cli("quick", "http://127.0.0.1:9/", "-r", "2e6", "-d", "1s")
    assert result.exit_code == EXIT_USAGE
    assert "between 0.001 and 1,000,000" in result.stderr
    assert "e+06" not in result.stderr


def test_a_check_reads_its_limit_and_value_grouped() -> None:
    from yamlload.checks.outcome import describe_limit, describe_value
    from yamlload.checks.parse import parse_ensure

    check = parse_ensure("http.codes.201 < 100000000000")
    assert describe_limit(check) == "< 100,000,000,000"
    assert describe_value(check, 1_000_000.0) == "1,000,000"


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["-r", "5", "-d", "abc"], "-d 'abc' is not a duration"),
        (["-c", "1000001"], "-c 1,000,001 is more users than one plan can run"),
    ],
)
def test_a_bad_flag_is_named_as_given_not_as_the_plan_quick_makes(
    options: list[str], said: str
) -> None:
    result = run_cli("quick", "http://127.0.0.1:9/", *options)
    assert result.exit_code == EXIT_USAGE
    assert said in result.stderr and "config.phases" not in result.stderr
