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
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

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
from .http.errors import FAILED_CAPTURE, INVALID_URL
from .http.fast_connect import ssl_context
from .log import RunLog, exception_text
from .options import RunOptions
from .stop import Stop
from .vuser import User, render, text

# Closing a connection waits this long for the server's close frame, so that a stop
# (or a server that never answers a close) never holds the run's end.
CLOSE_TIMEOUT_SECONDS = 1.0
# A message past this size ends its connection (aiohttp's frame limit), 1009 as RFC 6455.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Messages kept for the next step that reads one; past this the oldest are dropped
# unread (a server pushing into a user that never reads must not fill the memory).
MAX_KEPT_MESSAGES = 1_000
# A close without a code (the connection dropped) is named as RFC 6455's 1006.
ABNORMAL_CLOSE = 1006
TIMEOUT = "ws_timeout"
HANDSHAKE = "ws_handshake_"
CLOSED = "ws_closed_"
SUBPROTOCOL_HEADER = "sec-websocket-protocol"
# Subprotocols were offered and the server chose none: the `ws` library (Artillery's
# client) fails the handshake with "Server sent no subprotocol"; so does this.
SUBPROTOCOL_REFUSED = "ws_subprotocol_refused"
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


class Socket:
    """One user's connection, and the reader that keeps each message for the next step
    that reads one: a `wait` reads what came since the last read first; a `send` that
    waits for its reply drops what came before it (Artillery's reply is the next
    message after the send). A message dropped unread is counted, never read later."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool], recorder: Recorder) -> None:
        self.ws = ws
        self.rec = recorder
        self.inbox: deque[str | bytes] = deque()
        self.arrived = asyncio.Event()
        self.close_code: int | None = None
        self.closed = False
        self.reader = asyncio.ensure_future(self.read())

    async def read(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    if len(self.inbox) >= MAX_KEPT_MESSAGES:
                        self.inbox.popleft()
                        self.rec.count(WS_MESSAGES_UNREAD)
                    self.inbox.append(message.data)
                    self.arrived.set()
                    continue
                if message.type in _CLOSING or message.type == aiohttp.WSMsgType.ERROR:
                    break
        except (aiohttp.ClientError, OSError, RuntimeError, ValueError):
            pass  # the connection broke under the reader: told as a close below
        self.close_code = self.ws.close_code
        self.closed = True
        self.arrived.set()

    def drop_unread(self) -> None:
        """Forget what came before now, counted as unread."""
        if self.inbox:
            self.rec.count(WS_MESSAGES_UNREAD, len(self.inbox))
            self.inbox.clear()

    async def next(self, deadline: float) -> str | bytes:
        """The next message, or Failed when the connection closes or the deadline (the
        loop's time) passes first."""
        loop = asyncio.get_running_loop()
        while not self.inbox:
            if self.closed:
                raise self.closed_failure()
            left = deadline - loop.time()
            if left <= 0:
                raise Failed(TIMEOUT, "no message came within the timeout")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                continue  # the loop above says which: a message, a close, the deadline
        return self.inbox.popleft()

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
        CLOSE_TIMEOUT_SECONDS for the server's answer; what was never read is counted."""
        try:
            await asyncio.wait_for(self.ws.close(), CLOSE_TIMEOUT_SECONDS)
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
            pass  # the connection is gone either way
        finally:
            self.reader.cancel()
            self.drop_unread()


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

    def session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on the run's loop, at the first connection
            context: ssl.SSLContext = ssl_context(self.verify)
            connector = aiohttp.TCPConnector(limit=0, ssl=context, resolver=self.resolver)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
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
        try:
            ok = await run_flow(user)
            if ok:
                ended = WS_SESSIONS_COMPLETED
            elif self.stop.reason is not None:
                ended = WS_SESSIONS_INTERRUPTED
            return ok
        except asyncio.CancelledError:
            ended = WS_SESSIONS_INTERRUPTED  # cut by a stop's grace
            raise
        finally:
            user.socket = None
            self.rec.count(ended)
            if ended == WS_SESSIONS_COMPLETED:
                self.rec.observe(WS_SESSION_LENGTH, (self.clock.now() - started) * 1000.0)
            await socket.close()

    async def connect(self, user: User) -> Socket | None:
        connect = user.scenario.connect or WsConnect()
        try:
            url = self.url(connect, user)
            headers, protocols = self.handshake(connect, user)
        except ValueError as exc:  # a rendered value no handshake can carry
            self.failed(user, "connect", Failed(INVALID_URL, exception_text(exc)))
            return None
        started = self.clock.now()
        shown = mask_userinfo(url)  # a token in the URL's query stays out of the log
        try:
            ws = await asyncio.wait_for(
                self.session_for_loop().ws_connect(
                    url,
                    headers=headers,
                    protocols=protocols,
                    timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_SECONDS),
                    max_msg_size=MAX_MESSAGE_BYTES,
                ),
                self.settings.timeout,
            )
        except aiohttp.WSServerHandshakeError as exc:
            failure = Failed(f"{HANDSHAKE}{exc.status}", f"{shown}: the handshake got {exc.status}")
            self.failed(user, "connect", failure)
            return None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            detail = mask_userinfo(f"{shown}: {exception_text(exc)}")
            self.failed(user, "connect", Failed(error_code(exc), detail))
            return None
        if protocols and not ws.protocol:
            await close_quietly(ws)
            offered = ", ".join(protocols)
            detail = f"{shown}: the server sent no subprotocol (offered: {offered})"
            self.failed(user, "connect", Failed(SUBPROTOCOL_REFUSED, detail))
            return None
        millis = (self.clock.now() - started) * 1000.0
        self.rec.observe(WS_CONNECT_TIME, millis)
        if self.log.debug:
            protocol = f", subprotocol {ws.protocol}" if ws.protocol else ""
            self.log.log(
                f"debug: ws connected {shown} ({millis:.1f} ms{protocol})",
                self.log.user_secrets(user),
            )
        return Socket(ws, self.rec)

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
        for value in headers.values():
            if "\r" in value or "\n" in value:
                raise ValueError("a handshake header holds a line break")
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
    """Close a connection no step will use, within CLOSE_TIMEOUT_SECONDS."""
    # the connection is gone either way
    with contextlib.suppress(asyncio.TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
        await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_SECONDS)


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
