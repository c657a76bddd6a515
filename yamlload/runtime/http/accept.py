"""Which statuses a request counts as a success: its own `statusCode` expectations, else
config.http.expectedStatuses (2xx and 3xx unless it says), worked out once per request."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...plan.ir import Expect, Request, Value
from ..vuser import User, constant, int_or, is_constant, render

# Statuses a request accepts when neither it nor config.http.expectedStatuses says: 2xx
# and 3xx, as k6's default expected_response.
DEFAULT_ACCEPTED = ((200, 399),)

# Whether a status is a success for this request, for this user.
Judge = Callable[[int, User], bool]


def status_ranges(ranges: Iterable[tuple[int, int]]) -> Callable[[int], bool]:
    spans = tuple(ranges)
    return lambda status: any(low <= status <= high for low, high in spans)


def acceptance(request: Request, default: Callable[[int], bool], default_200: bool) -> Judge:
    """The request's judge of statuses: fixed, unless its statusCode expectations are
    templates, which are then rendered per user. `default_200` is expectDefault200 for
    a request without expectations."""
    status_checks = [c for c in request.expects if c.kind in ("statusCode", "notStatusCode")]
    default_200 = not request.expects and default_200

    def judge(wanted: set[int], unwanted: set[int]) -> Callable[[int], bool]:
        if default_200:
            wanted = wanted | {200}
        if wanted:
            return lambda status: status in wanted and status not in unwanted
        return lambda status: default(status) and status not in unwanted

    if all(is_constant(a) for c in status_checks for a in c.args):
        fixed = judge(*status_codes(status_checks, constant))
        return lambda status, _: fixed(status)
    return lambda status, user: judge(*status_codes(status_checks, lambda a: render(a, user)))(
        status
    )


def status_codes(
    checks: Iterable[Expect], value_of: Callable[[Value], Any]
) -> tuple[set[int], set[int]]:
    """The codes `statusCode` expectations want and `notStatusCode` ones refuse."""
    wanted: set[int] = set()
    unwanted: set[int] = set()
    for check in checks:
        codes = {int_or(value_of(a), -1) for a in check.args}
        (wanted if check.kind == "statusCode" else unwanted).update(codes)
    return wanted, unwanted
