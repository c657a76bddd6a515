"""The plan's JSON Schema, built from small shared pieces.

`yamlload schema` prints it and `schema/plan.schema.json` is the published copy (a
test keeps the two identical). The schema checks shape; what it cannot say (which
phase keys go together, whether a template parses, whether a file exists) the
compiler checks, with the same positioned messages.

`x-message` is ours: when a value fails that sub-schema, the loader says this instead
of jsonschema's generic text. Editors ignore it.
"""

from __future__ import annotations

from typing import Any

from .ir import METHODS, TRANSPORTS

SCHEMA_ID = "https://yamlload.dev/schema/plan.schema.json"
TEMPLATE_PATTERN = r"\{\{"
DURATION_PATTERN = (
    r"^\s*(\d+(\.\d+)?|\.\d+)\s*"
    r"(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)?\s*$"
)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _obj(
    properties: dict[str, Schema],
    *,
    required: tuple[str, ...] = (),
    description: str | None = None,
    open_: bool = False,
) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if not open_:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def _one_or_list(item: Schema) -> Schema:
    return {"anyOf": [item, {"type": "array", "items": item}]}


def _str(description: str) -> Schema:
    return {"type": "string", "description": description}


def _names(description: str) -> Schema:
    """Processor hook names: one string or a list of them."""
    return {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": description,
    }


def _definitions() -> dict[str, Schema]:
    return {
        "template": {
            "type": "string",
            "pattern": TEMPLATE_PATTERN,
            "description": "A {{ template }}, resolved when the plan is compiled or run.",
        },
        "number": {
            "anyOf": [{"type": "number", "minimum": 0}, _ref("template")],
            "x-message": "expected a number (0 or more) or a {{ template }}",
        },
        "integer": {
            "anyOf": [{"type": "integer", "minimum": 0}, _ref("template")],
            "x-message": "expected a whole number (0 or more) or a {{ template }}",
        },
        "duration": {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
                _ref("template"),
            ],
            "x-message": 'expected a duration such as 30, "30s", "5m", "1.5h" or a {{ template }}',
            "description": "Seconds, or a string with a unit: ms, s, m (min), h, d.",
        },
        "scalar": {"type": ["string", "number", "boolean", "null"]},
        "scalarMap": {
            "type": "object",
            "additionalProperties": _ref("scalar"),
            "x-message": "expected a mapping of names to plain values",
        },
        "headerMap": {
            "type": "object",
            # A header name is a token (RFC 9110 5.1): a colon or a space in one would
            # write a different header than the plan says.
            "propertyNames": {
                "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
                "x-message": "a header name is letters, digits and !#$%&'*+-.^_`|~ "
                "(no space or colon)",
            },
            "additionalProperties": _ref("scalar"),
            "x-message": "expected a mapping of header names to plain values",
        },
        "phase": _phase(),
        "payload": _payload(),
        "capture": _capture(),
        "expect": _expect(),
        "match": _match(),
        "request": _request(),
        "step": _step(),
        "flow": {"type": "array", "items": _ref("step"), "description": "Steps, in order."},
        "ensure": _ensure(),
        "http": _http(),
        "defaults": _defaults(),
        "configBody": _obj(_config_properties(environment=True)),
        "config": _obj(_config_properties(environment=False)),
        "scenario": _scenario(),
        "monitorSource": _monitor_source(),
        "wsSettings": _ws_settings(),
    }


def _phase() -> Schema:
    number, integer, duration = _ref("number"), _ref("integer"), _ref("duration")
    return _obj(
        {
            "name": _str("Shown in progress and reports."),
            "duration": duration,
            "arrivalRate": {**number, "description": "New virtual users per second."},
            "rampTo": {**number, "description": "Ramp the arrival rate linearly to this."},
            "arrivalCount": {**integer, "description": "Users spread evenly over duration."},
            "pause": {**duration, "description": "Do nothing for this long."},
            "maxVusers": {
                **integer,
                "description": "Cap on concurrent users; extra arrivals are skipped.",
            },
            "mode": {"enum": ["uniform", "poisson"]},
            "users": {**integer, "description": "Closed model: keep this many users looping."},
            "spawnRate": {**number, "description": "Closed model: users started per second."},
            "rampUsers": {
                **duration,
                "description": "Closed model: start the users over this time.",
            },
            "gracefulStop": {
                **duration,
                "description": "Closed model: how long a user looping when the phase ends "
                "may take to finish its iteration before it is stopped (default 30s).",
            },
        },
        description="One phase of load: open model (arrivals) or closed model (users).",
    )


def _payload() -> Schema:
    return _obj(
        {
            "path": _str("CSV file, relative to the plan; may use {{ $environment }}."),
            "fields": {"type": "array", "items": {"type": "string"}},
            "order": {"enum": ["random", "sequence"]},
            "skipHeader": {"type": "boolean"},
            "delimiter": {"type": "string", "minLength": 1},
            "cast": {"type": "boolean"},
            "skipEmptyLines": {"type": "boolean"},
            "loadAll": {"type": "boolean"},
            "name": _str("With loadAll: the variable that holds every row."),
            "options": {
                "type": "object",
                "description": "CSV options as Artillery passes them to csv-parse.",
                "properties": {"delimiter": {"type": "string", "minLength": 1}},
            },
        }
    )


def _capture() -> Schema:
    return _obj(
        {
            "json": _str("JSONPath as Artillery writes it: $.data.id"),
            "jmespath": _str("A JMESPath expression."),
            "regexp": _str("A regular expression matched against the body."),
            "header": _str("A response header name."),
            "xpath": _str("Not supported by yamlload."),
            "selector": _str("Not supported by yamlload."),
            "as": {"type": "string", "minLength": 1},
            "group": {"type": ["integer", "string"]},
            "flags": {"type": "string"},
            "strict": {"type": "boolean"},
            "transform": _str("Not supported by yamlload."),
            "index": {},
            "attr": {"type": "string"},
        },
        required=("as",),
    )


def _expect() -> Schema:
    anything: Schema = {}
    return _obj(
        {
            "statusCode": anything,
            "notStatusCode": anything,
            "contentType": {"type": "string"},
            "hasProperty": {"type": "string"},
            "notHasProperty": {"type": "string"},
            "equals": {"type": "array", "minItems": 1},
            "hasHeader": {"type": "string"},
            "headerEquals": {"type": "array", "minItems": 2, "maxItems": 2},
            "matchesRegexp": {"type": "string"},
            "jmespath": {"type": "string"},
            "cdnHit": {"type": "boolean"},
        },
        description="Checks on a response (Artillery's expect plugin).",
    )


def _match() -> Schema:
    return _obj(
        {
            "json": {"type": "string"},
            "jmespath": {"type": "string"},
            "regexp": {"type": "string"},
            "header": {"type": "string"},
            "value": _ref("scalar"),
            "strict": {"type": "boolean"},
        },
        required=("value",),
        description="Artillery's legacy match: capture and compare.",
    )


def _form_field() -> Schema:
    return {
        "anyOf": [
            _ref("scalar"),
            _obj(
                {
                    "fromFile": {"type": "string"},
                    "contentType": {"type": "string"},
                    "filename": {"type": "string"},
                    "value": _ref("scalar"),
                    "options": {"type": "object"},
                }
            ),
        ]
    }


def _request() -> Schema:
    return _obj(
        {
            "url": {"type": "string", "description": "Path (joined to target) or absolute URL."},
            "name": _str("Name used in per-endpoint metrics."),
            "headers": _ref("headerMap"),
            "qs": _ref("scalarMap"),
            "json": {"description": "Sent as a JSON body."},
            "body": {"type": ["string", "number", "boolean", "object", "array"]},
            "form": _ref("scalarMap"),
            "formData": {"type": "object", "additionalProperties": _form_field()},
            "cookie": _ref("scalarMap"),
            "auth": _obj({"user": _ref("scalar"), "pass": _ref("scalar")}, required=("user",)),
            "followRedirect": {"type": "boolean"},
            "gzip": {"type": "boolean"},
            "compress": {"type": "boolean"},
            "capture": _one_or_list(_ref("capture")),
            "expect": {"anyOf": [_ref("expect"), {"type": "array", "items": _ref("expect")}]},
            "match": _one_or_list(_ref("match")),
            "ifTrue": _str("Run only when this expression is true."),
            "probability": {"type": "number", "minimum": 0, "maximum": 100},
            "beforeRequest": _names("Processor functions called before sending."),
            "afterResponse": _names("Processor functions called after the response."),
        },
        required=("url",),
    )


_STEP_ACTIONS = (
    *METHODS,
    "loop",
    "think",
    "log",
    "parallel",
    "function",
    "send",
    "wait",
    "connect",
)


def _ws_settings() -> Schema:
    return _obj(
        {
            "subprotocols": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "description": "Sec-WebSocket-Protocol values offered in the handshake.",
            },
            "headers": _ref("headerMap"),
            "timeout": {
                **_ref("duration"),
                "description": "How long a step waits for a message, and a handshake may "
                "take (default 10 s).",
            },
        },
        description="WebSocket connections (scenarios with engine: ws): docs/websocket.md.",
    )


def _ws_send() -> Schema:
    return {
        "anyOf": [
            {"type": ["string", "number", "boolean"]},
            {"type": ["object", "array"]},
        ],
        # An object with capture or match is the step's options, not the message.
        "if": {"type": "object", "anyOf": [{"required": ["capture"]}, {"required": ["match"]}]},
        "then": _obj(
            {
                "payload": {"description": "The message: text, or an object sent as JSON."},
                "capture": _one_or_list(_ref("capture")),
                "match": _one_or_list(_ref("match")),
            }
        ),
        "description": "ws scenarios: send a message (text, or an object as JSON); "
        "{payload, capture, match} waits for the next message and reads it.",
        "x-message": "expected a message: text, or an object sent as JSON",
    }


def _ws_wait() -> Schema:
    return _obj(
        {
            "for": {"enum": ["message"]},
            "capture": _one_or_list(_ref("capture")),
            "match": _one_or_list(_ref("match")),
            "timeout": _ref("duration"),
        },
        required=("for",),
        description="ws scenarios (yamlload's own): wait for a message the server pushes; "
        "with match, the first one that matches. `for: message` is required.",
    )


def _ws_connect() -> Schema:
    return {
        "anyOf": [
            {"type": "string", "minLength": 1},
            _obj(
                {
                    "target": {"type": "string", "minLength": 1},
                    "headers": _ref("headerMap"),
                    "subprotocols": {"type": "array", "items": {"type": "string", "minLength": 1}},
                },
                # Other keys (Artillery's function, proxy…) are named by the compiler.
                open_=True,
            ),
        ],
        "description": "ws scenarios, first step: where to connect (a URL, or a path joined "
        "to config.target), with its own headers and subprotocols.",
        "x-message": "expected a URL or {target, headers, subprotocols}",
    }


def _step() -> Schema:
    properties: dict[str, Schema] = {m: _ref("request") for m in METHODS}
    properties.update(
        {
            "loop": {**_ref("flow"), "description": "Repeat these steps."},
            "count": {
                "anyOf": [
                    {"type": "integer", "minimum": 0},
                    {"type": "string", "pattern": r"^\s*\d+\s*-\s*\d+\s*$"},
                    _ref("template"),
                ],
                "x-message": 'expected a whole number, a range such as "9-12", or a {{ template }}',
            },
            "over": {"type": ["array", "string"]},
            "whileTrue": {"type": "string"},
            "think": {
                "anyOf": [
                    _ref("duration"),
                    _obj(
                        {"min": _ref("duration"), "max": _ref("duration")}, required=("min", "max")
                    ),
                ],
                "x-message": "expected a duration, a {{ template }}, or {min, max}",
            },
            "jitter": {
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%?\s*$"},
                ],
                "x-message": 'expected a number of seconds or a percentage such as "10%"',
            },
            "log": {"type": "string"},
            "parallel": _ref("flow"),
            "function": {"type": "string"},
            "send": _ws_send(),
            "wait": _ws_wait(),
            "connect": _ws_connect(),
        }
    )
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "dependentRequired": {
            "count": ["loop"],
            "over": ["loop"],
            "whileTrue": ["loop"],
            "jitter": ["think"],
        },
        "allOf": [
            {
                "anyOf": [{"required": [action]} for action in _STEP_ACTIONS],
                "x-message": "a step needs one action: " + ", ".join(_STEP_ACTIONS),
            }
        ],
    }


def _ensure() -> Schema:
    legacy = ("min", "max", "median", "p50", "p75", "p90", "p95", "p99", "p999")
    properties: dict[str, Schema] = {k: {"type": "number"} for k in legacy}
    properties.update(
        {
            "thresholds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": {
                        "anyOf": [
                            {"type": "number"},
                            _obj(
                                {
                                    "threshold": {"type": "number"},
                                    "abortOnFail": {"type": "boolean"},
                                },
                                required=("threshold",),
                            ),
                        ],
                        "x-message": "expected a limit (a number), or "
                        "{threshold: N, abortOnFail: true}",
                    },
                },
                "description": "Each item is {metric: limit} or {metric: {threshold: "
                "limit, abortOnFail: true}}; the check is metric < limit, and with "
                "abortOnFail a failure judged while the run goes stops it.",
            },
            "conditions": {
                "type": "array",
                "items": _obj(
                    {"expression": {"type": "string"}, "strict": {"type": "boolean"}},
                    required=("expression",),
                ),
            },
            "maxErrorRate": {"type": "number", "minimum": 0},
        }
    )
    return _obj(properties)


def _grades() -> Schema:
    """config.grades (issue 18): metric -> bands [A, B, C, D], or {bands, better}."""
    bands: Schema = {
        "type": "array",
        "items": {
            "type": ["number", "string"],
            "x-message": 'expected a number, or a number with a unit such as "500ms", "1.5s", "1%"',
        },
        "minItems": 4,
        "maxItems": 4,
        "x-message": "expected four bands [A, B, C, D] such as [500, 1000, 2000, 5000]",
        "description": "The limits of A, B, C and D, in the metric's unit; past D is F.",
    }
    return {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "default": {
                "type": "boolean",
                "description": "true: keep the default table (p95 and error_rate) beside "
                "these rows; otherwise config.grades replaces it.",
            }
        },
        "additionalProperties": {
            "anyOf": [
                bands,
                _obj(
                    {
                        "bands": bands,
                        "better": {
                            "enum": ["lower", "higher"],
                            "x-message": "expected lower or higher (which way is better)",
                        },
                    },
                    required=("bands",),
                ),
            ],
        },
        "description": "The grade table: each metric --ensure knows (p95, error_rate, rps, "
        "'GET /x: p95', monitor.<source>.<metric>.<stat>) with its bands (docs/grades.md).",
    }


def _drift() -> Schema:
    """config.drift (issue 22): how long a steady phase must be for drift, and thresholds."""
    threshold: Schema = {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?|\.\d+)\s*%\s*$"},
        ],
        "x-message": 'expected a percentage such as 10 or "10%"',
    }
    return _obj(
        {
            "minDuration": {
                **_ref("duration"),
                "description": "The shortest steady phase whose drift is reported (5m).",
            },
            "thresholds": {
                "type": "object",
                "additionalProperties": threshold,
                "description": "Drift beyond which the report flags a metric, in percent: "
                "p95, error_rate (percentage points), rps, yamlload.rss_mb, monitor (every "
                "monitored series) or one monitor.<source>.<metric>.",
            },
        },
        description="Drift in long runs: how p95, error rate, throughput, the generator's "
        "memory and each monitored series moved over the longest steady phase "
        "(docs/limits.md).",
    )


def _alert() -> Schema:
    """One of config.alerts: {webhook: URL} or {email: {to, from, smtp}}."""
    smtp = _obj(
        {
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "starttls": {"type": "boolean"},
            "username": {"type": "string"},
            "password": {"type": "string"},
        },
        required=("host",),
    )
    email = _obj(
        {
            "to": {
                "description": "An address, or a list of them.",
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                ],
                "x-message": "expected an address or a list of addresses",
            },
            "from": {"type": "string", "minLength": 1},
            "smtp": smtp,
        },
        required=("to", "from", "smtp"),
    )
    webhook = _str('A URL that takes a POST of Slack\'s {"text": ...} (Slack, Teams, Mattermost).')
    alert = _obj({"webhook": webhook, "email": email})
    alert.update(
        {
            "minProperties": 1,
            "maxProperties": 1,
            "x-message": "an alert is {webhook: URL} or {email: {to, from, smtp}}",
        }
    )
    return alert


def _monitor_source() -> Schema:
    """One source of config.monitor; which keys go together (exactly one of prometheus,
    pid, process; metrics with prometheus only) the compiler checks, with its own words."""
    return _obj(
        {
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]+$",
                "x-message": "a source's name is letters, digits, _ and - (it names its "
                "series, monitor.<name>.<metric>)",
            },
            "prometheus": _str(
                "The URL of a Prometheus text endpoint, such as http://127.0.0.1:9100/metrics."
            ),
            "pid": {
                "anyOf": [{"type": "integer", "minimum": 1}, _ref("template")],
                "x-message": "expected a process id (a whole number, 1 or more) or a "
                "{{ template }}",
                "description": "A local process by its id (cpu_percent, rss_mb, fds, "
                "threads, connections).",
            },
            "process": {
                "type": "string",
                "minLength": 1,
                "description": "Local processes by name, summed (cpu_percent, rss_mb, fds, "
                "threads, connections).",
            },
            "metrics": {
                "type": "object",
                "propertyNames": {
                    "pattern": "^[A-Za-z0-9_]+$",
                    "x-message": "a metric's name is letters, digits and _",
                },
                "additionalProperties": {"type": "string", "minLength": 1},
                "x-message": "expected a mapping of metric names to selectors",
                "description": "Name: selector, such as cpu_percent: "
                "rate(process_cpu_seconds_total) * 100 (docs/monitoring.md).",
            },
            "interval": {
                **_ref("duration"),
                "description": "How often the source is sampled: 5s unless given, at least 1s.",
            },
            "timeout": {
                **_ref("duration"),
                "description": "How long one sample may take: 5s unless given.",
            },
        },
        required=("name",),
        description="A source watched while the run goes on.",
    )


def _http() -> Schema:
    return _obj(
        {
            "timeout": _ref("number"),
            "pool": _ref("integer"),
            "maxSockets": _ref("integer"),
            "maxBodyBytes": _ref("integer"),
            "extendedMetrics": {"type": "boolean"},
            "transport": {
                "enum": list(TRANSPORTS),
                "description": "What moves the bytes: fast (the default: HTTP/1.1 on asyncio "
                "protocols and httptools), or aiohttp (aiohttp's client). Both send the same "
                "requests; YAMLLOAD_TRANSPORT sets the default.",
            },
            "expectedStatuses": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": ["integer", "string"],
                    "x-message": 'expected a status such as 200, "2xx" or "200-299"',
                },
                "description": "Statuses that count as a success: 200, a class such as "
                '"2xx", or an inclusive range such as "200-299". Default: 2xx and 3xx.',
            },
            "defaults": _obj({"headers": _ref("headerMap")}),
        }
    )


def _defaults() -> Schema:
    return _obj(
        {
            "headers": _ref("headerMap"),
            "cookie": _ref("scalarMap"),
            "think": {
                "anyOf": [
                    {"type": "number"},
                    _obj({"jitter": {"type": ["number", "string"]}}),
                ]
            },
        }
    )


def _apdex(*, open_: bool, description: str) -> Schema:
    return _obj(
        {
            "threshold": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "T in milliseconds: satisfied up to T, tolerated up to 4T "
                "(default 500).",
            }
        },
        open_=open_,
        description=description,
    )


def _plugins() -> Schema:
    # The built-in plugins' options are typed, but open: an option yamlload does not know
    # gets a warning from the compiler, not an error, as plugins grow options over time.
    return {
        "type": "object",
        "properties": {
            "ensure": _ref("ensure"),
            "expect": _obj(
                {
                    "outputFormat": {"type": "string"},
                    "reportFailuresAsErrors": {
                        "type": "boolean",
                        "description": "A failed expectation ends the user as failed.",
                    },
                    "expectDefault200": {
                        "type": "boolean",
                        "description": "A request without expectations expects status 200.",
                    },
                    "formatter": {"type": "string"},
                    "externalReporting": {"type": "object"},
                },
                open_=True,
            ),
            "metrics-by-endpoint": _obj(
                {
                    "stripQueryString": {
                        "type": "boolean",
                        "description": "Per-endpoint names leave out the url's query.",
                    },
                    "ignoreUnnamedRequests": {"type": "boolean"},
                    "groupDynamicURLs": {"type": "boolean"},
                    "useOnlyRequestNames": {"type": "boolean"},
                    "metricsPrefix": {"type": "string"},
                    "metricsNamespace": {"type": "string"},
                    "suppressOutput": {"type": "boolean"},
                },
                open_=True,
            ),
            "apdex": _apdex(open_=True, description="Apdex scores of every response."),
            "publish-metrics": {
                "type": "array",
                "items": _reporter(),
                "description": "Send the run's metrics as it goes: statsd, datadog (through "
                "the agent's DogStatsD port) and prometheus (a Pushgateway); other types "
                "are accepted with a warning.",
            },
        },
        "additionalProperties": True,
        "description": "Plugins; ensure, expect, metrics-by-endpoint, apdex and "
        "publish-metrics are built in. Any other is accepted with a warning and does nothing.",
    }


def _reporter() -> Schema:
    # Open, as Artillery's reporters have many options: one yamlload does not act on
    # gets a warning from the compiler, not an error.
    names = {"type": "array", "items": {"type": "string"}}
    return _obj(
        {
            "type": _str("statsd, datadog or prometheus (others are ignored with a warning)."),
            "host": _str("statsd, datadog: the StatsD server or agent (default 127.0.0.1)."),
            "port": {
                "type": ["integer", "string"],
                "minimum": 0,
                "description": "statsd, datadog: default 8125; a number, or a string of digits.",
            },
            "prefix": _str(
                "Before every metric name: statsd and datadog default to 'artillery.', "
                "prometheus to yamlload's own names."
            ),
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "key:value strings added to every metric "
                "(prometheus: as grouping labels).",
            },
            "pushgateway": _str("prometheus: the Pushgateway's URL."),
            "includeOnly": {**names, "description": "Send only metrics whose names start so."},
            "excluded": {**names, "description": "Leave out metrics whose names start so."},
            "apiKey": _str("datadog: ignored with a warning; yamlload sends via the agent."),
        },
        required=("type",),
        open_=True,
        description="One reporter of Artillery's publish-metrics plugin.",
    )


def _config_properties(*, environment: bool) -> dict[str, Schema]:
    properties: dict[str, Schema] = {
        "target": _str("Base URL, for example http://127.0.0.1:8000"),
        "phases": {"type": "array", "items": _ref("phase")},
        "payload": _one_or_list(_ref("payload")),
        "variables": {"type": "object", "description": "Values (a list picks one per user)."},
        "defaults": _ref("defaults"),
        "http": _ref("http"),
        "tls": _obj({"rejectUnauthorized": {"type": "boolean"}}),
        "ensure": _ref("ensure"),
        "processor": _str("A Python module of hook functions, relative to the plan."),
        "secrets": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "Names of variables, environment variables and headers whose "
            "values are shown as *** in the console, logs and reports.",
        },
        "plugins": _plugins(),
        "engines": {
            "type": "object",
            "properties": {"http": {"type": "object"}, "ws": _ref("wsSettings")},
        },
        "ws": _ref("wsSettings"),
        "statsInterval": {"type": "number", "minimum": 0},
        "mode": {"enum": ["uniform", "poisson"]},
        "apdex": _apdex(
            open_=False,
            description="The apdex threshold as Artillery also reads it; it takes effect "
            "when config.plugins.apdex is there.",
        ),
        "monitor": {
            "type": "array",
            "items": _ref("monitorSource"),
            "description": "The system under test's metrics, sampled while the run goes on: "
            "Prometheus text endpoints and local processes (docs/monitoring.md).",
        },
        "grades": _grades(),
        "drift": _drift(),
        "alerts": {
            "type": "array",
            "items": _alert(),
            "description": "Where a check that starts failing while the run goes, one that "
            "recovers, and the verdict are sent: webhooks and email (docs/alerts.md).",
        },
    }
    if not environment:
        properties["environments"] = {
            "type": "object",
            "additionalProperties": _ref("configBody"),
            "description": "Named overlays chosen with -e/--environment.",
        }
    return properties


def _scenario() -> Schema:
    return _obj(
        {
            "name": {"type": "string"},
            "weight": {"type": "number", "minimum": 0},
            "flow": _ref("flow"),
            "engine": {
                "enum": ["http", "ws", "websocket"],
                "description": "http (the default), or ws/websocket: docs/websocket.md.",
            },
            "beforeScenario": _names("Processor functions called when a user starts."),
            "afterScenario": _names("Processor functions called when a user ends."),
            "beforeRequest": _names("Processor functions called before each request."),
            "afterResponse": _names("Processor functions called after each response."),
        },
        required=("flow",),
    )


def build_schema() -> Schema:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "yamlload plan",
        "description": "A yamlload (Artillery-compatible) load test plan.",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "config": _ref("config"),
            "scenarios": {"type": "array", "items": _ref("scenario"), "minItems": 1},
            "before": _obj({"flow": _ref("flow")}, required=("flow",)),
            "after": _obj({"flow": _ref("flow")}, required=("flow",)),
        },
        "required": ["scenarios"],
        "additionalProperties": False,
        "$defs": _definitions(),
    }


REPORT_SCHEMA_ID = "https://yamlload.dev/schema/report.schema.json"


def _report_metrics() -> Schema:
    number = {"type": "number"}
    summary = {
        "type": "object",
        "required": ["min", "max", "count", "mean", "p50", "median", "p95", "p99"],
        "additionalProperties": number,
    }
    histogram = {
        "type": "object",
        "required": ["count", "sum", "min", "max", "buckets"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "sum": number,
            "min": number,
            "max": number,
            "buckets": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "description": "Pairs: bucket key minus the previous key, then the count.",
            },
        },
    }
    gauge = {
        "type": "object",
        "required": ["count"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "min": number,
            "mean": number,
            "max": number,
            "last": number,
            "sum": number,
            "last_at": {
                "type": "number",
                "description": "Seconds from the run start of the sample `last` is.",
            },
        },
    }
    return {
        "type": "object",
        "required": ["period", "counters", "rates", "summaries", "histograms"],
        "properties": {
            "period": {"type": "number", "description": "Seconds from the run start."},
            "width": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Seconds the period covers, which its rates divide by: 10 "
                "(60 or 600 for a rolled-up period), except the run's last period, which "
                "runs to the run's end.",
            },
            "span": {
                "type": "integer",
                "minimum": 1,
                "description": "How many 10-second periods this one holds: 1, or 6 and 60 "
                "once a long run rolls up periods older than an hour and six hours. "
                "Absent means 1.",
            },
            # a count is never below 0: a negative one made a negative error rate
            "counters": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "rates": {"type": "object", "additionalProperties": number},
            "summaries": {"type": "object", "additionalProperties": summary},
            "histograms": {"type": "object", "additionalProperties": histogram},
            "gauges": {
                "type": "object",
                "additionalProperties": gauge,
                "description": "Sampled series of config.monitor, monitor.<source>.<metric>: "
                "how many samples, their min, mean, max, and the latest. Absent without "
                "config.monitor.",
            },
        },
    }


def _report_grade() -> Schema:
    """The report's `grade` (issue 18): results/grading.py's Grading.to_json."""
    letter = {"enum": ["A", "B", "C", "D", "F"]}
    return {
        "type": "object",
        "required": ["overall", "readiness", "by_metric", "table"],
        "description": "The run's grades (docs/grades.md); values and bands in the "
        "metric's unit: ms for times, a fraction for error_rate.",
        "properties": {
            "overall": letter,
            "readiness": {
                "type": "object",
                "required": ["verdict", "rule"],
                "properties": {
                    "verdict": {"enum": ["ready", "needs optimization", "not ready"]},
                    "rule": {"type": "string"},
                },
            },
            "by_metric": {
                "type": "object",
                "minProperties": 1,  # a run is graded on something: the failure rates
                "additionalProperties": {
                    "type": "object",
                    "required": ["value", "grade"],
                    "properties": {"value": {"type": ["number", "null"]}, "grade": letter},
                },
            },
            "table": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {
                    "type": "object",
                    "required": ["bands", "better"],
                    "properties": {
                        "bands": {
                            "type": "array",
                            "items": {"type": "number"},
                            "minItems": 4,
                            "maxItems": 4,
                        },
                        "better": {"enum": ["lower", "higher"]},
                    },
                },
            },
        },
    }


def _report_drift() -> Schema:
    """The report's `drift` section (issue 22; results/drift.py, docs/limits.md)."""
    metric = {
        "type": "object",
        "required": ["metric", "first", "last", "change", "slopePerHour", "worseWhen"],
        "properties": {
            "metric": {"type": "string"},
            "first": {"type": "number", "description": "The value over the first third."},
            "last": {"type": "number", "description": "The value over the last third."},
            "change": {
                "type": ["number", "null"],
                "description": "(last - first) / first; for error_rate, last - first; "
                "null when it started at 0 and moved.",
            },
            "slopePerHour": {"type": "number"},
            "worseWhen": {"enum": ["up", "down"]},
            "threshold": {"type": "number"},
            "flagged": {"type": "boolean"},
            "message": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "description": "How p95, the error rate, the throughput, the generator's RSS and "
        "each monitored series moved between the first and the last third of the longest "
        "steady phase; `reason` says why there is none.",
        "required": ["minDuration", "thresholds", "reason", "metrics"],
        "properties": {
            "minDuration": {"type": "number", "minimum": 0},
            "thresholds": {"type": "object", "additionalProperties": {"type": "number"}},
            "phase": {"type": ["string", "null"]},
            "from": {"type": "number"},
            "to": {"type": "number"},
            "periods": {"type": "integer", "minimum": 0},
            "reason": {"type": ["string", "null"]},
            "metrics": {"type": "array", "items": metric},
        },
    }


def _report_capacity() -> Schema:
    """The report's `capacity` (issue 22): results/capacity.py's Capacity.to_json."""
    rate = {"type": ["number", "null"], "minimum": 0}
    maybe = {"type": ["number", "null"]}
    slo = {
        "type": "object",
        "required": ["slo", "value", "ok"],
        "properties": {
            "slo": {"type": "string"},
            "value": maybe,
            "ok": {"type": "boolean"},
            "measured": {"type": "string"},
        },
    }
    step = {
        "type": "object",
        "required": ["rate", "verdict", "seconds", "requests", "throughput"],
        "properties": {
            "rate": {
                "type": "number",
                "minimum": 0,
                "description": "Offered, in users/s: scenarios started a second (as "
                "arrivalRate), not requests.",
            },
            "verdict": {"enum": ["good", "bad", "invalid"]},
            "seconds": {"type": "number", "minimum": 0},
            "requests": {"type": "integer", "minimum": 0},
            "throughput": {
                "type": "number",
                "minimum": 0,
                "description": "Answered, in req/s: HTTP responses of any status a "
                "second (timeouts and refusals not), over the step's scheduled measured "
                "part (its settle to the end of its arrivals, not the drain); about "
                "rate × requests per user below the knee.",
            },
            "p50": maybe,
            "p95": maybe,
            "p99": maybe,
            "error_rate": maybe,
            "lag_p99": maybe,
            "slos": {"type": "array", "items": slo},
            "reason": {"type": ["string", "null"]},
        },
    }
    return {
        "type": "object",
        "required": ["max_rate", "broke_at", "broke_by", "steps", "recovery_seconds"],
        "description": "`yamlload capacity`'s search (docs/limits.md): the highest rate "
        "whose step met every SLO, the lowest that broke one, each step measured after its "
        "settle period, and the recovery.",
        "properties": {
            "max_rate": {
                **rate,
                "description": "The highest offered rate, in users/s, whose step met every "
                "SLO, below the lowest that broke one; null: none did.",
            },
            "max_rate_is_lower_bound": {
                "type": "boolean",
                "description": "True when the capacity is at least max_rate, not found: "
                "nothing broke up to --to, or the generator stopped the search (an invalid "
                "step).",
            },
            "max_request_rate": {
                **rate,
                "description": "The requests answered a second (req/s) at max_rate: its "
                "step's throughput; null without max_rate.",
            },
            "broke_at": {
                **rate,
                "description": "The lowest offered rate, in users/s, whose step was bad.",
            },
            "broke_by": {
                "oneOf": [{"type": "null"}, slo],
                "description": "The first SLO the step at broke_at broke; null when no "
                "SLO broke (see broke_by_rule).",
            },
            "broke_by_rule": {
                "type": ["string", "null"],
                "description": "Why the step at broke_at was bad when every SLO held (the "
                "target failed half its requests or more, or served below the rate); null "
                "otherwise.",
            },
            "slos": {"type": "array", "items": {"type": "string"}},
            "ended": {"type": "string"},
            "elapsed_seconds": {
                "type": ["number", "null"],
                "minimum": 0,
                "description": "The search's wall clock, cool-downs and the recovery "
                "included; null in reports before it was kept.",
            },
            "steps": {"type": "array", "items": step},
            "recovery_seconds": {"type": ["number", "null"], "minimum": 0},
            "recovery": {
                "type": "object",
                "properties": {
                    "limit": maybe,
                    "rate": maybe,
                    "recovered": {"type": ["boolean", "null"]},
                },
            },
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "What the command warned of before the search.",
            },
            "curve_warning": {
                "type": ["string", "null"],
                "description": "Why the curve cannot be one unchanging target's (a step "
                "much faster at a higher rate, or good above a bad one): the target changed "
                "during the search, so the answer is doubtful; null when it is consistent. "
                "Worked out from steps.",
            },
        },
    }


def build_report_schema() -> Schema:
    """The JSON report's schema; `docs/report-format.md` explains each part."""
    phase = {
        "type": "object",
        "required": ["index", "name", "started", "ended"],
        "properties": {
            "index": {"type": "integer"},
            "name": {"type": "string"},
            "started": {"type": "number"},
            "ended": {"type": "number"},
            "steady_from": {
                "type": ["number", "null"],
                "description": "When the phase's load became constant (null: a ramp or a "
                "pause); drift is measured over the longest steady stretch.",
            },
        },
    }
    endpoint = {
        "type": "object",
        "required": ["name", "requests", "codes", "errors", "summary"],
        "properties": {
            "name": {"type": "string"},
            "requests": {"type": "integer"},
            "codes": {"type": "object", "additionalProperties": {"type": "integer"}},
            "errors": {"type": "object", "additionalProperties": {"type": "integer"}},
            "failed": {
                "type": "integer",
                "minimum": 0,
                "description": "Requests with no response or a status the request does not accept.",
            },
            "interrupted": {
                "type": "integer",
                "minimum": 0,
                "description": "Requests cut short by a stop or a gracefulStop.",
            },
            "summary": {"type": "object"},
        },
    }
    worker = {
        "type": "object",
        "required": ["segment"],
        "properties": {
            "segment": {"type": "string", "pattern": "^[0-9]+/[0-9]+$"},
            "users": {"type": "integer", "minimum": 0},
            "lag_p99_ms": {"type": "number"},
            "cpu_percent": {"type": "number"},
            "rss_mb": {"type": "number"},
            "late_start_s": {"type": "number", "minimum": 0},
            "lost": {"type": "string"},
            "missing": {"type": "boolean"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": REPORT_SCHEMA_ID,
        "title": "yamlload JSON report",
        "type": "object",
        "required": ["yamlload", "plan", "run", "aggregate", "intermediate", "endpoints"],
        "properties": {
            "yamlload": {
                "type": "object",
                "required": ["version", "format"],
                "properties": {"version": {"type": "string"}, "format": {"const": 1}},
            },
            "plan": {
                "type": "object",
                "required": ["source", "target", "phases"],
                "properties": {
                    "source": {"type": "string"},
                    "target": {"type": "string"},
                    "environment": {"type": ["string", "null"]},
                    "phases": {"type": "array", "items": phase},
                    "document": {"description": "The plan as it ran, after layering."},
                },
            },
            "run": {
                "type": "object",
                "required": ["startedAt", "duration", "stoppedBy"],
                "properties": {
                    "startedAt": {"type": "string"},
                    "duration": {"type": "number", "minimum": 0},
                    "stoppedBy": {"type": ["string", "null"]},
                    "checkpoint": {"type": "boolean"},
                    "transport": {"enum": list(TRANSPORTS)},
                    "revision": {
                        "type": "string",
                        "description": "The build tested: GITHUB_SHA, CI_COMMIT_SHA, or "
                        "`git rev-parse --short HEAD` in the plan's folder; absent when "
                        "none is known.",
                    },
                },
            },
            "aggregate": _report_metrics(),
            "intermediate": {"type": "array", "items": _report_metrics()},
            "endpoints": {"type": "array", "items": endpoint},
            "seconds": {
                "type": "object",
                "required": ["columns", "rows"],
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": ["number", "null"]}},
                    },
                    "gauges": {
                        "type": "object",
                        "description": "config.monitor: each series' mean in each second "
                        "(a value per row; null: no sample).",
                        "additionalProperties": {
                            "type": "array",
                            "items": {"type": ["number", "null"]},
                        },
                    },
                },
            },
            "workers": {
                "type": "array",
                "description": "One entry per shard when the load was split.",
                "items": worker,
            },
            "checks": {
                "type": "array",
                "description": "Each --ensure and config.ensure check with what was measured.",
                "items": {
                    "type": "object",
                    "required": ["check", "value", "limit", "result"],
                    "properties": {
                        "check": {"type": "string"},
                        "value": {"type": ["number", "null"]},
                        "measured": {"type": "string"},
                        "limit": {"type": "string"},
                        "result": {"enum": ["ok", "fail", "warn"]},
                    },
                },
            },
            "grade": _report_grade(),
            "drift": _report_drift(),
            "capacity": _report_capacity(),
            "validity": {
                "type": "object",
                "required": ["valid", "reasons"],
                "properties": {
                    "valid": {"type": "boolean"},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    }
