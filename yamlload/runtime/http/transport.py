"""The seam between yamlload's HTTP client and whatever moves the bytes.

The client (client.py and send.py) builds a request as a `Spec`, hands it to the user's
`Session`, and gets back an `Outcome` value: an `Answer` (a response, read) or a
`RequestError` (named as Node names it: ECONNREFUSED, ETIMEDOUT...). It never sees a
socket, nor an exception of the transport's own; a transport translates those into
`RequestError`s. Cancellation (a stop cutting a user) is the one thing a `send` raises.

Two transports implement these protocols: fast_transport.py (the default) and
aiohttp_transport.py; choose.py makes the one a plan names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from yarl import URL

# One request, as keyword arguments in aiohttp's spelling: method, url, headers,
# allow_redirects (always False: the client follows redirects itself), and any of
# skip_auto_headers, params, json, data. beforeRequest hooks see and edit this dict,
# so its spelling is part of the plan's processor API.
Spec: TypeAlias = dict[str, Any]
# What sending a Spec a beforeRequest hook made unsendable raises (a value JSON cannot
# encode, a header name that is not a string, a deleted url), besides ValueError: a
# request error (EINVALIDREQUEST) on either transport, never a crash of the run.
HOOK_MADE_ERRORS: tuple[type[Exception], ...] = (TypeError, AttributeError, KeyError)


@dataclass(slots=True)
class Answer:
    """One response, read: what the metrics, captures and checks need of it."""

    status: int
    headers: Mapping[str, str]
    url: URL
    body: bytes | None  # None: over the `keep` the request asked for
    head: bytes  # the body's first bytes, for a printed failure
    size: int
    millis: float
    ttfb: float


@dataclass(frozen=True, slots=True)
class RequestError:
    """A request that got no usable response: `errors.<code>`, and why, for the log."""

    code: str
    detail: str


Outcome: TypeAlias = Answer | RequestError


class Session(Protocol):
    """One user's connections (its own, or a share of a pool) and cookie jar."""

    async def send(self, spec: Spec, keep: int) -> Outcome:
        """Send one request (no redirects followed) and read its response; keep at most
        `keep` bytes of the body (0: count it, keep none)."""
        ...

    def add_cookies(self, cookies: Mapping[str, str], url: str) -> None:
        """Put cookies in the jar, as if `url` had set them."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """Makes each user's session; owns what they share (a connection pool)."""

    def open(self) -> None:
        """Called on the running event loop before the first session."""
        ...

    def session(self) -> Session: ...

    async def close(self) -> None: ...
