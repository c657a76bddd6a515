"""What never changes about a request step, worked out once (on its first send) instead
of on every one: whether it reads its body, is constant, sets cookies, which statuses it
accepts, and its metric names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...metrics.names import CODES, ENDPOINT_LATENCY, RESPONSE_TIME, endpoint_key
from ...plan.ir import Plan, Request
from .accept import Judge, acceptance
from .build import is_constant_request
from .transport import Spec

# A response's metric names by status: http.codes.N, http.response_time.Nxx, and the
# endpoint's codes.N.
StatusNames = tuple[str, str, str]


@dataclass(slots=True)
class RequestFacts:
    label: str
    # It renders the same for every user: built once into `spec`, on its first send.
    constant: bool
    # Its own captures, matches, expectations or afterResponse hooks read the body (the
    # scenario's afterResponse hooks too: see HttpClient.send).
    reads_body: bool
    # expectDefault200 applies: the plan says so and the request has no expectations.
    expects_200: bool
    sets_cookies: bool
    uploads: bool  # formData: files to read before it is sent
    accepts: Judge
    requests: str  # the endpoint's metric keys
    failed: str
    interrupted: str
    latency: str
    spec: Spec | None = None
    by_status: dict[int, StatusNames] = field(default_factory=dict)

    def status_names(self, status: int) -> StatusNames:
        names = self.by_status.get(status)
        if names is None:
            names = self.by_status[status] = (
                f"{CODES}{status}",
                f"{RESPONSE_TIME}.{status // 100}xx",
                endpoint_key(self.label, f"codes.{status}"),
            )
        return names


def learn(request: Request, plan: Plan, default_accepted: Callable[[int], bool]) -> RequestFacts:
    label = request.label
    return RequestFacts(
        label=label,
        constant=is_constant_request(request, plan),
        reads_body=bool(
            request.captures or request.matches or request.expects or request.after_response
        ),
        expects_200=plan.expect_default_200 and not request.expects,
        sets_cookies=bool(plan.default_cookie.items or request.cookie.items),
        uploads=request.form_data is not None,
        accepts=acceptance(request, default_accepted, plan.expect_default_200),
        requests=endpoint_key(label, "requests"),
        failed=endpoint_key(label, "requests_failed"),
        interrupted=endpoint_key(label, "requests_interrupted"),
        latency=f"{ENDPOINT_LATENCY}{label}",
    )
