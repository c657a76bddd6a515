"""Alerts (issue 17): `--alert-webhook` and config.alerts. Once a period the checks that
can already fail are judged on the run so far (checks/live.py); a check that starts
failing sends one alert, one that passes again a recovery, and the CLI sends the
verdict at the end (`Alerts.final`).

Delivery is off the hot path and off the event loop: each channel has an outbox sent in
order by a daemon thread of its own, each send bounded by SEND_TIMEOUT_SECONDS, so a
channel that hangs holds up neither the run, nor the other channels, nor the process's
exit. The end waits once, at most END_WAIT_SECONDS (a signal cuts it), for everything
still unsent; a failure, or a message still unsent then, is counted (`Alerts.errors`,
the report's yamlload.alert_errors), told once per channel, and never the run's.

Webhooks take Slack's `{"text": ...}` (Slack, Mattermost, Teams' incoming webhooks);
email goes through smtplib, STARTTLS optional."""

from __future__ import annotations

import base64
import json
import queue
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..checks.evaluate import evaluate
from ..checks.live import is_failing, summary_so_far
from ..checks.outcome import Outcome, describe_limit, describe_value
from ..checks.parse import Check
from ..metrics.live import LiveSeries
from ..plan.ir import Alert
from ..plan.secrets import MASK
from ..results.run import Progress
from ..text import one_line
from ..units import format_seconds

# How often the checks are judged for alerts: once a 10-second period.
ALERT_PERIOD_SECONDS = 10.0
# The part of a webhook's answer that is read (it says nothing we need).
MAX_ANSWER_BYTES = 64 * 1024
# One message to one channel is given up after this long.
SEND_TIMEOUT_SECONDS = 10.0
# The run's end waits at most this long, once, for every message still unsent.
END_WAIT_SECONDS = 5.0
# How often that wait looks for a signal that cuts it.
END_POLL_SECONDS = 0.05
# Messages waiting for one channel; past this a new one is counted as failed.
MAX_QUEUED = 100
# An email's subject is the message's start, cut at a word, at most this long.
SUBJECT_CHARS = 120


class Channel(Protocol):
    """Where alerts go. `send` blocks (it runs on a thread), is bounded by its own
    timeout, and raises when the message was not taken."""

    # How a failure names it on the console: "webhook hooks.slack.com".
    name: str

    def send(self, text: str) -> None: ...


class Webhook:
    """A URL that takes a POST of `{"text": ...}`; any status but 2xx is a failure (a
    redirect too: it is not followed, the message would be lost). At most
    MAX_ANSWER_BYTES of the answer are read; a failure's words never hold the URL."""

    def __init__(self, url: str, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout
        parts = urlsplit(url)
        # the host only: a webhook's path is its token
        self.name = f"webhook {parts.netloc.rpartition('@')[2]}"
        self._token = (parts.path + (f"?{parts.query}" if parts.query else "")).lstrip("/")

    def send(self, text: str) -> None:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"content-type": "application/json"}
        )
        try:
            with _NO_REDIRECTS.open(request, timeout=self.timeout) as answer:
                answer.read(MAX_ANSWER_BYTES)
        except Exception as exc:
            raise RuntimeError(self._scrubbed(exc)) from None

    def _scrubbed(self, exc: Exception) -> str:
        said = str(exc) or type(exc).__name__
        if isinstance(exc, urllib.error.HTTPError):
            said = f"HTTP {exc.code} {exc.reason}"
        return masked(said, (self.url, self._token))


class _Refused(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is then an HTTPError: a failure, not a GET elsewhere


_NO_REDIRECTS = urllib.request.build_opener(_Refused)


class Email:
    """An email to the alert's addresses through its SMTP server."""

    def __init__(self, alert: Alert, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        assert alert.smtp is not None, "an email alert has its SMTP server (compile)"
        self.alert, self.smtp = alert, alert.smtp
        self.timeout = timeout
        # its addresses too: two emails through one server are two channels
        self.name = f"email to {', '.join(alert.to)} via {self.smtp.host}:{self.smtp.port}"

    def send(self, text: str) -> None:
        message = EmailMessage()
        message["Subject"] = subject_of(text)
        message["From"] = self.alert.sender
        message["To"] = ", ".join(self.alert.to)
        message.set_content(text)
        try:
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout) as server:
                if self.smtp.starttls:
                    server.starttls(context=tls_context())
                if self.smtp.username is not None:
                    server.login(self.smtp.username, self.smtp.password or "")
                server.send_message(message)
        except Exception as exc:
            raise RuntimeError(self._scrubbed(exc)) from None

    def _scrubbed(self, exc: Exception) -> str:
        """A failure's words without the login: a server may echo the AUTH line back,
        the user and password base64-encoded in it."""
        said = str(exc) or type(exc).__name__
        user, password = self.smtp.username or "", self.smtp.password or ""
        logins = [f"\0{user}\0{password}", password, user] if password else []
        encoded = [base64.b64encode(text.encode()).decode() for text in logins if text]
        return masked(said, [*encoded, password])


def masked(said: str, secrets: Iterable[str | None]) -> str:
    """`said` with every (non-empty) secret in it replaced by the mask."""
    for secret in secrets:
        if secret:
            said = said.replace(secret, MASK)
    return said


def subject_of(text: str) -> str:
    """The message's start as an email subject, cut at a word (not in a port or a name)."""
    if len(text) <= SUBJECT_CHARS:
        return text
    cut = text[: SUBJECT_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + " …"


def tls_context() -> ssl.SSLContext:
    """How STARTTLS checks the SMTP server: the system's trusted CAs, its name checked."""
    return ssl.create_default_context()


def channels_for(alerts: Sequence[Alert], webhooks: Sequence[str]) -> list[Channel]:
    """The plan's alerts, then each --alert-webhook."""
    channels: list[Channel] = []
    for alert in alerts:
        channels.append(Webhook(alert.webhook) if alert.webhook else Email(alert))
    channels.extend(Webhook(url) for url in webhooks)
    return channels


# --------------------------------------------------------------------------- messages


def check_words(outcome: Outcome) -> str:
    """`error_rate<1%: 100.00% (limit < 1%)`."""
    check = outcome.check
    return f"{check.source}: {describe_value(check, outcome.value)} (limit {describe_limit(check)})"


def change_message(outcome: Outcome, now_failing: bool, where: str, elapsed: float) -> str:
    state = "failing" if now_failing else "recovered"
    when = format_seconds(round(elapsed, 1))
    return f"yamlload: check {state}: {check_words(outcome)}, {when} into the run of {where}"


def final_message(
    word: str, where: str, duration: float, failed: Sequence[Outcome], stopped_by: str | None
) -> str:
    """The run's end: its verdict, how long it ran, and the checks that failed."""
    stopped = f", stopped by {stopped_by}" if stopped_by else ""
    details = "; ".join(check_words(o) for o in failed) or "every check passed"
    return f"yamlload: {word}: {where} ran {format_seconds(round(duration, 1))}{stopped}. {details}"


# --------------------------------------------------------------------------- the watcher


class Alerts:
    """A Watcher: judges `checks` once a period and sends what changed (module doc)."""

    name = "alerts"

    def __init__(
        self,
        channels: Sequence[Channel],
        checks: Sequence[Check],
        where: str,
        mask: Callable[[str], str],
        say: Callable[[str], None],
    ) -> None:
        self.channels = list(channels)
        self.checks = list(checks)
        self.where = where  # "plans/x.yml against http://..." (masked)
        self.mask = mask
        self.say = say
        self.errors = 0
        self.sent = 0  # messages delivered, one per channel
        self._failing: set[int] = set()  # the indexes of the checks failing now
        self._next_at = ALERT_PERIOD_SECONDS
        self._told: set[str] = set()
        self._lock = threading.Lock()  # failures are told from the outboxes' threads
        self._outboxes = [
            Outbox(channel, self.failed, self._delivered) for channel in self.channels
        ]

    async def start(self) -> None:
        self._next_at = ALERT_PERIOD_SECONDS

    def second(self, live: LiveSeries, progress: Progress) -> None:
        if progress.elapsed < self._next_at or not self.checks:
            return
        while self._next_at <= progress.elapsed:
            self._next_at += ALERT_PERIOD_SECONDS
        for text in self.changes(live, progress):
            self.post(text)

    def changes(self, live: LiveSeries, progress: Progress) -> list[str]:
        """A message for each check that started failing or passes again."""
        outcomes = evaluate(self.checks, summary_so_far(live.total, progress.elapsed))
        texts = []
        for index, outcome in enumerate(outcomes):
            was, failed = index in self._failing, is_failing(outcome)
            if failed and not was:
                self._failing.add(index)
            elif was and outcome.ok:
                self._failing.discard(index)
            else:
                continue
            texts.append(change_message(outcome, failed, self.where, progress.elapsed))
        return texts

    def post(self, text: str) -> None:
        """Queue `text` for every channel; it returns at once."""
        masked = self.mask(one_line(text))
        for outbox in self._outboxes:
            outbox.put(masked)

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        """Nothing to wait for here: the end waits once, in `final`, after the loop."""

    def final(self, text: str, interrupted: Callable[[], bool] = lambda: False) -> None:
        """The verdict to every channel, then one wait of at most END_WAIT_SECONDS for
        all that is unsent (cut short when `interrupted()`); what is still unsent then
        is counted as failed."""
        self.post(text)
        deadline = time.monotonic() + END_WAIT_SECONDS
        while not all(outbox.idle.is_set() for outbox in self._outboxes):
            if interrupted() or time.monotonic() >= deadline:
                break
            # one may have gone idle since the check above: then there is none to wait on
            busy = next((o for o in self._outboxes if not o.idle.is_set()), None)
            if busy is not None:
                busy.idle.wait(END_POLL_SECONDS)
        for outbox in self._outboxes:
            unsent = outbox.unsent
            if unsent:
                self._count(unsent - 1)
                self.failed(outbox.channel, TimeoutError(f"{unsent} message(s) not sent in time"))

    def _delivered(self) -> None:
        with self._lock:
            self.sent += 1

    def _count(self, failures: int) -> None:
        with self._lock:
            self.errors += failures

    def failed(self, channel: Channel, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            if channel.name in self._told:
                return
            self._told.add(channel.name)
        why = str(exc) or type(exc).__name__
        self.say(
            self.mask(
                one_line(
                    f"warning: alert to {channel.name} failed ({why}); the run goes on, "
                    "further failures are counted (yamlload.alert_errors)"
                )
            )
        )


class Outbox:
    """One channel's messages, sent in order by a daemon thread started on the first.
    `unsent` counts those queued or being sent; `idle` is set when there are none."""

    def __init__(
        self,
        channel: Channel,
        failed: Callable[[Channel, BaseException], None],
        delivered: Callable[[], None],
    ) -> None:
        self.channel = channel
        self.failed = failed
        self.delivered = delivered
        self.unsent = 0
        self.idle = threading.Event()
        self.idle.set()
        self._queue: queue.Queue[str] = queue.Queue(MAX_QUEUED)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def put(self, text: str) -> None:
        with self._lock:
            taken = not self._queue.full()
            if taken:
                self.unsent += 1  # before the thread can take it
                self.idle.clear()
                self._queue.put_nowait(text)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._send_each, name=f"alerts: {self.channel.name}", daemon=True
                    )
                    self._thread.start()
        if not taken:
            self.failed(self.channel, RuntimeError(f"more than {MAX_QUEUED} alerts waiting"))

    def _send_each(self) -> None:
        while True:
            text = self._queue.get()
            try:
                self.channel.send(text)
            except Exception as exc:
                self.failed(self.channel, exc)
            else:
                self.delivered()
            with self._lock:
                self.unsent -= 1
                if not self.unsent:
                    self.idle.set()
