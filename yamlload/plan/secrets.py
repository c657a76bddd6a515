"""Secrets stay secret: what the console, logs and reports show in place of them.

A value is secret when it is read through `$env`/`$processEnvironment` (every one, by
default, except in `target` and `phases`), when its name is listed in `config.secrets`
(an environment variable, a `config.variables` entry, or a variable a user captures at
run time), or when it is the literal value of a credential header, cookie or basic-auth
password in the plan, or the password in the target URL or a monitored endpoint's URL.
Outputs show such values as `***`.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from .ir import Plan

MASK = "***"
# Shorter values are not searched for in free text: masking every "1" or "ab" in a log
# line would hide more than it protects. They are still masked where they are keyed.
MIN_SECRET_CHARS = 4
# Keys whose values are credentials wherever they appear in a plan (case-insensitive).
CREDENTIAL_KEYS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "pass"}
    # publish-metrics' `apiKey` (Datadog, New Relic...), and the usual names of one
    | {"apikey", "api_key", "api-key", "password", "secret", "client_secret", "x-auth-token"}
)
# Query parameters whose values are credentials in a URL the run calls (a scrape URL's
# ?token=...), compared lowercased.
CREDENTIAL_QUERY_KEYS = CREDENTIAL_KEYS | frozenset(
    {"token", "access_token", "access-token", "private_token", "id_token", "refresh_token"}
    # not `key`, `code` or `session`: as often a search key or a status as a secret
    | {"auth", "auth_token", "sig", "signature", "jwt"}
    # a presigned S3 URL's, and a signed Google Cloud Storage URL's
    | {"x-amz-signature", "x-amz-credential", "x-amz-security-token"}
    | {"x-goog-signature", "x-goog-credential"}
)
# Such a parameter in any URL of any text, whatever its value's length: `?token=abc`.
_QUERY_CREDENTIAL = re.compile(
    r"([?&](?:" + "|".join(map(re.escape, sorted(CREDENTIAL_QUERY_KEYS))) + r")=)[^&#\s'\"]+",
    re.IGNORECASE,
)
# WebSocket subprotocols, where browsers' clients carry a bearer token (Kubernetes'
# `base64url.bearer.authorization.k8s.io.TOKEN`, `access_token, TOKEN`): a long part
# with a digit or a capital is a secret; a protocol's name (`chat`, `json`,
# `graphql-transport-ws`) and a marker (`access_token`) are not.
SUBPROTOCOL_KEYS = frozenset({"sec-websocket-protocol", "subprotocols"})
SUBPROTOCOL_TOKEN_CHARS = 16
SUBPROTOCOL_TOKEN_MARKERS = frozenset({"access_token", "bearer", "token", "authorization"})
# Maps whose every value is a credential: cookies given by name.
CREDENTIAL_MAPS = frozenset({"cookie"})
# $env values used under these keys are not masked: they say where and how much load
# goes, and every output shows them (a password in the target is still masked).
PUBLIC_KEYS = frozenset({"target", "phases"})
# `scheme://user:password@`: the password part, wherever a URL appears in free text.
# How many sets of run-time secrets keep their own compiled redactor.
MAX_EXTENDED_REDACTORS = 256
# A URL's password, up to its last @ (a password may hold a /), with or without a scheme.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s]*@")
_SCHEMELESS_USERINFO = re.compile(r"(^|[\s'\"(])([^/\s:@'\"]+:)(?!//)[^@\s'\"]*@(?=[\w.\[])")
_ENV_REFERENCE = re.compile(r"\$(?:env|processEnvironment)\.([A-Za-z_][A-Za-z0-9_]*)")


class Redactor:
    """Masks known secret values in text and credential fields in plan documents."""

    def __init__(self, values: Iterable[str] = (), names: Iterable[str] = ()) -> None:
        plain = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_CHARS}
        self._plain = frozenset(plain)
        # A secret may come back encoded: in a URL's query, or inside a JSON string.
        kept = plain | {encoded for v in plain for encoded in _encodings(v)}
        # Longest first, so a secret that contains another is masked whole.
        self.values = sorted(kept, key=len, reverse=True)
        self.names = frozenset(n.lower() for n in names)
        self._pattern = re.compile("|".join(map(re.escape, self.values))) if self.values else None
        # Redactors extended with run-time secrets (captured values), kept so a log line
        # does not compile a pattern of its own.
        self._extended: dict[frozenset[str], Redactor] = {}

    @classmethod
    def for_plan(cls, plan: Plan) -> Redactor:
        """The plan's redactor: its secret values were found when it was compiled."""
        return cls(plan.secret_values, plan.secrets)

    def is_secret(self, value: str) -> bool:
        return value in self._plain

    def text(self, text: str, extra: Iterable[str] = ()) -> str:
        """`text` with every secret value (and any in `extra`) replaced by ***, and the
        password of any URL in it, however short, and even in a malformed URL."""
        text = mask_userinfo(text)
        more = [v for v in extra if len(v) >= MIN_SECRET_CHARS and v in text]
        if more:
            return self._with(frozenset(more)).text(text)
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def _with(self, more: frozenset[str]) -> Redactor:
        found = self._extended.get(more)
        if found is None:
            if len(self._extended) >= MAX_EXTENDED_REDACTORS:
                self._extended.clear()  # many different captured secrets: start again
            found = self._extended[more] = Redactor([*self.values, *more])
        return found

    def url(self, url: str) -> str:
        """A URL with the password of its user-info part masked."""
        return self.text(url)  # text() masks every URL's password, however short

    def document(self, node: Any, key: str = "") -> Any:
        """A copy of a plan document with credentials and secret values masked."""
        lowered = key.lower()
        if isinstance(node, Mapping):
            if lowered in CREDENTIAL_MAPS:
                return {k: MASK for k in node}
            return {k: self.document(v, str(k)) for k, v in node.items()}
        if isinstance(node, list):
            if lowered in self.names:
                return [MASK for _ in node]
            inherited = key if lowered in SUBPROTOCOL_KEYS else ""
            return [self.document(v, inherited) for v in node]
        if isinstance(node, str):
            if lowered in CREDENTIAL_KEYS or lowered in self.names:
                return MASK
            if lowered in SUBPROTOCOL_KEYS:
                tokens = _token_protocols(node)
                return ", ".join(MASK if p in tokens else p for p in _protocols(node))
            if lowered == "target":  # its password, however short
                return self.url(node)
            return self.text(node)
        if lowered in self.names and node is not None:
            return MASK
        return node


def secret_values(
    document: Any,
    env: Mapping[str, str],
    names: Iterable[str],
    target: str,
    urls: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> frozenset[str]:
    """Every value a plan's outputs must mask (module docstring), found in its layered
    `document`: the compiler calls this once and keeps the set in the plan. `urls` are
    other URLs the run calls (config.monitor's endpoints): their passwords are secret.
    `extra` are secret whole (config.alerts' webhook URLs: their path is a token)."""
    names = tuple(names)
    referenced = {
        name
        for text in _strings(document, skip=PUBLIC_KEYS)
        for name in _ENV_REFERENCE.findall(text)
    }
    values = [env[name] for name in referenced | set(names) if name in env]
    config = document.get("config", {}) if isinstance(document, dict) else {}
    variables = config.get("variables", {}) if isinstance(config, dict) else {}
    for name in names:
        if isinstance(variables, dict) and name in variables:
            values.extend(_strings(variables[name]))
    values.extend(_credential_literals(document, frozenset(n.lower() for n in names)))
    values.extend(_target_credentials(target))
    for url in urls:
        values.extend(_target_credentials(url))
        values.extend(_query_credentials(url))
    values.extend(extra)
    return frozenset(values)


def mask_userinfo(text: str) -> str:
    """`text` with the password of every URL in it masked, however short, with or
    without a scheme, even in a URL too malformed to parse (an error message's), and
    every query parameter named like a credential (`?token=***`)."""
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _QUERY_CREDENTIAL.sub(rf"\1{MASK}", text)
    return _SCHEMELESS_USERINFO.sub(rf"\1\2{MASK}@", text)


def _target_credentials(target: str) -> list[str]:
    """The target's password, and the Basic token a request sends for it (a server may
    echo it back), with or without a scheme in the target."""
    try:
        parts = urlsplit(target if "://" in target else f"http://{target}")
        user, password = parts.username, parts.password
    except ValueError:  # a malformed port
        return []
    if not password:
        return []
    token = base64.b64encode(f"{user or ''}:{password}".encode()).decode("ascii")
    return [password, token]


def _query_credentials(url: str) -> list[str]:
    """The values of a URL's query parameters named like credentials, as written and
    as decoded."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return []
    found = []
    for pair in query.split("&"):
        name, _, raw = pair.partition("=")
        if name.lower() in CREDENTIAL_QUERY_KEYS and raw:
            found.append(raw)
            found.extend(value for _, value in parse_qsl(pair) if value != raw)
    return found


def _encodings(value: str) -> set[str]:
    """The forms a secret takes when a URL or a JSON body carries it. A lone surrogate
    (which the plan reader refuses) is quoted from its surrogatepass bytes: never a crash."""
    raw = value.encode("utf-8", "surrogatepass")
    escaped = json.dumps(value)[1:-1]
    return {
        quote(raw, safe=""),
        quote(raw, safe="/"),
        quote_plus(raw),
        # as yarl (aiohttp) writes a query value: "/?:@" and some sub-delims kept, + for space
        quote_plus(raw, safe="/"),
        quote_plus(raw, safe="?/:@!$'()*,"),
        escaped,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(escaped)[1:-1],  # a JSON string inside a JSON string
    } - {value}


def _strings(node: Any, skip: frozenset[str] = frozenset()) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key not in skip:
                yield from _strings(value, skip)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, skip)


def _credential_literals(node: Any, names: frozenset[str], key: str = "") -> Iterable[str]:
    """The literal (untemplated) parts of credential values written in the plan."""
    lowered = key.lower()
    if isinstance(node, Mapping):
        for k, v in node.items():
            if lowered in CREDENTIAL_MAPS:
                yield from _literal_parts(v)
            else:
                yield from _credential_literals(v, names, str(k))
    elif isinstance(node, list):
        for value in node:
            yield from _credential_literals(value, names, key)
    elif isinstance(node, str) and (lowered in CREDENTIAL_KEYS or lowered in names):
        yield from _literal_parts(node)
    elif isinstance(node, str) and lowered in SUBPROTOCOL_KEYS:
        yield from (p for p in _token_protocols(node) if "{{" not in p)


def _protocols(value: str) -> list[str]:
    """A Sec-WebSocket-Protocol value's (or one subprotocol's) comma-separated parts."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _token_protocols(value: str) -> set[str]:
    """The parts that are tokens: long ones with a digit or a capital, and whatever
    follows a marker (`access_token, TOKEN`), however short."""
    parts = _protocols(value)
    found = {
        part
        for part in parts
        if len(part) >= SUBPROTOCOL_TOKEN_CHARS and any(c.isdigit() or c.isupper() for c in part)
    }
    found |= {
        after
        for before, after in itertools.pairwise(parts)
        if before.lower() in SUBPROTOCOL_TOKEN_MARKERS
    }
    return found


def _literal_parts(value: Any) -> Iterable[str]:
    """`Bearer abc123{{ x }}` → `abc123`: the words outside templates that could be keys.
    A scheme word alone (Bearer, Basic) is not a secret."""
    if not isinstance(value, str):
        return
    outside = re.sub(r"\{\{.*?\}\}", " ", value)
    for word in outside.split():
        if word.lower() not in ("bearer", "basic", "token", "digest"):
            yield word
