"""Sending one request and the redirects it follows. Each hop's `Outcome` (transport.py)
is counted as it comes back: a response, or a request error; a hop cut by a stop is
counted as interrupted."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable

from yarl import URL

from ...metrics.names import ERRORS, TTFB
from ...metrics.periods import Recorder
from ...plan.ir import Request
from ..log import RunLog, printable
from ..vuser import User
from .errors import INVALID_URL, TOO_MANY_REDIRECTS
from .facts import RequestFacts
from .record import Recording
from .transport import Answer, RequestError, Spec

# Redirects followed per request: got's (and so Artillery's) maxRedirects.
MAX_REDIRECTS = 10
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# Headers a redirect to another origin does not carry: credentials by name or by look,
# and any header config.secrets names (the jar's own cookies follow their domains).
CROSS_ORIGIN_DROP = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
CREDENTIAL_LOOK = re.compile(r"auth|token|secret|passw|api-?key|session|cookie", re.IGNORECASE)


class Sender(Recording):
    def __init__(
        self,
        recorder: Recorder,
        log: RunLog,
        apdex_ms: float | None,
        timings: bool,
        secret_names: Iterable[str],
    ) -> None:
        super().__init__(recorder, apdex_ms)
        self.log = log
        self.timings = timings  # config.http.extendedMetrics: http.ttfb too
        self.private_headers = private_headers(secret_names)

    async def exchange(
        self, request: Request, facts: RequestFacts, spec: Spec, user: User, keep: int
    ) -> Answer | None:
        """Send, follow redirects as asked, and count each hop's outcome. None when the
        request failed for its user: a hop got no response, or the redirects never
        ended (the error is counted)."""
        for hop in range(MAX_REDIRECTS + 1):
            try:
                answer = await user.session.send(spec, keep)
            except asyncio.CancelledError:
                self.record_interrupted(facts)
                raise
            if isinstance(answer, RequestError):
                self.record_error(facts, answer.code)
                self.log.failure(answer.code, user, request, answer.detail)
                return None
            location = answer.headers.get("location")
            redirect = request.follow_redirect and answer.status in REDIRECT_CODES and location
            follow = redirect and hop < MAX_REDIRECTS
            too_many = redirect and not follow
            accepted = bool(follow) or (not too_many and facts.accepts(answer.status, user))
            self.record_response(facts, answer, accepted)
            if self.timings:
                self.rec.observe(TTFB, answer.ttfb)
            if self.log.debug:
                self.debug(spec, answer, user)
            if too_many:
                # As got (Artillery's client) does: a redirect loop is an error, not a success.
                self.rec.count(ERRORS + TOO_MANY_REDIRECTS)
                detail = (
                    f"still redirected after {MAX_REDIRECTS} redirects, to {printable(location)}"
                )
                self.log.failure(TOO_MANY_REDIRECTS, user, request, detail)
                return None
            if not accepted:
                self.log.failure(f"status {answer.status}", user, request, "", answer.head)
            if not follow:
                return answer
            try:
                spec = redirected(spec, answer, str(location), self.private_headers)
            except ValueError:  # a Location that is no URL: the next hop cannot be made
                self.record_error(facts, INVALID_URL)
                detail = f"redirected to {printable(location)!r}, which is not a URL"
                self.log.failure(INVALID_URL, user, request, detail)
                return None
        raise AssertionError("unreachable: the last hop is never followed")

    def debug(self, spec: Spec, answer: Answer, user: User) -> None:
        self.log.log(
            f"debug: {spec['method']} {answer.url} → {answer.status} "
            f"({answer.millis:.1f} ms, {answer.size} bytes)",
            self.log.user_secrets(user),
        )


def private_headers(secret_names: Iterable[str]) -> Callable[[str], bool]:
    """Whether a header carries a credential, and so stays behind on a cross-origin hop."""
    secrets = {n.lower() for n in secret_names}

    def private(header: str) -> bool:
        name = header.lower()
        return (
            name in CROSS_ORIGIN_DROP or name in secrets or CREDENTIAL_LOOK.search(name) is not None
        )

    return private


def redirected(spec: Spec, answer: Answer, location: str, private: Callable[[str], bool]) -> Spec:
    """The next hop of a redirect, as browsers (and got, under Artillery) make it: 303
    turns any method but HEAD into GET, 301 and 302 turn POST into GET, and a body goes
    only with 307 and 308."""
    url = answer.url.join(URL(location))
    method = spec["method"].upper()
    to_get = (answer.status == 303 and method != "HEAD") or (
        answer.status in (301, 302) and method == "POST"
    )
    nxt = {k: v for k, v in spec.items() if k not in ("url", "params")}
    nxt["url"] = str(url)
    if to_get:
        nxt["method"] = "GET"
        for key in ("json", "data"):
            nxt.pop(key, None)
    if url.origin() != answer.url.origin():
        nxt["headers"] = {k: v for k, v in spec["headers"].items() if not private(k)}
    return nxt
