"""config.alerts (issue 17): webhooks and email, each checked by the schema; the SMTP
login's templates (`{{ $env.SMTP_PASSWORD }}`) are resolved now, as config's are."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..ir import DEFAULT_SMTP_PORT, Alert, Smtp
from ..source import Path
from .context import Context

ALERTS: Path = ("config", "alerts")
LOGIN_KEYS = ("username", "password")
# What no URL may hold: whitespace and control characters (urllib refuses them, with the
# URL, token and all, in its error).
_UNSENDABLE = re.compile(r"[\s\x00-\x1f\x7f]")


def compile_alerts(cx: Context) -> tuple[Alert, ...]:
    """Each alert of config.alerts, in order; a broken one adds problems, not an alert."""
    if ALERTS in cx.broken:  # not a list; each alert is checked whole below
        return ()
    alerts: list[Alert] = []
    for index, spec in enumerate(cx.sequence(ALERTS)):
        path = (*ALERTS, index)
        if not isinstance(spec, dict) or not cx.healthy(path):
            continue
        alert = _alert(cx, path, spec)
        if alert is not None:
            alerts.append(alert)
    return tuple(alerts)


def webhook_problem(url: str) -> str | None:
    """Why a webhook URL cannot be sent to, in words that never show it (its path, and
    any password in it, are its credentials); None when it can."""
    url = url.strip()
    if _UNSENDABLE.search(url):
        return "a webhook URL may not hold spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        return "expected an http:// or https:// URL with a host (and a port of digits)"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL, such as https://hooks.slack.com/services/..."
    if "@" in parts.netloc:
        return (
            "a webhook URL may not hold a user or password (they would be sent to DNS as "
            "part of the host): a webhook's token is in its path"
        )
    return None


def _alert(cx: Context, path: Path, spec: dict[str, Any]) -> Alert | None:
    pos = cx.doc.pos(path)
    if "webhook" in spec:
        url = cx.resolve((*path, "webhook"), spec["webhook"])
        if url is None:
            return None
        problem = webhook_problem(str(url))
        if problem is not None:
            cx.error((*path, "webhook"), problem)
            return None
        return Alert(webhook=str(url).strip(), pos=pos)
    email = spec.get("email")
    if not isinstance(email, dict):  # the schema told what is wrong with it
        return None
    smtp = _smtp(cx, (*path, "email", "smtp"), email["smtp"])
    if smtp is None:
        return None
    given = email["to"]
    to = (str(given),) if isinstance(given, str) else tuple(str(a) for a in given)
    return Alert(to=to, sender=str(email["from"]), smtp=smtp, pos=pos)


def _smtp(cx: Context, path: Path, spec: dict[str, Any]) -> Smtp | None:
    login = {key: cx.resolve((*path, key), spec[key]) for key in LOGIN_KEYS if key in spec}
    if any(value is None for value in login.values()):
        return None  # a template that cannot be resolved: its problem is told
    return Smtp(
        host=str(spec["host"]),
        port=int(spec.get("port", DEFAULT_SMTP_PORT)),
        starttls=bool(spec.get("starttls", False)),
        username=None if login.get("username") is None else str(login["username"]),
        password=None if login.get("password") is None else str(login["password"]),
    )
