"""A user's cookie jar on the fast transport (fast_transport.py).

It wraps aiohttp's own `CookieJar(unsafe=True)`, the jar the aiohttp transport gives each
user, so both transports keep, expire, match and send cookies by the same rules (RFC
6265 as aiohttp reads it: host-only and Domain cookies, paths, Expires and Max-Age,
Secure only over https, cookies for IP hosts like 127.0.0.1 too). Rules written twice
would drift apart; this is why this module, beside aiohttp_transport.py, imports aiohttp
(tests/test_project.py allows the two). It imports the jar and its cookie parsing only:
no client, no connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import BaseCookie, CookieError, Morsel, SimpleCookie

import aiohttp
from yarl import URL


def _parse_cookie_header_old(header: str) -> list[tuple[str, Morsel[str]]]:
    """What older aiohttp (before _cookie_helpers) did with a request's own Cookie header."""
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    return list(cookie.items())


try:  # newer aiohttp parses a Cookie header by RFC 6265, not by SimpleCookie's rules
    from aiohttp._cookie_helpers import parse_cookie_header
except ImportError:  # pragma: no cover - older aiohttp
    parse_cookie_header = _parse_cookie_header_old


class Jar:
    """One user's cookies: those the plan gives (`cookie:`) and those servers set."""

    __slots__ = ("_jar",)

    def __init__(self) -> None:
        self._jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 and other IPs

    def add(self, cookies: Mapping[str, str], url: URL) -> None:
        """The plan's cookies, as if `url` had set them."""
        self._jar.update_cookies(cookies, url)

    def store(self, set_cookies: list[str], url: URL) -> None:
        """A response's Set-Cookie headers, each one kept (aiohttp's client does the same
        with every response, redirects included)."""
        if hasattr(self._jar, "update_cookies_from_headers"):
            self._jar.update_cookies_from_headers(set_cookies, url)
            return
        parsed: SimpleCookie = SimpleCookie()  # what older aiohttp did
        for header in set_cookies:
            try:
                parsed.load(header)
            except CookieError:
                continue
        self._jar.update_cookies(parsed, url)

    def header(self, url: URL, given: str | None) -> str | None:
        """The Cookie header a request to `url` carries, as aiohttp's ClientRequest makes
        it: the request's own Cookie header (`given`) merged with the jar's cookies for
        the URL (the jar's win), sorted by name. None: the jar has none for the URL, and
        the request's own header, if any, goes as it is."""
        matched: BaseCookie[str] = self._jar.filter_cookies(url)
        if not matched:
            return None
        cookies: SimpleCookie = SimpleCookie()
        if given is not None:
            cookies.update(parse_cookie_header(given))
        for name, morsel in matched.items():
            cookies[name] = morsel
        return cookies.output(header="", sep=";").strip()
