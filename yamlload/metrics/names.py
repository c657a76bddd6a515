"""Metric names that more than one part of yamlload writes or reads, in one place.

A per-endpoint metric is `ENDPOINT_PREFIX.<label>.<field>`; `endpoint_key` builds one and
`split_endpoint_key` takes one apart, so no reader splits names by hand."""

from __future__ import annotations

# Artillery's metrics-by-endpoint plugin names its metrics under this prefix.
ENDPOINT_PREFIX = "plugins.metrics-by-endpoint"
ENDPOINT_LATENCY = ENDPOINT_PREFIX + ".response_time."
# The endpoint fields that are counters of their own (codes and errors have a sub-key).
ENDPOINT_FIELDS = ("requests", "requests_failed", "requests_interrupted")
ENDPOINT_KINDS = ("codes", "errors")

REQUESTS = "http.requests"
RESPONSES = "http.responses"
REQUESTS_FAILED = "http.requests_failed"
REQUESTS_INTERRUPTED = "http.requests_interrupted"
RESPONSE_TIME = "http.response_time"
# Not recorded: the reports work it out, requests over seconds (results.views).
REQUEST_RATE = "http.request_rate"
CODES = "http.codes."
ERRORS = "errors."
USERS_CREATED = "vusers.created"
USERS_COMPLETED = "vusers.completed"
USERS_FAILED = "vusers.failed"
USERS_INTERRUPTED = "vusers.interrupted"
ARRIVAL_LAG = "yamlload.arrival_lag"
CPU_MS = "yamlload.cpu_ms"
ACTIVE_USERS = "yamlload.active_users"
# The generator's resident memory in MB, sampled once a second (a histogram: its max is
# the peak; merged over workers, the largest process's).
RSS_MB = "yamlload.rss_mb"
# Requests counted as errors that never left yamlload: their user's values could not
# make them (a missing formData file, a header with a line break). Part of the errors,
# so that a run of only these is not called one that "could not reach the target".
REQUESTS_UNSENT = "yamlload.requests_unsent"
# A watcher of the run (the dashboard, a push output) that failed once: never the run's fault.
OUTPUT_ERRORS = "yamlload.output_errors"
# Alerts (--alert-webhook, config.alerts) that could not be delivered: live/alerts.py.
ALERT_ERRORS = "yamlload.alert_errors"
# ...and those that were delivered (a message to one channel, each).
ALERTS_SENT = "yamlload.alerts_sent"
USERS_SKIPPED = "vusers.skipped"
USERS_CREATED_BY_NAME = "vusers.created_by_name."
SESSION_LENGTH = "vusers.session_length"
ITERATIONS = "yamlload.iterations"
DOWNLOADED_BYTES = "http.downloaded_bytes"
TTFB = "http.ttfb"
DNS = "http.dns"
TCP = "http.tcp"
TLS = "http.tls"
# Every `expect` counter is under this: ok.<kind> and failed.<kind>.
EXPECT_PREFIX = "plugins.expect."
EXPECT_OK = "plugins.expect.ok"
EXPECT_FAILED = "plugins.expect.failed"
APDEX_SATISFIED = "apdex.satisfied"
APDEX_TOLERATED = "apdex.tolerated"
APDEX_FRUSTRATED = "apdex.frustrated"
APDEX_SCORE = "apdex.score"
# Response times by status class: http.response_time.2xx and so on.
RESPONSE_TIME_BY_CLASS = tuple(f"{RESPONSE_TIME}.{c}xx" for c in "12345")

# WebSocket scenarios (issue 19). Artillery's ws engine names the first four; the rates
# are not recorded but worked out like http.request_rate (counter / seconds).
WS_MESSAGES_SENT = "websocket.messages_sent"
WS_SEND_RATE = "websocket.send_rate"
WS_MESSAGES_RECEIVED = "websocket.messages_received"
WS_RECEIVE_RATE = "websocket.receive_rate"
# ...and ours: handshake time (ms), a connection's life (ms, completed sessions), the
# time from a `send` to the reply it waited for (ms), messages no step was waiting for
# (dropped unread, as Artillery drops them), and sessions: each one opened ends once as
# completed, failed or interrupted.
WS_CONNECT_TIME = "websocket.connect_time"
WS_SESSION_LENGTH = "websocket.session_length"
WS_RESPONSE_TIME = "websocket.response_time"
WS_MESSAGES_UNREAD = "websocket.messages_unread"
WS_SESSIONS = "websocket.sessions"
# Connections that could not be opened (each also an errors.* name that failed its user).
WS_CONNECT_FAILED = "websocket.connect_failed"
WS_SESSIONS_COMPLETED = "websocket.sessions_completed"
WS_SESSIONS_FAILED = "websocket.sessions_failed"
WS_SESSIONS_INTERRUPTED = "websocket.sessions_interrupted"
# The ws histograms, in the order the outputs show them (all in ms).
WS_HISTOGRAMS = (WS_CONNECT_TIME, WS_RESPONSE_TIME, WS_SESSION_LENGTH)
# Each worked-out rate and the counter it is the rate of.
WS_RATES = {WS_SEND_RATE: WS_MESSAGES_SENT, WS_RECEIVE_RATE: WS_MESSAGES_RECEIVED}

# An arrival this late against its schedule (p99, ms) means the generator could not keep
# up: the summary warns over it, and a run is invalid over it unless --max-lag says else.
MAX_ARRIVAL_LAG_MS = 100.0


def endpoint_key(label: str, field: str) -> str:
    """`endpoint_key("GET /a", "codes.200")` → `plugins.metrics-by-endpoint.GET /a.codes.200`."""
    return f"{ENDPOINT_PREFIX}.{label}.{field}"


def split_endpoint_key(key: str) -> tuple[str, str, str] | None:
    """A per-endpoint counter's (label, field, item): item is the code or error for
    `codes` and `errors`, else "". None when the key is not a per-endpoint counter."""
    if not key.startswith(ENDPOINT_PREFIX + ".") or key.startswith(ENDPOINT_LATENCY):
        return None
    rest = key[len(ENDPOINT_PREFIX) + 1 :]
    label, _, field = rest.rpartition(".")
    if field in ENDPOINT_FIELDS:
        return label, field, ""
    # The kind is the last `.codes.`/`.errors.` in the key: a label may hold either.
    at, kind = max((rest.rfind(f".{kind}."), kind) for kind in ENDPOINT_KINDS)
    if at < 0:
        return None
    return rest[:at], kind, rest[at + len(kind) + 2 :]
