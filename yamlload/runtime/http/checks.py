"""What a flow reads from a final response: captures and matches into the user's
variables, and Artillery's expect plugin (expectations, expectDefault200)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jmespath.exceptions

from ...metrics.names import ERRORS, EXPECT_FAILED, EXPECT_OK
from ...metrics.periods import Recorder
from ...plan.expr import to_text
from ...plan.ir import Capture, Expect, Request
from ..log import RunLog, exception_text
from ..vuser import User, int_or, render, text
from .errors import EXPECTATION_ERROR, FAILED_CAPTURE, FAILED_EXPECTATIONS
from .transport import Answer

# What a capture or check may raise on data a server sent: it fails that user, named.
CAPTURE_ERRORS: tuple[type[BaseException], ...] = (
    jmespath.exceptions.JMESPathError,
    re.error,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    RecursionError,
    ArithmeticError,  # ceil(1e400), a 400-digit integer made a float
)


class Checks:
    def __init__(self, recorder: Recorder, log: RunLog, stop_user: bool) -> None:
        self.rec = recorder
        self.log = log
        # config.plugins.expect.reportFailuresAsErrors: a failed expectation fails its user.
        self.stop_user = stop_user

    def capture(self, request: Request, response: Checked, user: User) -> bool:
        for capture in request.captures:
            try:
                value = response.take(capture)
            except CAPTURE_ERRORS as exc:
                return self.failed_capture(request, user, capture, response, f"raised {exc}")
            if value is None or value == "":
                if capture.strict:
                    why = "found nothing" if value is None else "found an empty string"
                    return self.failed_capture(request, user, capture, response, why)
                continue
            user.vars[capture.as_name] = value
        for match in request.matches:
            try:
                found = response.take(match.capture)
            except CAPTURE_ERRORS as exc:
                return self.failed_capture(request, user, match.capture, response, f"raised {exc}")
            wanted = text(match.value, user)
            if match.capture.strict and to_text(found) != wanted:
                why = f"found {to_text(found)!r}, wanted {wanted!r}"
                return self.failed_capture(request, user, match.capture, response, why)
        return True

    def failed_capture(
        self, request: Request, user: User, capture: Capture, response: Checked, why: str
    ) -> bool:
        self.rec.count(ERRORS + FAILED_CAPTURE)
        detail = f"{capture.kind} {capture.source!r} {why}"
        self.log.failure(FAILED_CAPTURE, user, request, detail, response.body)
        return False

    def expect(self, request: Request, response: Checked, user: User) -> bool:
        """Artillery's expect plugin: every expectation is counted; a failed one fails
        the run's verdict but not the user, unless reportFailuresAsErrors says so."""
        all_passed = True
        for check in request.expects:
            try:
                passed = judge(check, response, user)
            except CAPTURE_ERRORS as exc:
                # The check cannot be judged on this data: that user fails, named.
                self.rec.count(EXPECT_FAILED)
                self.rec.count(f"{EXPECT_FAILED}.{check.kind}")
                self.rec.count(ERRORS + EXPECTATION_ERROR)
                detail = f"raised {exception_text(exc)}"
                self.log.failure(EXPECTATION_ERROR, user, request, detail, response.body)
                return False
            outcome = EXPECT_OK if passed else EXPECT_FAILED
            self.rec.count(outcome)
            self.rec.count(f"{outcome}.{check.kind}")
            if not passed:
                all_passed = False
                self.log.failure(
                    f"expect {check.kind}",
                    user,
                    request,
                    f"{describe_check(check, user)} (at {check.pos}) failed on status "
                    f"{response.status}",
                    response.body,
                )
        if not all_passed and self.stop_user:
            self.rec.count(ERRORS + FAILED_EXPECTATIONS)
            return False
        return True

    def expect_200(self, request: Request, user: User, answer: Answer) -> bool:
        """expectDefault200: a request without expectations expects a 200, counted."""
        passed = answer.status == 200
        outcome = EXPECT_OK if passed else EXPECT_FAILED
        self.rec.count(outcome)
        self.rec.count(f"{outcome}.statusCode")
        if passed:
            return True
        self.log.failure(
            "expect statusCode", user, request, f"status {answer.status} (expectDefault200)"
        )
        if self.stop_user:
            self.rec.count(ERRORS + FAILED_EXPECTATIONS)
            return False
        return True


def describe_check(check: Expect, user: User) -> str:
    """An expectation with its operands as this user saw them: `hasProperty 'a.b'`."""
    args = ", ".join(repr(to_text(render(a, user))) for a in check.args)
    return f"{check.kind} {args}" if args else check.kind


class Checked:
    """A response as checks and captures read it; the JSON body is parsed at most once."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._json: Any = _UNSET

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                self._json = None
        return self._json

    def take(self, capture: Capture) -> Any:
        if capture.path is not None:
            return capture.path.search(self.json) if self.json is not None else None
        if capture.regexp is not None:
            found = capture.regexp.search(self.text)
            if found is None:
                return None
            group = capture.group
            if group is None:
                return found.group(0)
            return found.group(int(group) if isinstance(group, str) and group.isdigit() else group)
        return self.headers.get(capture.header or "")


_UNSET = object()


def judge(check: Expect, response: Checked, user: User) -> bool:
    args = [render(a, user) for a in check.args]
    kind = check.kind
    if kind in ("statusCode", "notStatusCode"):
        codes = {int_or(a, -1) for a in args}
        return (response.status in codes) == (kind == "statusCode")
    if kind == "contentType":
        wanted = str(args[0]).lower()
        have = response.headers.get("content-type", "").lower()
        return ("json" in have) if wanted == "json" else wanted in have
    if kind in ("hasProperty", "notHasProperty"):
        found = has_path(response.json, str(args[0]))
        return found == (kind == "hasProperty")
    if kind == "equals":
        return len({to_text(a) for a in args}) <= 1
    if kind == "hasHeader":
        return str(args[0]) in response.headers
    if kind == "headerEquals":
        return response.headers.get(str(args[0])) == to_text(args[1])
    if kind == "matchesRegexp":
        pattern = check.regexp or re.compile(to_text(args[0]))
        return pattern.search(response.text) is not None
    if kind == "jmespath":
        return bool(check.path.search(response.json)) if check.path else False
    if kind == "cdnHit":
        cache = " ".join(
            response.headers.get(h, "") for h in ("x-cache", "cf-cache-status", "x-cache-status")
        )
        return ("hit" in cache.lower()) == bool(args[0])
    return False


def has_path(data: Any, path: str) -> bool:
    node = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True
