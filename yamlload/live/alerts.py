"""Alerts (issue 17): `--alert-webhook` and config.alerts. Once a period the checks that
can already fail are judged on the run so far (checks/live.py); a check that starts
failing sends one alert, one that passes again a recovery, and the CLI sends the
verdict at the end (`Alerts.final`).

Delivery is off the hot path: each message goes to each channel on a thread
(`asyncio.to_thread`), bounded by SEND_TIMEOUT_SECONDS, from a task of its own; a
failure is counted (`Alerts.errors`, the report's yamlload.alert_errors), told once per
channel, and never the run's. Webhooks take Slack's `{"text": ...}` (Slack, Mattermost,
Teams' incoming webhooks); email goes through smtplib, STARTTLS optional."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

from ..checks.evaluate import evaluate
from ..checks.live import is_failing, summary_so_far
from ..checks.outcome import Outcome, describe_limit, describe_value
from ..checks.parse import Check
from ..metrics.live import LiveSeries
from ..plan.ir import Alert
from ..results.run import Progress
from ..text import one_line
from ..units import format_seconds

# How often the checks are judged for alerts: once a 10-second period.
ALERT_PERIOD_SECONDS = 10.0
# One message to one channel is given up after this long.
SEND_TIMEOUT_SECONDS = 10.0
# The run's end waits at most this long for the alerts still being sent.
FINISH_WAIT_SECONDS = 10.0
# An email's subject is the message's first this many characters.
SUBJECT_CHARS = 120


class Channel(Protocol):
    """Where alerts go. `send` blocks (it runs on a thread), is bounded by its own
    timeout, and raises when the message was not taken."""

    # How a failure names it on the console: "webhook hooks.slack.com".
    name: str

    def send(self, text: str) -> None: ...


class Webhook:
    """A URL that takes a POST of `{"text": ...}`; any status but 2xx is a failure."""

    def __init__(self, url: str, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout
        # the host only: a webhook's path is its token
        self.name = f"webhook {urlsplit(url).netloc.rpartition('@')[2]}"

    def send(self, text: str) -> None:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            answer.read()


class Email:
    """An email to the alert's addresses through its SMTP server."""

    def __init__(self, alert: Alert, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        assert alert.smtp is not None, "an email alert has its SMTP server (compile)"
        self.alert, self.smtp = alert, alert.smtp
        self.timeout = timeout
        self.name = f"email via {self.smtp.host}:{self.smtp.port}"

    def send(self, text: str) -> None:
        message = EmailMessage()
        message["Subject"] = text[:SUBJECT_CHARS]
        message["From"] = self.alert.sender
        message["To"] = ", ".join(self.alert.to)
        message.set_content(text)
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout) as server:
            if self.smtp.starttls:
                server.starttls(context=tls_context())
            if self.smtp.username is not None:
                server.login(self.smtp.username, self.smtp.password or "")
            server.send_message(message)


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
        self._failing: set[int] = set()  # the indexes of the checks failing now
        self._next_at = ALERT_PERIOD_SECONDS
        self._pending: set[asyncio.Future[None]] = set()
        self._told: set[str] = set()

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
        """Send `text` to every channel from a task of its own."""
        task = asyncio.ensure_future(self._deliver(self.mask(one_line(text))))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, text: str) -> None:
        for channel in self.channels:
            try:
                await asyncio.wait_for(asyncio.to_thread(channel.send, text), SEND_TIMEOUT_SECONDS)
            except Exception as exc:
                self.failed(channel, exc)

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        """Wait (a while) for the alerts still being sent."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=FINISH_WAIT_SECONDS)

    def final(self, text: str) -> None:
        """The verdict to every channel at once, on threads, after the loop is gone;
        waits at most SEND_TIMEOUT_SECONDS (and a moment)."""
        text = self.mask(one_line(text))
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(self.channels) or 1)
        sent = {pool.submit(channel.send, text): channel for channel in self.channels}
        done, late = concurrent.futures.wait(sent, timeout=SEND_TIMEOUT_SECONDS + 1)
        pool.shutdown(wait=False)
        for future in done:
            error = future.exception()
            if error is not None:
                self.failed(sent[future], error)
        for future in late:
            self.failed(sent[future], TimeoutError("no answer in time"))

    def failed(self, channel: Channel, exc: BaseException) -> None:
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
