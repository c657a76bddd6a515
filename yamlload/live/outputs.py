"""Push outputs: `run --out KIND=TARGET` and the plan's publish-metrics, as watchers of
a run (runtime/options.py's Watcher), told of every second from the run's own loop.

    --out statsd=HOST:PORT            StatsD with DogStatsD tags, over UDP (statsd.py)
    --out prometheus-push=URL         a Pushgateway, every period and at the end
    --out jsonl=FILE                  one JSON line per metric per second (jsonl.py)

Options may follow the target, comma-separated: `prefix=NAME`, `tag=KEY:VALUE`
(repeatable) and, for statsd, `format=plain` (no DogStatsD tags), e.g.
`--out statsd=127.0.0.1:8125,prefix=ci.,tag=branch:main`. A spec
that cannot work (an unknown kind, a bad HOST:PORT or URL) is a UsageError (exit 2)
before any traffic; so is a file that cannot be opened, or a host that does not resolve,
when the outputs start. After that an output only ever fails on its own: counted as
yamlload.output_errors, told once, never the run's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable

from ..errors import UsageError
from ..plan.ir import LIVE_OUTPUT_KINDS, LiveOutput, Plan
from ..plan.secrets import Redactor
from .jsonl import JsonlOutput
from .memo import remembered
from .pushgateway import PushgatewayOutput
from .statsd import StatsdOutput, parse_host_port

PushOutput = StatsdOutput | PushgatewayOutput | JsonlOutput
# The labels yamlload's own Prometheus metrics carry: a Pushgateway refuses a push whose
# grouping labels (the output's tags) name one of them.
METRIC_LABELS = frozenset({"endpoint", "method", "code", "error", "le", "quantile", "check"})
# ...and yamlload_monitor's, when the plan has config.monitor.
MONITOR_LABELS = frozenset({"source", "metric"})
OPTIONS = ("prefix", "tag", "format")
# How alike a misspelled kind must be to one of ours to be named (difflib's ratio):
# `statds` and `prometheus` are, `nope` is not.
KIND_CUTOFF = 0.6
_OPTION = re.compile(r"^(prefix|tag|format)=(.*)$", re.DOTALL)
_ANY_OPTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)=")
# statsd's formats: DogStatsD tags (the default), or plain lines for servers without tags.
STATSD_FORMATS = ("dogstatsd", "plain")
_PROMETHEUS_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def output_watchers(
    plan: Plan, outs: Iterable[LiveOutput], redactor: Redactor
) -> tuple[PushOutput, ...]:
    """The plan's publish-metrics, then `--out`'s, each as a watcher; the Pushgateway
    ones last, since a watcher that cannot start (a file, a host name) has those started
    before it finished, and a Pushgateway's finish is a push."""
    mask = remembered(redactor.text)
    methods = {request.label: request.method for request in plan.requests()}
    watchers: list[PushOutput] = []
    labels = METRIC_LABELS | MONITOR_LABELS if plan.monitor else METRIC_LABELS
    every = (*plan.live_outputs, *outs)
    for output in sorted(every, key=lambda output: output.kind == "prometheus-push"):
        if output.kind == "statsd":
            watchers.append(StatsdOutput(output, mask))
        elif output.kind == "prometheus-push":
            _check_labels(output, mask, labels)
            watchers.append(PushgatewayOutput(output, methods, mask))
        else:
            watchers.append(JsonlOutput(output, mask))
    return tuple(watchers)


def parse_out(text: str) -> LiveOutput:
    """One `--out KIND=TARGET[,prefix=P][,tag=K:V...]`; UsageError says what is wrong."""
    origin = f"--out {text}"
    kind, sep, rest = text.partition("=")
    kind = kind.strip()
    if not sep or kind not in LIVE_OUTPUT_KINDS:
        kinds = ", ".join(LIVE_OUTPUT_KINDS)
        close = difflib.get_close_matches(kind, LIVE_OUTPUT_KINDS, n=1, cutoff=KIND_CUTOFF)
        if sep and close:
            raise UsageError(
                f"{origin}: unknown kind {kind!r}; did you mean {close[0]!r}? ({kinds})"
            )
        raise UsageError(f"{origin}: expected KIND=TARGET with KIND one of {kinds}")
    try:
        target, options = _split_options(rest)
    except UsageError as exc:
        raise UsageError(f"{origin}: {exc}") from None
    if not target:
        raise UsageError(f"{origin}: the {kind} output needs a target after '='")
    if kind == "statsd":
        try:
            parse_host_port(target)
        except ValueError as exc:
            raise UsageError(f"{origin}: {exc}") from None
    elif kind == "prometheus-push" and not re.match(r"^https?://[^/\s]+", target, re.IGNORECASE):
        raise UsageError(f"{origin}: the Pushgateway's URL must start with http:// or https://")
    prefix: str | None = None
    tags: list[tuple[str, str]] = []
    plain = False
    for name, value in options:
        if name == "prefix":
            prefix = value
        elif name == "format":
            if kind != "statsd" or value not in STATSD_FORMATS:
                raise UsageError(f"{origin}: format= is for statsd: {' or '.join(STATSD_FORMATS)}")
            plain = value == "plain"
        else:
            key, _, tag_value = value.partition(":")
            if not key:
                raise UsageError(f"{origin}: tag={value!r} is not KEY:VALUE")
            tags.append((key, tag_value))
    if kind == "prometheus-push" and prefix is not None:
        if not _PROMETHEUS_NAME.match(prefix):
            raise UsageError(f"{origin}: prefix={prefix!r} cannot start a Prometheus metric name")
        prefix = prefix.rstrip("_")
    if plain and tags:
        raise UsageError(f"{origin}: format=plain sends no tags; leave out tag= or the format")
    return LiveOutput(kind, target, prefix, tuple(tags), plain=plain, origin=origin)


def _split_options(rest: str) -> tuple[str, list[tuple[str, str]]]:
    """The target, and the `name=value` options after it: only the trailing
    comma-separated parts that are options, so a target may hold a comma."""
    parts = rest.split(",")
    options: list[tuple[str, str]] = []
    while len(parts) > 1:
        found = _OPTION.match(parts[-1].strip())
        if not found:
            named = _ANY_OPTION.match(parts[-1].strip())
            if named:  # `,prefx=a`: a misspelled option, not a part of the target
                close = difflib.get_close_matches(named.group(1), OPTIONS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UsageError(f"unknown option {named.group(1)!r}{hint} ({', '.join(OPTIONS)})")
            break
        options.insert(0, (found.group(1), found.group(2)))
        parts.pop()
    return ",".join(parts).strip(), options


def _check_labels(output: LiveOutput, mask: Callable[[str], str], labels: frozenset[str]) -> None:
    for key, _ in output.tags:
        if key in labels:
            where = output.origin or "prometheus-push"
            raise UsageError(
                f"{mask(where)}: the tag {key!r} would be a grouping label, and yamlload's "
                f"metrics have a label of that name; give it another name"
            )
