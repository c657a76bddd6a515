"""A request step made from the plan's IR and one user's values: the `Spec` a transport
sends (url, headers, query, body, form or multipart upload) and the cookies it sets."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from ...plan.expr import to_text
from ...plan.ir import Plan, Request, Value
from ..log import RunLog
from ..vuser import VALUE_ERRORS, User, is_constant, render, text
from .form import form_data
from .transport import Spec

GZIP_ACCEPT_ENCODING = "gzip, deflate"
# CR, LF, NUL…: RFC 9110 allows only tab among the control characters in a header value.
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class InvalidHeader(Exception):
    """A header value that would split the request (CR or LF), usually a captured value."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# What building a request from a user's values may raise: the request is never sent and
# counts as a request error of its own (see HttpClient.unsendable).
BUILD_ERRORS: tuple[type[BaseException], ...] = (OSError, InvalidHeader, *VALUE_ERRORS)


def is_constant_request(request: Request, plan: Plan) -> bool:
    """Whether the request renders the same for every user, so it can be built once."""
    return (
        request.form_data is None
        and request.auth is None
        and all(
            is_constant(value)
            for value in (
                request.url,
                request.headers,
                plan.default_headers,
                request.qs,
                request.json,
                request.body,
                request.form,
            )
        )
    )


class Builder:
    def __init__(self, plan: Plan, log: RunLog) -> None:
        self.plan = plan
        self.log = log
        self.target = plan.target.rstrip("/")

    def url(self, request: Request, user: User) -> str:
        path = text(request.url, user)
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.target + path

    def build(self, request: Request, user: User) -> Spec:
        headers: dict[str, str] = {}
        for k, v in self.plan.default_headers.items:
            headers[k] = header_text(k, v, user)
        for k, v in request.headers.items:
            headers[k] = header_text(k, v, user)
        spec: Spec = {
            "method": request.method,
            "url": self.url(request, user),
            "headers": headers,
            "allow_redirects": False,  # followed by the client, so each hop is counted
        }
        if request.gzip:
            headers.setdefault("accept-encoding", GZIP_ACCEPT_ENCODING)
        else:
            # As Artillery: no compression is asked for unless the request says gzip.
            spec["skip_auto_headers"] = ("accept-encoding",)
        if request.qs.items:
            spec["params"] = {k: text(v, user) for k, v in request.qs.items}
        if request.auth is not None:
            user_name, password = (to_text(t.render(user.lookup, user.rng)) for t in request.auth)
            token = base64.b64encode(f"{user_name}:{password}".encode()).decode("ascii")
            self.log.secret_derived(password, token)  # a server may echo the token
            headers.setdefault("authorization", f"Basic {token}")
        self._body(spec, request, user)
        return spec

    def _body(self, spec: Spec, request: Request, user: User) -> None:
        if request.has_json:
            spec["json"] = render(request.json, user)
        elif request.body is not None:
            body = render(request.body, user)
            spec["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        elif request.form is not None:
            spec["data"] = {k: text(v, user) for k, v in request.form.items}
        elif request.form_data is not None:
            spec["data"] = form_data(request.form_data, user)

    def cookies(self, request: Request, user: User) -> dict[str, Any]:
        """A request's `cookie:` (and config.defaults' cookie), which go into the user's
        jar so that later requests send them too (as Artillery does)."""
        cookies = {k: text(v, user) for k, v in self.plan.default_cookie.items}
        cookies.update({k: text(v, user) for k, v in request.cookie.items})
        return cookies


def header_text(name: str, value: Value, user: User) -> str:
    rendered = text(value, user)
    if _HEADER_CONTROL.search(rendered):
        raise InvalidHeader(name)
    return rendered
