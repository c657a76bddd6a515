"""The plan IR: immutable data that everything after the compiler consumes.

A `Plan` is pure data. It can answer "what happens at time t" (with `yamlload.schedule`)
without any I/O, and it holds templates, conditions and capture paths already parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ..errors import Pos, Problem
from ..monitor.selector import Expr
from ..monitor.values import PROCESS_METRICS as PROCESS_METRICS  # for report readers
from .expr import CompiledPath, Condition, Template

# Where a node of the IR came from, when it was built without a plan file.
NOWHERE = Pos("<plan>")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
METHODS: tuple[str, ...] = ("get", "post", "put", "patch", "delete", "head", "options")

# A request body or other structured value: JSON-like, with Templates where strings had
# `{{ }}`. Mappings are tuples of pairs so that the whole value stays hashable/frozen.
Value = Any


@dataclass(frozen=True)
class TMap:
    """A frozen mapping of templated values (JSON objects in bodies, headers...)."""

    items: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class TList:
    items: tuple[Value, ...] = ()


# --------------------------------------------------------------------------- phases

PhaseKind = Literal["rate", "ramp", "count", "pause", "users"]


@dataclass(frozen=True)
class Phase:
    """One phase, with every number resolved and durations in seconds.

    kind:
      rate   `arrivalRate` users per second for `duration`
      ramp   from `arrival_rate` to `ramp_to` per second over `duration`
      count  `arrival_count` users spread evenly over `duration`
      pause  nothing for `duration`
      users  closed model: keep `users` looping for `duration`, started at
             `spawn_rate` per second (or all at once when it is None)

    graceful_stop (users phases only, from `gracefulStop`): seconds a user still looping
    when the phase ends may take to finish the iteration it is in before it is stopped.
    """

    index: int
    name: str
    kind: PhaseKind
    duration: float
    arrival_rate: float = 0.0
    ramp_to: float = 0.0
    arrival_count: int = 0
    users: int = 0
    spawn_rate: float | None = None
    max_vusers: int | None = None
    mode: Literal["uniform", "poisson"] = "uniform"
    graceful_stop: float = 30.0
    pos: Pos = NOWHERE


# --------------------------------------------------------------------------- flows


@dataclass(frozen=True)
class Capture:
    """Take a value from a response into a variable.

    kind json/jmespath use `path`; regexp uses `regexp` and `group`; header uses `header`.
    """

    kind: Literal["json", "jmespath", "regexp", "header"]
    as_name: str
    source: str
    path: CompiledPath | None = None
    regexp: re.Pattern[str] | None = None
    group: int | str | None = None
    header: str | None = None
    strict: bool = True
    pos: Pos = NOWHERE


ExpectKind = Literal[
    "statusCode",
    "notStatusCode",
    "contentType",
    "hasProperty",
    "notHasProperty",
    "equals",
    "hasHeader",
    "headerEquals",
    "matchesRegexp",
    "jmespath",
    "cdnHit",
]


@dataclass(frozen=True)
class Expect:
    """One `expect` check; `args` holds its templated operands."""

    kind: ExpectKind
    args: tuple[Value, ...]
    pos: Pos = NOWHERE
    path: CompiledPath | None = None  # for `jmespath`
    regexp: re.Pattern[str] | None = None  # for `matchesRegexp` with a constant pattern


@dataclass(frozen=True)
class Match:
    """Artillery's legacy `match`: a capture compared with an expected value."""

    capture: Capture
    value: Value
    pos: Pos = NOWHERE


@dataclass(frozen=True)
class FormFile:
    """A multipart field read from a file (`fromFile`), relative to the plan."""

    path: Template
    base_dir: str
    content_type: Template | None = None
    filename: Template | None = None


@dataclass(frozen=True)
class Request:
    method: Method
    url: Template
    name: str | None = None
    headers: TMap = TMap()
    qs: TMap = TMap()
    json: Value = None
    has_json: bool = False
    body: Value = None
    form: TMap | None = None
    form_data: TMap | None = None
    cookie: TMap = TMap()
    auth: tuple[Template, Template] | None = None
    follow_redirect: bool = True
    gzip: bool = False
    captures: tuple[Capture, ...] = ()
    expects: tuple[Expect, ...] = ()
    matches: tuple[Match, ...] = ()
    if_true: Condition | None = None
    probability: float | None = None
    before_request: tuple[str, ...] = ()
    after_response: tuple[str, ...] = ()
    # metrics-by-endpoint's stripQueryString: the label leaves out the url's query.
    strip_query: bool = False
    pos: Pos = NOWHERE

    @cached_property
    def label(self) -> str:
        """How this request is named in per-endpoint metrics (asked on every request):
        its `name`, or its method and url as written (templates unrendered, so that one
        endpoint is one label), without the query when `strip_query`."""
        if self.name:
            return self.name
        url = self.url.source
        if self.strip_query:
            url = url.split("?", 1)[0]
        return f"{self.method} {url}"


# Past a billion iterations a loop is a typo (a loop with no count repeats until the end):
# the compiler refuses more, and the runtime fails a templated count past it.
MAX_LOOP_COUNT = 1_000_000_000


@dataclass(frozen=True)
class LoopStep:
    steps: tuple[Step, ...]
    count: Template | tuple[int, int] | None = None  # fixed range (low, high) or a template
    over: Template | TList | None = None
    while_true: str | None = None
    pos: Pos = NOWHERE


@dataclass(frozen=True)
class ThinkStep:
    """Pause the user: `seconds` (fixed or templated), or uniformly in [min, max]."""

    seconds: float | Template | None = None
    low: float | None = None
    high: float | None = None
    jitter: float | None = None  # fraction (0.2 = ±20%)
    jitter_seconds: float | None = None  # absolute ± seconds
    pos: Pos = NOWHERE


@dataclass(frozen=True)
class LogStep:
    message: Template
    pos: Pos = NOWHERE


@dataclass(frozen=True)
class ParallelStep:
    steps: tuple[Step, ...]
    pos: Pos = NOWHERE


@dataclass(frozen=True)
class FunctionStep:
    name: str
    pos: Pos = NOWHERE


# --------------------------------------------------------------------------- websocket

# A scenario's `engine` as the plan may write it, and what each one runs as.
ENGINE_NAMES = {"http": "http", "ws": "ws", "websocket": "ws"}
# Seconds a ws step waits for a message (and a handshake may take), as Artillery's
# config.ws.timeout defaults.
DEFAULT_WS_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class WsSettings:
    """config.ws (with config.engines.ws under it): what every ws connection sends in
    its handshake, and how long a step waits for a message."""

    subprotocols: tuple[str, ...] = ()
    headers: TMap = TMap()
    timeout: float = DEFAULT_WS_TIMEOUT_SECONDS


@dataclass(frozen=True)
class WsConnect:
    """Where a ws scenario's user connects: its `connect` step (the first step), else
    config.target. A relative target is joined to config.target; headers and
    subprotocols replace config.ws's when the step gives them."""

    target: Template | None = None
    headers: TMap | None = None
    subprotocols: tuple[str, ...] | None = None
    pos: Pos = NOWHERE


@dataclass(frozen=True)
class WsSend:
    """`send`: one message, text as written or JSON for an object. With captures or
    matches (`send: {payload, capture, match}`) the step waits for the next message
    and reads it, as Artillery does."""

    payload: Value
    as_json: bool = False
    captures: tuple[Capture, ...] = ()
    matches: tuple[Match, ...] = ()
    pos: Pos = NOWHERE

    @property
    def awaits_reply(self) -> bool:
        return bool(self.captures or self.matches)


@dataclass(frozen=True)
class WsWait:
    """`wait: {for: message}` (ours): wait for a message the server pushes, without
    sending; with matches, the first message they all pass (others are skipped)."""

    captures: tuple[Capture, ...] = ()
    matches: tuple[Match, ...] = ()
    timeout: float | None = None  # None: config.ws.timeout
    pos: Pos = NOWHERE


Step = Request | LoopStep | ThinkStep | LogStep | ParallelStep | FunctionStep | WsSend | WsWait


@dataclass(frozen=True)
class Scenario:
    """One weighted flow. `name` is what metrics say (`vusers.created_by_name.NAME`): the
    plan's `name`, or for an unnamed scenario its index in the list ("0", "1", ...), as
    Artillery names it; `named` tells the two apart."""

    name: str
    weight: float
    flow: tuple[Step, ...]
    before_scenario: tuple[str, ...] = ()
    after_scenario: tuple[str, ...] = ()
    before_request: tuple[str, ...] = ()
    after_response: tuple[str, ...] = ()
    named: bool = True
    pos: Pos = NOWHERE
    # "http", or "ws" (a WebSocket scenario: `engine: ws` or `websocket`), whose user
    # holds one connection, opened as in `connect`, for its whole flow.
    engine: str = "http"
    connect: WsConnect | None = None


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Payload:
    """A CSV file whose rows feed variables (`fields`), or one list (`load_all`)."""

    path: str
    fields: tuple[str, ...]
    order: Literal["random", "sequence"] = "random"
    skip_header: bool = False
    delimiter: str = ","
    cast: bool = True
    skip_empty_lines: bool = True
    load_all: bool = False
    name: str | None = None
    pos: Pos = NOWHERE
    # The parsed rows (payload.Rows: compact, read-only, a fresh dict per row), read
    # once when the plan is compiled; None for a Payload made in code. Up to a
    # gigabyte: no part of equality or repr.
    rows: Sequence[dict[str, Any]] | None = field(default=None, compare=False, repr=False)


# config.http.transport's choices (runtime/http/choose.py picks the one that runs).
TRANSPORTS = ("fast", "aiohttp")
# The environment variable naming the transport of plans that name none.
TRANSPORT_VARIABLE = "YAMLLOAD_TRANSPORT"


@dataclass(frozen=True)
class HttpSettings:
    timeout: float = 10.0
    pool: int | None = None  # None: one connection per virtual user, as Artillery does
    max_sockets: int | None = None
    extended_metrics: bool = False
    reject_unauthorized: bool = True
    # Bodies are kept in memory only when something reads them, and never past this.
    max_body_bytes: int = 10 * 1024 * 1024
    # config.http.expectedStatuses: the statuses that count as a success, each range
    # inclusive ((200, 200), (200, 299)...). None: every 2xx and 3xx, the default.
    expected_statuses: tuple[tuple[int, int], ...] | None = None
    # config.http.transport: "fast" (the default: runtime/http/fast_transport.py, several
    # times cheaper per request) or "aiohttp" (runtime/http/aiohttp_transport.py).
    transport: str = "fast"


@dataclass(frozen=True)
class Threshold:
    """`config.ensure` as written: `metric <op> limit` or a free condition."""

    metric: str | None
    op: str | None
    limit: float | None
    condition: Condition | None = None
    strict: bool = True
    source: str = ""
    pos: Pos = NOWHERE
    # `{threshold: N, abortOnFail: true}`: a failure judged while the run goes stops it.
    abort_on_fail: bool = False


@dataclass(frozen=True)
class GradeRow:
    """One entry of config.grades as written (issue 18): a metric as the ensure grammar
    names it (`p95`, `GET /products: p95`, `monitor.shop.cpu_percent.max`), its bands
    [A, B, C, D] as numbers or strings with a unit ("500ms", "1%"), and `better` when
    given. checks/grades.py names the metric, reads the units and checks the order."""

    key: str
    bands: tuple[float | str, ...]
    better: str | None = None
    pos: Pos = NOWHERE
    band_pos: tuple[Pos, ...] = ()
    # How a problem names it: config.grades.p95, config.grades["GET /a: p95"]
    where: str = "config.grades"


@dataclass(frozen=True)
class GradeSettings:
    """config.grades: its rows, and whether the default table is kept beside them
    (`default: true`); without config.grades a plan is graded on the default table."""

    rows: tuple[GradeRow, ...]
    keep_default: bool = False
    pos: Pos = NOWHERE


# The kinds of live output (`run --out KIND=TARGET`, config.plugins.publish-metrics).
LIVE_OUTPUT_KINDS = ("statsd", "prometheus-push", "jsonl")


@dataclass(frozen=True)
class LiveOutput:
    """Where a run's metrics are pushed as it goes: StatsD/DogStatsD over UDP, a
    Prometheus Pushgateway, or a file of JSON lines."""

    kind: str  # one of LIVE_OUTPUT_KINDS
    # statsd: HOST:PORT; prometheus-push: the Pushgateway's URL; jsonl: a file path.
    target: str
    # Put before every metric name; None: the kind's own default (see docs/live.md).
    prefix: str | None = None
    # Added to every metric: DogStatsD tags, Pushgateway grouping labels, jsonl tags.
    tags: tuple[tuple[str, str], ...] = ()
    # Artillery's includeOnly and excluded: metric names starting so are (not) sent.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # statsd: plain StatsD lines without DogStatsD tags, every metric under the report's
    # own name (per-endpoint ones too), as Artillery sends them, for servers that drop a
    # tagged line (Etsy's statsd).
    plain: bool = False
    # Where it was asked for, for messages: "--out statsd=..." or a plan position.
    origin: str = ""


# ----------------------------------------------------------------------- monitor

MonitorKind = Literal["prometheus", "pid", "process"]
MONITOR_KINDS: tuple[str, ...] = ("prometheus", "pid", "process")
# Every monitored series is named monitor.<source>.<metric> in the results.
MONITOR_PREFIX = "monitor."
# ...and a source's failed samples are counted as monitor.<source>.scrape_errors.
SCRAPE_ERRORS_SUFFIX = ".scrape_errors"
DEFAULT_MONITOR_INTERVAL_SECONDS = 5.0
MIN_MONITOR_INTERVAL_SECONDS = 1.0
# One sample is given up after this long, unless the source says (monitor.source's own).
DEFAULT_MONITOR_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class MonitorSource:
    """One source of config.monitor (issue 17): a Prometheus text endpoint read through
    selectors, or a local process by pid or by name, sampled every `interval` seconds
    (each sample given up after `timeout`)."""

    name: str
    kind: MonitorKind
    url: str | None = None
    pid: int | None = None
    process: str | None = None
    # a Prometheus source's metrics, in the plan's order; a process's are fixed
    metrics: tuple[tuple[str, Expr], ...] = ()
    interval: float = DEFAULT_MONITOR_INTERVAL_SECONDS
    timeout: float = DEFAULT_MONITOR_TIMEOUT_SECONDS
    pos: Pos = NOWHERE

    @property
    def metric_names(self) -> tuple[str, ...]:
        if self.kind == "prometheus":
            return tuple(name for name, _ in self.metrics)
        return PROCESS_METRICS

    @property
    def series(self) -> tuple[str, ...]:
        """The gauge names its samples are recorded under."""
        return tuple(monitor_series(self.name, metric) for metric in self.metric_names)

    @property
    def scrape_errors(self) -> str:
        """The counter of its failed samples."""
        return f"{MONITOR_PREFIX}{self.name}{SCRAPE_ERRORS_SUFFIX}"


def monitor_series(source: str, metric: str) -> str:
    return f"{MONITOR_PREFIX}{source}.{metric}"


# An SMTP server's port when the plan gives none (submission, with or without STARTTLS).
DEFAULT_SMTP_PORT = 587


@dataclass(frozen=True)
class Smtp:
    """Where an email alert is sent from: an SMTP server, STARTTLS optional, a login
    optional (its password is one of the plan's secrets)."""

    host: str
    port: int = DEFAULT_SMTP_PORT
    starttls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Alert:
    """One of config.alerts (issue 17): a webhook (Slack-compatible `{"text": ...}`) or
    an email; `--alert-webhook` makes webhooks too."""

    webhook: str | None = None
    to: tuple[str, ...] = ()
    sender: str = ""
    smtp: Smtp | None = None
    pos: Pos = NOWHERE


# Drift in long runs (issue 22; results/drift.py): a steady phase shorter than this is
# too short to tell drift from noise, and gets no drift section.
DRIFT_MIN_SECONDS = 300.0
# What the drift of each metric may be before the report flags it: a fraction of its
# first third's value (p95, rps, yamlload.rss_mb, each monitor.* series), and for
# error_rate a difference of rates (0.01 is one percentage point). `monitor` is every
# monitored series without a row of its own.
DRIFT_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("p95", 0.10),
    ("error_rate", 0.01),
    ("rps", 0.10),
    ("yamlload.rss_mb", 0.10),
    ("monitor", 0.10),
)


@dataclass(frozen=True)
class DriftSettings:
    """config.drift: how long a steady phase must be, and each metric's threshold (a
    fraction; see DRIFT_THRESHOLDS). The report keeps them, so `yamlload report` and
    `merge` judge drift as the run did."""

    min_seconds: float = DRIFT_MIN_SECONDS
    thresholds: tuple[tuple[str, float], ...] = DRIFT_THRESHOLDS

    def threshold(self, metric: str) -> float:
        """The threshold of `metric`; a monitored series without one of its own takes
        the `monitor` row."""
        table = dict(self.thresholds)
        if metric in table:
            return table[metric]
        if metric.startswith(MONITOR_PREFIX):
            return table.get("monitor", dict(DRIFT_THRESHOLDS)["monitor"])
        return dict(DRIFT_THRESHOLDS).get(metric, 0.10)


@dataclass(frozen=True)
class Plan:
    source: str
    target: str
    phases: tuple[Phase, ...]
    scenarios: tuple[Scenario, ...]
    before: tuple[Step, ...] = ()
    after: tuple[Step, ...] = ()
    variables: TMap = TMap()
    payloads: tuple[Payload, ...] = ()
    default_headers: TMap = TMap()
    default_cookie: TMap = TMap()
    default_jitter: float | None = None
    http: HttpSettings = HttpSettings()
    ensure: tuple[Threshold, ...] = ()
    processor: str | None = None
    plugins: tuple[str, ...] = ()
    environment: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    # config.secrets: names whose values are redacted as *** in every output.
    secrets: tuple[str, ...] = ()
    # config.plugins.expect.reportFailuresAsErrors: a failed expectation ends the user as
    # failed (Artillery's behaviour with it); without it the user goes on.
    expect_stop_user: bool = False
    # config.plugins.expect.expectDefault200: a request without expectations expects 200.
    expect_default_200: bool = False
    # The apdex plugin's threshold T in ms (satisfied <= T < tolerated <= 4T < frustrated);
    # None when config.plugins.apdex is not there.
    apdex_threshold_ms: float | None = None
    # config.plugins.publish-metrics, as live outputs (statsd, datadog, prometheus).
    live_outputs: tuple[LiveOutput, ...] = ()
    # config.monitor: the system under test's sources, sampled while the run goes on
    monitor: tuple[MonitorSource, ...] = ()
    # config.alerts: where a check that starts failing, recovers, and the verdict are sent
    alerts: tuple[Alert, ...] = ()
    # config.grades (issue 18); None: the default table (checks/grades.py)
    grades: GradeSettings | None = None
    # config.drift (issue 22): the defaults when the plan has none
    drift: DriftSettings = DriftSettings()
    # config.ws: the handshake and timeout of every ws scenario's connection
    ws: WsSettings = WsSettings()
    base_dir: str = "."
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    # The layered document, as JSON text, so that the plan stays immutable: `raw` gives
    # a fresh copy.
    raw_json: str = field(default="null", compare=False, repr=False)
    # Every value outputs mask (secrets.secret_values), found once when compiled.
    secret_values: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def raw(self) -> Any:
        """The plan document as layered (plain JSON-like data), a copy of its own."""
        return json.loads(self.raw_json)

    def requests(self) -> Iterator[Request]:
        """Every request step of the plan: `before`, `after` and each scenario's flow,
        inside loops and parallel groups too."""
        for steps in (self.before, self.after, *(s.flow for s in self.scenarios)):
            yield from _requests(steps)

    @property
    def has_ws(self) -> bool:
        """Whether any scenario speaks WebSocket (the runtime loads its client then)."""
        return any(s.engine == "ws" for s in self.scenarios)

    @property
    def total_weight(self) -> float:
        return sum(s.weight for s in self.scenarios)

    def scenario_share(self, scenario: Scenario) -> float:
        total = self.total_weight
        return scenario.weight / total if total else 0.0


def _requests(steps: Iterable[Step]) -> Iterator[Request]:
    for step in steps:
        if isinstance(step, Request):
            yield step
        elif isinstance(step, LoopStep | ParallelStep):
            yield from _requests(step.steps)
