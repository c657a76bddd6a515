"""WebSocket scenarios (issue 19, Artillery's `ws` engine) on aiohttp's client.

A ws scenario's user opens one connection before its flow (`connect`, else the plan's
target) and closes it after; its `send` and `wait` steps use it. What is counted:

- every message a `send` step hands to the socket: `websocket.messages_sent`, once;
- every message a step read (a `send` waiting for its reply, a `wait`):
  `websocket.messages_received`, once; a message no step read (a `send` waiting for a
  reply drops what came before it, as Artillery does, and the end of the session drops
  the rest) is counted as `websocket.messages_unread`, once;
- every connection opened: `websocket.sessions`, and it ends exactly once, as
  `websocket.sessions_completed`, `_failed` or `_interrupted`; one that could not be
  opened: `websocket.connect_failed`;
- a connection that could not be opened, a server's close, a reply that never came:
  `errors.*`, and the user fails, as a request error fails an HTTP user.

Nothing here raises for what a server does: each failure is counted and named, and the
step answers False. This is the only module of the runtime beside the aiohttp transport
that imports aiohttp, and the engine imports it only for a plan with a ws scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..metrics.names import (
    ERRORS,
    WS_CONNECT_FAILED,
    WS_CONNECT_TIME,
    WS_MESSAGES_RECEIVED,
    WS_MESSAGES_SENT,
    WS_MESSAGES_UNREAD,
    WS_RESPONSE_TIME,
    WS_SESSION_LENGTH,
    WS_SESSIONS,
    WS_SESSIONS_COMPLETED,
    WS_SESSIONS_FAILED,
    WS_SESSIONS_INTERRUPTED,
)
from ..metrics.periods import Recorder
from ..plan.expr import to_text
from ..plan.ir import Capture, Match, Plan, WsConnect, WsSend, WsWait
from ..plan.secrets import mask_userinfo
from .clock import Clock
from .http.aiohttp_transport import error_code
from .http.checks import CAPTURE_ERRORS, Checked
from .http.errors import FAILED_CAPTURE, INVALID_HEADER, INVALID_URL
from .http.fast_connect import ssl_context
from .log import RunLog, exception_text
from .options import RunOptions
from .stop import Stop
from .vuser import User, render, text

# Closing a connection waits this long for the server's close frame, so that a stop
# (or a server that never answers a close) never holds the run's end; a connection cut
# by a stop's grace is aborted at once, without a close handshake.
CLOSE_TIMEOUT_SECONDS = 1.0
# A message past this size ends its connection, 1009 as RFC 6455 (aiohttp's own default
# frame limit; HTTP keeps 10 MiB of one body, a connection keeps MAX_KEPT_BYTES of many).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Messages kept for the next step that reads one, by count and by size (bytes; a text
# message's characters); past either the oldest are dropped unread (a server pushing
# into a user that never reads must not fill the memory).
MAX_KEPT_MESSAGES = 1_000
MAX_KEPT_BYTES = 8 * 1024 * 1024
# A connection that dropped without a close frame is named as RFC 6455's 1006; a close
# frame without a status code as its 1005.
ABNORMAL_CLOSE = 1006
NO_STATUS_CLOSE = 1005
TIMEOUT = "ws_timeout"
HANDSHAKE = "ws_handshake_"
# A 101 that is no valid upgrade (a wrong Sec-WebSocket-Accept, no Upgrade header).
HANDSHAKE_INVALID = "ws_handshake_invalid"
CLOSED = "ws_closed_"
SUBPROTOCOL_HEADER = "sec-websocket-protocol"
# Subprotocols were offered and the server chose none: the `ws` library (Artillery's
# client) fails the handshake with "Server sent no subprotocol"; so does this.
SUBPROTOCOL_REFUSED = "ws_subprotocol_refused"
# The server chose a subprotocol the client never offered: RFC 6455 4.1 fails it.
SUBPROTOCOL_UNOFFERED = "ws_subprotocol_unoffered"
# A subprotocol longer than this is told by its start only: a token is often passed as
# one (Kubernetes' base64url.bearer.authorization.k8s.io.TOKEN).
SHOWN_PROTOCOL_CHARS = 16
# What a header may hold (RFC 9110's token for a name; no control character but a tab in
# a value).
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# The schemes a connect URL may have, each as the handshake spells it.
URL_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}

_CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


class Failed(Exception):
    """A ws step's failure as a value on its way to being counted: `code` is its
    errors.* name. Raised and caught within this module only."""

    def __init__(self, code: str, detail: str, message: str | bytes | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        # The message read when it failed (a capture or match on it), told in its line.
        self.message = message


class Stopped(Exception):
    """A stop ended a step's wait for a message: the user ends interrupted, with no
    error counted (a think ends the same way)."""


class Redirected(Exception):
    """The handshake was answered with a redirect, which is never followed (Artillery's
    ws client follows none either): the credential headers must not go to another
    origin."""

    def __init__(self, status: int, location: str) -> None:
        super().__init__(f"redirect {status} to {location}")
        self.status = status
        self.location = location


async def _refuse_redirect(
    session: aiohttp.ClientSession,
    context: Any,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    response = params.response
    location = response.headers.get("Location", "")
    response.close()
    raise Redirected(response.status, location)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Socket:
    """One user's connection, and the reader that keeps each message for the next step
    that reads one: a `wait` reads what came since the last read first; a `send` that
    waits for its reply drops what came before it (Artillery's reply is the next
    message after the send). A message dropped unread is counted, never read later."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse[bool],
        recorder: Recorder,
        stop: Stop,
        waiting: set[asyncio.Future[None]],
    ) -> None:
        self.ws = ws
        self.rec = recorder
        self.stop = stop
        # The futures of the steps waiting for a message now, which a stop wakes.
        self.waiting = waiting
        self.inbox: deque[str | bytes] = deque()
        self.kept = 0  # the size of what the inbox holds
        self.waiter: asyncio.Future[None] | None = None
        self.close_code: int | None = None
        self.closed = False
        self.reader = asyncio.ensure_future(self.read())

    async def read(self) -> None:
        close_frame: int | None = None  # the code a close frame held (0 for none)
        try:
            while True:
                message = await self.ws.receive()
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self.keep(message.data)
                    continue
                if message.type in _CLOSING or message.type == aiohttp.WSMsgType.ERROR:
                    if message.type == aiohttp.WSMsgType.CLOSE:
                        close_frame = message.data if isinstance(message.data, int) else 0
                    break
        except (aiohttp.ClientError, OSError, RuntimeError, ValueError):
            pass  # the connection broke under the reader: told as a close below
        code = self.ws.close_code
        if close_frame is not None:  # the server's own close frame says which
            code = close_frame or NO_STATUS_CLOSE  # without a status code: 1005
        self.close_code = code
        self.closed = True
        self.wake()

    def keep(self, data: str | bytes) -> None:
        """Keep a message for the next step that reads one; past MAX_KEPT_MESSAGES or
        MAX_KEPT_BYTES the oldest are dropped unread."""
        size = len(data)
        while self.inbox and (
            len(self.inbox) >= MAX_KEPT_MESSAGES or self.kept + size > MAX_KEPT_BYTES
        ):
            self.kept -= len(self.inbox.popleft())
            self.rec.count(WS_MESSAGES_UNREAD)
        self.inbox.append(data)
        self.kept += size
        self.wake()

    def wake(self) -> None:
        if self.waiter is not None:
            _wake(self.waiter)

    def drop_unread(self) -> None:
        """Forget what came before now, counted as unread."""
        if self.inbox:
            self.rec.count(WS_MESSAGES_UNREAD, len(self.inbox))
            self.inbox.clear()
            self.kept = 0

    async def next(self, deadline: float) -> str | bytes:
        """The next message; Failed when the connection closes or the deadline (the
        loop's time) passes first, Stopped when the run stops. It waits on a future that
        a message, a close, the deadline and a stop each wake (never asyncio.wait_for,
        which on Python 3.11 drops a cancel arriving as its wait completes: a flood
        would then hold a stop's cut until the timeout)."""
        loop = asyncio.get_running_loop()
        if self.stop.reason is not None:
            raise Stopped()
        while not self.inbox:
            if self.closed:
                raise self.closed_failure()
            if self.stop.reason is not None:
                raise Stopped()
            left = deadline - loop.time()
            if left <= 0:
                raise Failed(TIMEOUT, "no message came within the timeout")
            waiter: asyncio.Future[None] = loop.create_future()
            timer = loop.call_later(left, _wake, waiter)
            self.waiter = waiter
            self.waiting.add(waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
                self.waiting.discard(waiter)
        data = self.inbox.popleft()
        self.kept -= len(data)
        return data

    def closed_failure(self) -> Failed:
        code = self.close_code or ABNORMAL_CLOSE
        return Failed(f"{CLOSED}{code}", f"the server closed the connection (code {code})")

    async def send(self, message: str) -> None:
        if self.closed:
            raise self.closed_failure()
        try:
            await self.ws.send_str(message)
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            failure = self.closed_failure()
            raise Failed(failure.code, f"{failure.detail}: {exception_text(exc)}") from None

    async def close(self) -> None:
        """Close it (aiohttp hands the reader its end), waiting at most
        CLOSE_TIMEOUT_SECONDS for the server's answer, else aborted; a cut (a stop's
        grace ran out) aborts it at once. What was never read is counted."""
        try:
            if not await bounded(self.ws.close(), CLOSE_TIMEOUT_SECONDS):
                self.abort()
        except asyncio.CancelledError:
            self.abort()
            raise
        finally:
            self.reader.cancel()
            self.drop_unread()

    def abort(self) -> None:
        """End the connection now, without a close handshake."""
        abort(self.ws)
        self.reader.cancel()


class WsClient:
    """Runs ws scenarios' connections and steps for every user of a run, over one
    aiohttp session (no cookies; the connections' sockets are the users' own)."""

    def __init__(
        self,
        plan: Plan,
        recorder: Recorder,
        log: RunLog,
        clock: Clock,
        stop: Stop,
        options: RunOptions | None = None,
    ) -> None:
        options = options or RunOptions()
        self.plan = plan
        self.settings = plan.ws
        self.rec = recorder
        self.log = log
        self.clock = clock
        self.stop = stop
        # The same TLS settings as HTTP's, whichever transport: tls.rejectUnauthorized
        # and -k (--insecure); and the same resolver.
        self.verify = plan.http.reject_unauthorized and not options.insecure
        self.resolver = options.resolver
        self._session: aiohttp.ClientSession | None = None
        # The steps waiting for a message now, and the task that wakes them at a stop.
        self.waiting: set[asyncio.Future[None]] = set()
        self._watch: asyncio.Future[None] | None = None

    def session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on the run's loop, at the first connection
            context: ssl.SSLContext = ssl_context(self.verify)
            connector = aiohttp.TCPConnector(limit=0, ssl=context, resolver=self.resolver)
            redirects = aiohttp.TraceConfig()
            redirects.on_request_redirect.append(_refuse_redirect)
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trace_configs=[redirects],
            )
            self._watch = asyncio.ensure_future(self.wake_at_stop())
        return self._session

    async def wake_at_stop(self) -> None:
        await self.stop.event.wait()
        for waiter in list(self.waiting):
            _wake(waiter)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- a user's connection

    async def session(self, user: User, run_flow: Callable[[User], Awaitable[bool]]) -> bool:
        """Open the user's connection, run its flow on it, close it: the session is
        counted opened once and ended once. False when the user must stop as failed."""
        socket = await self.connect(user)
        if socket is None:
            return False
        self.rec.count(WS_SESSIONS)
        user.socket = socket
        started = self.clock.now()
        ended = WS_SESSIONS_FAILED
        cut = False
        try:
            ok = await run_flow(user)
            if ok:
                ended = WS_SESSIONS_COMPLETED
            elif self.stop.reason is not None:
                ended = WS_SESSIONS_INTERRUPTED
            return ok
        except asyncio.CancelledError:
            ended = WS_SESSIONS_INTERRUPTED  # cut by a stop's grace
            cut = True
            raise
        finally:
            user.socket = None
            self.rec.count(ended)
            if ended == WS_SESSIONS_COMPLETED:
                self.rec.observe(WS_SESSION_LENGTH, (self.clock.now() - started) * 1000.0)
            if cut:  # the grace is over: no close handshake
                socket.abort()
                socket.drop_unread()
            else:
                await socket.close()

    async def connect(self, user: User) -> Socket | None:
        connect = user.scenario.connect or WsConnect()
        try:
            url = self.url(connect, user)
            headers, protocols = self.handshake(connect, user)
            if "authorization" in (k.lower() for k in headers) and urlsplit(url).username:
                raise Failed(
                    INVALID_HEADER,
                    f"{mask_userinfo(url)}: a user and password in the URL and an "
                    "Authorization header: give one or the other",
                )
        except Failed as refused:
            self.failed(user, "connect", refused)
            return None
        except ValueError as exc:  # a rendered value no handshake can carry
            self.failed(user, "connect", Failed(INVALID_URL, exception_text(exc)))
            return None
        started = self.clock.now()
        shown = mask_userinfo(url)  # a token in the URL's query stays out of the log
        opening = asyncio.ensure_future(
            self.session_for_loop().ws_connect(
                url,
                headers=headers,
                protocols=protocols,
                timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_SECONDS),
                max_msg_size=MAX_MESSAGE_BYTES,
            )
        )
        try:
            # asyncio.wait, not wait_for: a cut arriving as the handshake ends is kept
            await asyncio.wait((opening,), timeout=self.settings.timeout)
        except asyncio.CancelledError:
            discard(opening)
            raise
        if not opening.done():
            discard(opening)
            # a handshake timeout is ETIMEDOUT, as an HTTP request's connect timeout is
            detail = f"{shown}: the handshake took longer than config.ws.timeout"
            self.failed(user, "connect", Failed(error_code(asyncio.TimeoutError()), detail))
            return None
        try:
            ws = opening.result()
        except Redirected as exc:
            where = self.log_url(exc.location, user)
            detail = f"{shown}: the handshake got a redirect {exc.status} to {where}, not followed"
            self.failed(user, "connect", Failed(f"{HANDSHAKE}{exc.status}", detail))
            return None
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 101:
                detail = f"{shown}: the server's 101 is no valid upgrade ({exc.message})"
                failure = Failed(HANDSHAKE_INVALID, detail)
            else:
                failure = Failed(
                    f"{HANDSHAKE}{exc.status}", f"{shown}: the handshake got {exc.status}"
                )
            self.failed(user, "connect", failure)
            return None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            detail = f"{shown}: {self.log_url(exception_text(exc), user)}"
            self.failed(user, "connect", Failed(error_code(exc), detail))
            return None
        chosen = ws._response.headers.get(SUBPROTOCOL_HEADER)
        if chosen is not None and chosen.strip() not in protocols:
            await close_quietly(ws)
            offered = ", ".join(map(shown_protocol, protocols)) or "none"
            detail = (
                f"{shown}: the server chose subprotocol {chosen!r}, "
                f"which was never offered (offered: {offered})"
            )
            self.failed(user, "connect", Failed(SUBPROTOCOL_UNOFFERED, detail))
            return None
        if protocols and not ws.protocol:
            await close_quietly(ws)
            offered = ", ".join(map(shown_protocol, protocols))
            detail = f"{shown}: the server sent no subprotocol (offered: {offered})"
            self.failed(user, "connect", Failed(SUBPROTOCOL_REFUSED, detail))
            return None
        millis = (self.clock.now() - started) * 1000.0
        self.rec.observe(WS_CONNECT_TIME, millis)
        if self.log.debug:
            protocol = f", subprotocol {shown_protocol(ws.protocol)}" if ws.protocol else ""
            self.log.log(
                f"debug: ws connected {shown} ({millis:.1f} ms{protocol})",
                self.log.user_secrets(user),
            )
        return Socket(ws, self.rec, self.stop, self.waiting)

    def log_url(self, text: str, user: User) -> str:
        """A URL (or an error holding one) as a failure line tells it: its password and
        credential query parameters masked; the line masks the user's secrets."""
        return mask_userinfo(text)

    def url(self, connect: WsConnect, user: User) -> str:
        """The URL to connect to: the connect step's (a path joined to the target), else
        the target; http(s) spelled ws(s), as the handshake is one."""
        target = self.plan.target
        url = text(connect.target, user).strip() if connect.target is not None else target
        if url.startswith("/"):
            url = target.rstrip("/") + url
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise ValueError(f"{url!r} is not a URL")
        if scheme.lower() not in URL_SCHEMES:
            shown = mask_userinfo(url)
            raise ValueError(f"{shown!r} is not a ws://, wss://, http:// or https:// URL")
        return URL_SCHEMES[scheme.lower()] + sep + rest

    def handshake(self, connect: WsConnect, user: User) -> tuple[dict[str, str], list[str]]:
        """The handshake's headers and subprotocols: the connect step's, else config.ws's;
        a Sec-WebSocket-Protocol header adds its values to the subprotocols, as
        Artillery's does."""
        raw = connect.headers if connect.headers is not None else self.settings.headers
        rendered = render(raw, user)
        headers = {str(k): to_text(v) for k, v in rendered.items()}
        protocols = list(
            connect.subprotocols if connect.subprotocols is not None else self.settings.subprotocols
        )
        for name in [k for k in headers if k.lower() == SUBPROTOCOL_HEADER]:
            protocols += [p.strip() for p in headers.pop(name).split(",") if p.strip()]
        for name, value in headers.items():
            if CONTROL.search(value) or not HEADER_NAME.fullmatch(name):
                what = "name" if not HEADER_NAME.fullmatch(name) else "value"
                raise Failed(
                    INVALID_HEADER,
                    f"the handshake header {name!r}'s {what}, once rendered, holds a "
                    "character no header may carry",
                )
        return headers, protocols

    # ---- steps

    async def send(self, step: WsSend, user: User) -> bool:
        socket: Socket = user.socket
        rendered = render(step.payload, user)
        message = json.dumps(rendered) if step.as_json else to_text(rendered)
        if step.awaits_reply:
            socket.drop_unread()
        reply: str | bytes | None = None
        try:
            sent_at = self.clock.now()
            await socket.send(message)
            self.rec.count(WS_MESSAGES_SENT)
            if self.log.debug:
                self.debug(user, "sent", message)
            if not step.awaits_reply:
                return True
            reply = await socket.next(self.deadline(None))
            millis = (self.clock.now() - sent_at) * 1000.0
            self.rec.count(WS_MESSAGES_RECEIVED)
            self.rec.observe(WS_RESPONSE_TIME, millis)
            if self.log.debug:
                self.debug(user, "received", reply, f"{millis:.1f} ms, ")
            self.read_reply(step.captures, step.matches, as_checked(reply), user)
            return True
        except Stopped:
            return False  # the user ends interrupted
        except Failed as failure:
            if failure.message is None and reply is not None:
                failure.message = reply
            self.failed(user, f"step {step.pos}, send", failure)
            return False

    async def wait(self, step: WsWait, user: User) -> bool:
        """Our `wait`: the first message that passes every match (each one read is
        counted received), its captures taken; Failed at the deadline."""
        socket: Socket = user.socket
        deadline = self.deadline(step.timeout)
        last: str | bytes | None = None
        try:
            while True:
                last = await socket.next(deadline)
                message = as_checked(last)
                self.rec.count(WS_MESSAGES_RECEIVED)
                if self.log.debug:
                    self.debug(user, "received", last)
                if all(passes(match, message, user) for match in step.matches):
                    self.read_reply(step.captures, (), message, user)
                    return True
        except Stopped:
            return False  # the user ends interrupted
        except Failed as failure:
            if failure.message is None and last is not None:
                failure.message = last  # the last message read: the capture's, or skipped
                if failure.code == TIMEOUT:
                    failure.detail = "no message passed the match within the timeout"
            self.failed(user, f"step {step.pos}, wait", failure)
            return False

    def deadline(self, timeout: float | None) -> float:
        seconds = timeout if timeout is not None else self.settings.timeout
        return asyncio.get_running_loop().time() + seconds

    def read_reply(
        self, captures: tuple[Capture, ...], matches: tuple[Match, ...], reply: Checked, user: User
    ) -> None:
        """Captures into the user's values, then matches; Failed when a strict one
        finds nothing or another value (Artillery's `Failed capture or match`)."""
        for capture in captures:
            value = take(capture, reply)
            if value is None or value == "":
                if capture.strict:
                    why = "found nothing" if value is None else "found an empty string"
                    raise Failed(FAILED_CAPTURE, f"{capture.kind} {capture.source!r} {why}")
                continue
            user.vars[capture.as_name] = value
        for match in matches:
            if not passes(match, reply, user):
                found = to_text(take(match.capture, reply))
                raise Failed(
                    FAILED_CAPTURE,
                    f"{match.capture.kind} {match.capture.source!r} found {found!r}, "
                    f"wanted {text(match.value, user)!r}",
                )

    def failed(self, user: User, where: str, failure: Failed) -> None:
        if where == "connect":
            self.rec.count(WS_CONNECT_FAILED)
        self.count_failure(user, where, failure)

    def count_failure(self, user: User, where: str, failure: Failed) -> None:
        """Count and tell one failure, with the start of the message it read (masked of
        secrets, one line, cut as HTTP's failure bodies are); the user stops as failed."""
        self.rec.count(ERRORS + failure.code)
        detail = failure.detail
        if failure.message is not None:
            read = "the last message read" if failure.code == TIMEOUT else "message"
            detail += f"; {read}: {self.message_text(failure.message, user)}"
        self.log.failure(failure.code, user, where, detail)

    def message_text(self, message: str | bytes, user: User) -> str:
        body = message.encode("utf-8", "replace") if isinstance(message, str) else message
        return self.log.snippet(body, self.log.user_secrets(user))

    def debug(self, user: User, what: str, message: str | bytes, took: str = "") -> None:
        """--debug: a message sent or received, as HTTP's requests are told."""
        size = len(message.encode("utf-8", "replace") if isinstance(message, str) else message)
        self.log.log(
            f"debug: ws {what} ({took}{size} bytes): {self.message_text(message, user)}",
            self.log.user_secrets(user),
        )


async def close_quietly(ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
    """Close a connection no step will use, within CLOSE_TIMEOUT_SECONDS, else abort it."""
    try:
        if not await bounded(ws.close(), CLOSE_TIMEOUT_SECONDS):
            abort(ws)
    except asyncio.CancelledError:
        abort(ws)
        raise


async def bounded(closing: Awaitable[Any], seconds: float) -> bool:
    """Await `closing` for at most `seconds`: True when it ended (an error from a
    connection already gone included). A cut goes on as a CancelledError, never lost."""
    task = asyncio.ensure_future(closing)
    try:
        await asyncio.wait((task,), timeout=seconds)
    finally:
        if not task.done():
            task.cancel()
    if not task.done() or task.cancelled():
        return False
    with contextlib.suppress(aiohttp.ClientError, OSError, RuntimeError):
        task.result()  # the connection is gone either way
    return True


def discard(opening: asyncio.Future[aiohttp.ClientWebSocketResponse[bool]]) -> None:
    """A handshake no step will use: cancelled, or its connection aborted."""
    if not opening.done():
        opening.cancel()
    elif not opening.cancelled() and opening.exception() is None:
        abort(opening.result())


def abort(ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
    """Drop a connection at once, without a close handshake."""
    response = ws._response
    connection = response.connection
    if connection is not None and connection.transport is not None:
        connection.transport.abort()
    response.close()


def shown_protocol(protocol: str) -> str:
    """A subprotocol as a log line tells it: a long one (a token, often) cut and masked."""
    if len(protocol) <= SHOWN_PROTOCOL_CHARS:
        return protocol
    return protocol[: SHOWN_PROTOCOL_CHARS // 2] + "…***"


def as_checked(message: str | bytes) -> Checked:
    """A message as captures read a response's body (JSON when it parses, else text)."""
    body = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
    return Checked(0, {}, body)


def take(capture: Capture, reply: Checked) -> Any:
    try:
        return reply.take(capture)
    except CAPTURE_ERRORS as exc:
        raise Failed(FAILED_CAPTURE, f"{capture.kind} {capture.source!r} raised {exc}") from None


def passes(match: Match, reply: Checked, user: User) -> bool:
    """A match holds when its capture finds the wanted value (a non-strict one always)."""
    if not match.capture.strict:
        return True
    return to_text(take(match.capture, reply)) == text(match.value, user)
