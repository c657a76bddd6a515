"""The runtime: a dispatcher starts virtual users on the plan's schedule, and each user
runs its scenario's flow over aiohttp. Everything measured goes to a `Recorder`.

Every request ends in exactly one counted outcome: a response, a request error (an
`errors.*` name: a value, never an exception that escapes; the user stops as failed) or
an interruption. A response the plan does not accept is a failed request, and the user
goes on. Anything else that raises is a bug in yamlload: the run stops and says so.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import errno
import http.cookies
import importlib.util
import inspect
import io
import json
import os
import random
import re
import signal
import ssl
import threading
import time
import traceback
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Protocol

import aiohttp
import jmespath.exceptions
from yarl import URL

from ._compile import ConfinedFile, parse_duration
from ._errors import UsageError
from ._expr import Template, to_text
from ._load import (
    MAX_PAYLOAD_BYTES,
    NotRegularFileError,
    outside_roots,
    read_bounded,
)
from ._metrics import (
    PERIOD_SECONDS,
    Period,
    Recorder,
    last_period_index,
    period_width,
    roll_up,
)
from ._plan import (
    Capture,
    Expect,
    FormFile,
    FunctionStep,
    LogStep,
    LoopStep,
    ParallelStep,
    Payload,
    Phase,
    Plan,
    Request,
    Scenario,
    Step,
    ThinkStep,
    TList,
    TMap,
    Value,
)
from ._redact import Redactor
from ._schedule import Arrival, Segment, phase_starts, schedule

# In-flight users get this long to finish after a stop (Ctrl-C, SIGTERM) before they
# are cancelled.
GRACE_SECONDS = 2.0
# The schedule starts this long after the engine, so the first arrivals are not late
# merely because the event loop was still warming up.
START_DELAY_SECONDS = 0.02
TICK_SECONDS = 1.0
# Signals that stop a run gracefully: Ctrl-C, a kill, a closed terminal or SSH session.
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
# The longest one think may last (a day): longer waits (a templated 1e308) are cut here.
MAX_PAUSE_SECONDS = 86_400.0
ENDPOINT_PREFIX = "plugins.metrics-by-endpoint"
FAILED_CAPTURE = "Failed capture or match"
FAILED_EXPECTATIONS = "Failed expectations"
EXPECTATION_ERROR = "Expectation error"
BODY_TOO_LARGE = "Body over maxBodyBytes"
# Statuses a request accepts when neither it nor config.http.expectedStatuses says: 2xx
# and 3xx, as k6's default expected_response.
DEFAULT_ACCEPTED = ((200, 399),)
# Redirects followed per request: got's (and so Artillery's) maxRedirects.
MAX_REDIRECTS = 10
TOO_MANY_REDIRECTS = "ERR_TOO_MANY_REDIRECTS"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
GZIP_ACCEPT_ENCODING = "gzip, deflate"
# Headers a redirect to another origin does not carry: credentials by name or by look,
# and any header config.secrets names (the jar's own cookies follow their domains).
CROSS_ORIGIN_DROP = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
CREDENTIAL_LOOK = re.compile(r"auth|token|secret|passw|api-?key|session|cookie", re.IGNORECASE)
# What the network and aiohttp raise for a request that got no usable response; these,
# and only these, become `errors.NAME` (see error_code). Anything else is a bug in
# yamlload and ends the run.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)
# What a capture or check may raise on data a server sent: it fails that user, named.
CAPTURE_ERRORS: tuple[type[BaseException], ...] = (
    jmespath.exceptions.JMESPathError,
    re.error,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    RecursionError,
    ArithmeticError,  # ceil(1e400), a 400-digit integer made a float
)
# What rendering a request, or a step, from a user's values may raise when those values
# came from a server: the step fails for that user, named, and the run goes on.
VALUE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes UnicodeError: a lone surrogate in a body or form
    ArithmeticError,
    RecursionError,
    http.cookies.CookieError,
)
INVALID_REQUEST = "EINVALIDREQUEST"
STEP_ERROR = "Step error"
# The first failures of each kind are printed in full (scenario, step, endpoint,
# expression, body); after that they are only counted.
FAILURE_EXAMPLES = 3
SNIPPET_BYTES = 200
# A failure's body is masked before it is cut to SNIPPET_BYTES, so a little more is kept.
HEAD_BYTES = 1024
# Bodies of a known length up to this size, not compressed, are read in one call: the
# common case, and the fastest. Anything else is streamed and counted chunk by chunk.
READ_WHOLE_BYTES = 64 * 1024
WHOLE_RUN = Segment(0, 1)


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class RunOptions:
    seed: int | None = None
    insecure: bool = False
    scenario_name: str | None = None
    solo: bool = False
    grace_seconds: float = GRACE_SECONDS
    # An aiohttp resolver; tests fake DNS failures with it instead of real lookups.
    resolver: Any = None
    # This process's share of the schedule when the load is split (--workers, --segment).
    segment: Segment = WHOLE_RUN
    # When the schedule starts, as epoch seconds, so that every shard starts together.
    start_at: float | None = None
    # Hand the run so far to `on_checkpoint` this often (seconds), for --checkpoint.
    checkpoint_seconds: float | None = None
    # Log every request and response with its timing (--debug).
    debug: bool = False


@dataclass
class Progress:
    """What the console shows on its live line."""

    elapsed: float
    total: float
    phase: str
    active: int
    created: int
    requests: int
    failed: int  # failed requests: no response, or a status not accepted
    rps: float


class Observer(Protocol):
    def tick(self, progress: Progress) -> None: ...

    def period_done(self, period: Period, width: float) -> None: ...

    def log(self, message: str) -> None: ...


@dataclass
class PhaseRun:
    index: int
    name: str
    started: float
    ended: float


@dataclass
class RunResult:
    periods: list[Period]
    duration: float
    phases: list[PhaseRun]
    stopped_by: str | None = None
    # Seconds this shard's schedule started after the shared --start-at (0 when on
    # time): a late start shifts the whole schedule, so arrival lag stays the generator's.
    late_start: float = 0.0
    # A bug in yamlload ended the run early: its traceback (the CLI exits 70).
    internal_error: str | None = None


# --------------------------------------------------------------------------- errors


def error_code(exc: BaseException) -> str:
    """Artillery's (Node's) name for a failed request."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "ETIMEDOUT"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return "ENOTFOUND"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _certificate_code(str(exc.certificate_error))
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return _certificate_code(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "ECONNRESET"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return "EPROTO"
    os_errno = getattr(exc, "errno", None)
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_errno = exc.os_error.errno
        if isinstance(exc.os_error, OSError) and "Name or service" in str(exc.os_error):
            return "ENOTFOUND"
    if isinstance(os_errno, int) and os_errno in errno.errorcode:
        # The OS's own name, as Node gives it: ECONNREFUSED, EMFILE, EADDRNOTAVAIL...
        return errno.errorcode[os_errno]
    if isinstance(exc, ConnectionResetError | aiohttp.ClientOSError):
        return "ECONNRESET"
    if isinstance(exc, aiohttp.InvalidURL):
        return "EINVALIDURL"
    return type(exc).__name__


def _certificate_code(text: str) -> str:
    lowered = text.lower()
    if "self-signed" in lowered or "self signed" in lowered:
        return "DEPTH_ZERO_SELF_SIGNED_CERT"
    if "expired" in lowered:
        return "CERT_HAS_EXPIRED"
    if "hostname" in lowered or "ip address mismatch" in lowered:
        return "ERR_TLS_CERT_ALTNAME_INVALID"
    if "unable to get local issuer" in lowered:
        return "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
    return "EPROTO"


# --------------------------------------------------------------------------- payloads


def read_payload(payload: Payload) -> Sequence[dict[str, Any]]:
    """The rows of a payload CSV, each a dict of its fields when it is used.

    The file must be a regular file of at most MAX_PAYLOAD_BYTES. Its rows are held as
    the file's bytes and where each row starts (`_Rows`: about the file's size in
    memory, where a dict per row took 13 times that); `loadAll` rows become one list of
    dicts, the value a user holds.
    """
    try:
        data = read_bounded(payload.path, MAX_PAYLOAD_BYTES)
    except OSError as exc:
        raise UsageError(f"payload {payload.path}: cannot read: {exc.strerror or exc}") from None
    lines = _Lines(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    reader = csv.reader(lines, delimiter=payload.delimiter)
    starts: array[int] = array("q")
    ends: array[int] = array("q")
    fields = tuple(payload.fields)
    header = not fields or payload.skip_header
    try:
        begin = lines.pos
        for row in reader:
            at, begin = begin, lines.pos
            if payload.skip_empty_lines and not any(cell.strip() for cell in row):
                continue
            if header:
                header = False
                fields = fields or tuple(row)
                continue
            starts.append(at)
            ends.append(begin)
    except UnicodeDecodeError:
        offset, byte = lines.bad
        raise UsageError(
            f"payload {payload.path}: not UTF-8 text (byte 0x{byte:02x} "
            f"at offset {offset}); save it as UTF-8"
        ) from None
    except csv.Error as exc:
        raise UsageError(f"{payload.path}:{reader.line_num}: not valid CSV: {exc}") from None
    rows = _Rows(data, starts, ends, fields, payload.delimiter, payload.cast)
    return list(rows) if payload.load_all else rows


class _Lines:
    """The lines of a CSV file's bytes, decoded one by one for csv.reader, with the offset
    where the next one starts (`pos`): a row is the bytes between two offsets. Lines end
    at \\n, \\r\\n or \\r, as a file opened with newline="" splits them."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos
        self.bad = (0, 0)  # offset and value of a byte that is not UTF-8

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise StopIteration
        newline = data.find(b"\n", pos)
        stop = len(data) if newline < 0 else newline + 1
        carriage = data.find(b"\r", pos, stop)
        if carriage >= 0 and carriage + 1 < stop and carriage != newline - 1:
            stop = carriage + 1  # a lone \r ends the line
        self.pos = stop
        try:
            return data[pos:stop].decode("utf-8")
        except UnicodeDecodeError as exc:
            self.bad = (pos + exc.start, data[pos + exc.start])
            raise


class _Rows(Sequence[dict[str, Any]]):
    """A payload's rows, held compactly: the file's bytes, where each row starts and
    ends, and one shared tuple of field names. Indexing parses that one row into a
    dict (a fresh one each time, so a user may change its own)."""

    def __init__(
        self,
        data: bytes,
        starts: array[int],
        ends: array[int],
        fields: tuple[str, ...],
        delimiter: str,
        cast: bool,
    ) -> None:
        self._data = data
        self._starts = starts
        self._ends = ends
        self.fields = fields
        self._delimiter = delimiter
        self._cast = cast

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        text = self._data[self._starts[index] : self._ends[index]].decode("utf-8")
        cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=self._delimiter), [])
        if self._cast:
            return {name: _cast(cell) for name, cell in zip(self.fields, cells, strict=False)}
        return dict(zip(self.fields, cells, strict=False))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} payload rows of {', '.join(self.fields)}>"


_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _cast(cell: str) -> Any:
    text = cell.strip()
    if _NUMBER.match(text):
        number = float(text)
        return (
            int(number)
            if number.is_integer() and "." not in text and "e" not in text.lower()
            else number
        )
    return cell


# --------------------------------------------------------------------------- hooks


def load_processor(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("yamlload_processor", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"processor {path}: cannot load")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # the user's module (sys.exit too): say what broke
        raise UsageError(f"processor {path}: {type(exc).__name__}: {exc}") from None
    return module


@dataclass
class HookContext:
    """What a processor hook receives: the user's variables, and its scenario's name."""

    vars: dict[str, Any]
    scenario: str


@dataclass
class HookResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


# --------------------------------------------------------------------------- users


@dataclass
class _User:
    vars: dict[str, Any]
    session: aiohttp.ClientSession
    scenario: Scenario
    rng: random.Random
    specials: dict[str, Any] = field(default_factory=dict)

    def lookup(self, name: str) -> Any:
        if name in self.vars:
            return self.vars[name]
        return self.specials.get(name)


def _render(value: Value, user: _User) -> Any:
    if isinstance(value, Template):
        if value.is_constant:
            return value.source
        return value.render(user.lookup, user.rng)
    if isinstance(value, TMap):
        return {k: _render(v, user) for k, v in value.items}
    if isinstance(value, TList):
        return [_render(v, user) for v in value.items]
    return value


def _is_constant(value: Value | None) -> bool:
    if isinstance(value, Template):
        return value.is_constant
    if isinstance(value, TMap):
        return all(_is_constant(v) for _, v in value.items)
    if isinstance(value, TList):
        return all(_is_constant(v) for v in value.items)
    return not isinstance(value, FormFile)


def _text(value: Value, user: _User) -> str:
    return to_text(_render(value, user))


class _Flow:
    """Runs steps for one user; returns False when the user must stop as failed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rec = engine.recorder

    async def run(self, steps: tuple[Step, ...], user: _User) -> bool:
        for step in steps:
            if self.engine.stopped_by is not None:
                return False  # after a stop, in-flight requests finish but no step starts
            try:
                if not await self.step(step, user):
                    return False
            except VALUE_ERRORS as exc:  # a value a server sent broke this step
                self.rec.count(f"errors.{STEP_ERROR}")
                where = step if isinstance(step, Request) else f"step {step.pos}"
                self.engine.failure(STEP_ERROR, user, where, _exception_text(exc))
                return False
        return True

    async def step(self, step: Step, user: _User) -> bool:
        if isinstance(step, Request):
            return await self.engine.http.send(step, user)
        if isinstance(step, ThinkStep):
            await self.engine.pause(self.think_seconds(step, user))
            return True
        if isinstance(step, LoopStep):
            return await self.loop(step, user)
        if isinstance(step, LogStep):
            secret_vars = [str(user.vars[n]) for n in self.engine.plan.secrets if n in user.vars]
            self.engine.log(_text(step.message, user), secret_vars)
            return True
        if isinstance(step, ParallelStep):
            results = await asyncio.gather(*(self.step(s, user) for s in step.steps))
            return all(results)
        if isinstance(step, FunctionStep):
            return await self.engine.call_hook(
                step.name, user, HookContext(user.vars, user.scenario.name)
            )
        raise AssertionError(f"unknown step {step!r}")

    def think_seconds(self, step: ThinkStep, user: _User) -> float:
        if step.low is not None and step.high is not None:
            seconds = user.rng.uniform(step.low, step.high)
        elif isinstance(step.seconds, Template):
            seconds = _duration_value(step.seconds.render(user.lookup, user.rng))
        else:
            seconds = float(step.seconds or 0.0)
        jitter = step.jitter if step.jitter is not None else self.engine.plan.default_jitter
        if step.jitter_seconds:
            seconds += user.rng.uniform(-step.jitter_seconds, step.jitter_seconds)
        elif jitter:
            seconds *= user.rng.uniform(1 - jitter, 1 + jitter)
        return max(0.0, seconds)

    async def loop(self, step: LoopStep, user: _User) -> bool:
        saved = (user.vars.get("$loopCount"), user.vars.get("$loopElement"))
        try:
            for index, element in enumerate(self.loop_items(step, user)):
                if step.while_true is not None and not await self.engine.call_hook(
                    step.while_true,
                    user,
                    HookContext(user.vars, user.scenario.name),
                    want_value=True,
                ):
                    break
                user.vars["$loopCount"] = index
                user.vars["$loopElement"] = element
                if not await self.run(step.steps, user):
                    return False
                # An iteration whose steps never waited (all skipped by ifTrue) must still
                # let the loop run, or a stop could never be heard.
                await asyncio.sleep(0)
        finally:
            user.vars["$loopCount"], user.vars["$loopElement"] = saved
        return True

    def loop_items(self, step: LoopStep, user: _User) -> Iterator[Any]:
        if step.over is not None:
            items = _render(step.over, user)
            yield from (
                items
                if isinstance(items, list | tuple)
                else ([] if items in (None, "") else [items])
            )
            return
        if isinstance(step.count, tuple):
            low, high = step.count
            count = low if low == high else user.rng.randint(low, high)
        elif isinstance(step.count, Template):
            count = _int_or(step.count.render(user.lookup, user.rng), 0)
        else:
            count = -1  # no count: repeat until the run stops
        index = 0
        while count < 0 or index < count:
            yield index  # $loopCount and $loopElement start at 0, as in Artillery
            index += 1


def _duration_value(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    seconds = parse_duration(str(value)) if value is not None else None
    return seconds or 0.0


def _int_or(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


class _InvalidHeader(Exception):
    """A header value that would split the request (CR or LF), usually a captured value."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


BUILD_ERRORS: tuple[type[BaseException], ...] = (OSError, _InvalidHeader, *VALUE_ERRORS)


@dataclass
class _Answer:
    """One response, read: what the metrics, captures and checks need of it."""

    status: int
    headers: Mapping[str, str]
    url: URL
    body: bytes | None
    head: bytes  # the body's first bytes, for a printed failure
    size: int
    millis: float
    ttfb: float


# The largest file one formData field uploads; a bigger one is a request error (EFBIG).
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class FilePathError(OSError):
    """A formData file a request may not read: its rendered path leaves the plan's folder
    and the --allow-path folders, or it names no regular file (/dev/zero, a FIFO). The
    request is never sent; it counts as `errors.EFILEPATH`."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(errno.EACCES, why, path)


@dataclass(frozen=True)
class _Upload:
    """A formData file whose path was checked; read by `_PendingForm.load`."""

    path: str  # symlinks resolved, inside the allowed folders
    filename: str
    content_type: str | None


def _upload_path(file: FormFile, rendered: str) -> str:
    """The resolved path of a formData file, or FilePathError when it escapes."""
    if "\0" in rendered:
        raise FilePathError(rendered, "a file path cannot hold a NUL character")
    joined = os.path.join(file.base_dir, rendered)
    roots = file.roots if isinstance(file, ConfinedFile) else (os.path.realpath(file.base_dir),)
    real = outside_roots(joined, roots)
    if real is not None:
        raise FilePathError(
            rendered, "outside the folders a plan may read (its own and each --allow-path)"
        )
    return os.path.realpath(joined)


def _read_upload(path: str) -> bytes:
    """A formData file's bytes: a regular file of at most MAX_UPLOAD_BYTES."""
    try:
        return read_bounded(path, MAX_UPLOAD_BYTES)
    except NotRegularFileError:
        raise FilePathError(path, "not a regular file") from None


class _PendingForm(aiohttp.FormData):
    """Multipart fields whose files are read when the request is about to go:
    `load()` reads them in a worker thread. Should aiohttp take the form before that
    (`__call__`), the files are read there, with the same checks and bounds."""

    def __init__(self, parts: list[tuple[str, str | _Upload]]) -> None:
        super().__init__()
        self._parts = parts
        self._loaded = False

    async def load(self) -> None:
        if not self._loaded:
            uploads = [part for _, part in self._parts if isinstance(part, _Upload)]
            contents = [await asyncio.to_thread(_read_upload, u.path) for u in uploads]
            self._fill(contents)

    def _fill(self, contents: list[bytes]) -> None:
        self._loaded = True
        read = iter(contents)
        for name, part in self._parts:
            if isinstance(part, _Upload):
                form_bytes = next(read)
                self.add_field(
                    name, form_bytes, filename=part.filename, content_type=part.content_type
                )
            else:
                self.add_field(name, part)

    def __call__(self) -> Any:
        if not self._loaded:
            self._fill([_read_upload(p.path) for _, p in self._parts if isinstance(p, _Upload)])
        return super().__call__()


class _Http:
    """Sends one request for a user (and the redirects it follows) and records what
    happened. Every attempt ends in exactly one outcome, counted in the period where it
    ends: a response, a request error, or an interruption."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.plan = engine.plan
        self.rec = engine.recorder
        self.target = engine.plan.target.rstrip("/")
        # Metric names per (endpoint, status), built once: the hot path only looks up.
        self._names: dict[tuple[str, int], tuple[str, ...]] = {}
        self._constant_specs: dict[int, dict[str, Any] | None] = {}
        self._accepted: dict[int, Callable[[int, _User], bool]] = {}
        default = self.plan.http.expected_statuses or DEFAULT_ACCEPTED
        self._default_accepted = _status_ranges(default)
        self.apdex = self.plan.apdex_threshold_ms
        secret_names = {n.lower() for n in self.plan.secrets}

        def private(header: str) -> bool:
            name = header.lower()
            return (
                name in CROSS_ORIGIN_DROP
                or name in secret_names
                or CREDENTIAL_LOOK.search(name) is not None
            )

        self.private_headers = private

    def url(self, request: Request, user: _User) -> str:
        path = _text(request.url, user)
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.target + path

    def spec(self, request: Request, user: _User) -> dict[str, Any]:
        """The request's keyword arguments for aiohttp. A request with nothing to render
        is built once and its arguments reused (aiohttp copies what it keeps), which
        takes template and dict work off the hot path. Not for hooks, which may edit it."""
        key = id(request)  # Request objects live as long as the plan, so ids are stable
        if key not in self._constant_specs:
            constant = (
                request.form_data is None
                and request.auth is None
                and all(
                    _is_constant(value)
                    for value in (
                        request.url,
                        request.headers,
                        self.plan.default_headers,
                        request.qs,
                        request.json,
                        request.body,
                        request.form,
                    )
                )
            )
            self._constant_specs[key] = self.build(request, user) if constant else None
        return self._constant_specs[key] or self.build(request, user)

    def build(self, request: Request, user: _User) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for k, v in self.plan.default_headers.items:
            headers[k] = _header_text(k, v, user)
        for k, v in request.headers.items:
            headers[k] = _header_text(k, v, user)
        spec: dict[str, Any] = {
            "method": request.method,
            "url": self.url(request, user),
            "headers": headers,
            "allow_redirects": False,  # followed here, so each hop is counted
        }
        if request.gzip:
            headers.setdefault("accept-encoding", GZIP_ACCEPT_ENCODING)
        else:
            # As Artillery: no compression is asked for unless the request says gzip.
            spec["skip_auto_headers"] = ("accept-encoding",)
        if request.qs.items:
            spec["params"] = {k: _text(v, user) for k, v in request.qs.items}
        if request.auth is not None:
            user_name, password = (to_text(t.render(user.lookup, user.rng)) for t in request.auth)
            token = base64.b64encode(f"{user_name}:{password}".encode()).decode("ascii")
            if self.engine.redactor.is_secret(password):  # a server may echo the token
                self.engine.runtime_secrets.add(token)
            headers.setdefault("authorization", f"Basic {token}")
        if request.has_json:
            spec["json"] = _render(request.json, user)
        elif request.body is not None:
            body = _render(request.body, user)
            spec["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        elif request.form is not None:
            spec["data"] = {k: _text(v, user) for k, v in request.form.items}
        elif request.form_data is not None:
            spec["data"] = self.form_data(request.form_data, user)
        return spec

    def form_data(self, fields: TMap, user: _User) -> aiohttp.FormData:
        """The multipart fields. A file's rendered path is checked here (FilePathError
        when it leaves the plan's folder and the --allow-path folders); its bytes are read
        later, off the event loop, by `read_form_files`."""
        parts: list[tuple[str, str | _Upload]] = []
        for name, value in fields.items:
            if isinstance(value, FormFile):
                path = _upload_path(value, _text(value.path, user))
                filename = _text(value.filename, user) if value.filename else os.path.basename(path)
                content_type = _text(value.content_type, user) if value.content_type else None
                parts.append((name, _Upload(path, filename, content_type)))
            else:
                parts.append((name, _text(value, user)))
        if not any(isinstance(part, _Upload) for _, part in parts):
            form = aiohttp.FormData()
            for name, text in parts:
                form.add_field(name, text)
            return form
        return _PendingForm(parts)

    async def read_form_files(self, spec: dict[str, Any]) -> None:
        """Read the files of a formData request in a worker thread, never on the event
        loop. Raises what `build` does: FilePathError (not a regular file) or another
        OSError (EFBIG over MAX_UPLOAD_BYTES, ENOENT...)."""
        data = spec.get("data")
        if isinstance(data, _PendingForm):
            await data.load()

    def unsendable(self, request: Request, user: _User, exc: BaseException) -> bool:
        """A request its user's values could not make (a header with a line break, an
        unreadable file, a character no encoding takes): counted, named, never sent."""
        if isinstance(exc, _InvalidHeader):
            code = "EINVALIDHEADER"
            detail = f"header {exc.name!r} holds a control character; the request was not sent"
        elif isinstance(exc, FilePathError):
            code, detail = "EFILEPATH", _exception_text(exc)
        elif isinstance(exc, OSError):
            code, detail = _os_code(exc), _exception_text(exc)
        else:
            code, detail = INVALID_REQUEST, _exception_text(exc)
        self.record_error(request.label, code)
        self.engine.failure(code, user, request, detail)
        return False

    def set_cookies(self, request: Request, user: _User, url: str) -> None:
        """A request's `cookie:` goes into the user's jar, so later requests send it too
        (as Artillery does)."""
        cookies = {k: _text(v, user) for k, v in self.plan.default_cookie.items}
        cookies.update({k: _text(v, user) for k, v in request.cookie.items})
        if cookies:
            user.session.cookie_jar.update_cookies(cookies, URL(url))

    async def send(self, request: Request, user: _User) -> bool:
        """One request step; False when the user must stop as failed."""
        if request.if_true is not None and not request.if_true.evaluate(user.lookup):
            return True
        if request.probability is not None and user.rng.random() * 100 >= request.probability:
            return True
        hooked = user.scenario.before_request or request.before_request
        try:
            spec = self.build(request, user) if hooked else self.spec(request, user)
            await self.read_form_files(spec)
            if self.plan.default_cookie.items or request.cookie.items:
                self.set_cookies(request, user, spec["url"])
        except BUILD_ERRORS as exc:
            # The request could not be made from what the user holds: a request error
            # of its own, named, that never reached the wire.
            return self.unsendable(request, user, exc)
        if hooked:
            before = (*user.scenario.before_request, *request.before_request)
            if not await self.engine.call_hooks(before, user, spec):
                return False
        reads_body = bool(
            request.captures
            or request.matches
            or request.expects
            or request.after_response
            or user.scenario.after_response
        )
        keep = self.plan.http.max_body_bytes if reads_body else 0
        answer = await self.exchange(request, spec, user, keep)
        if answer is None:
            return False
        expects_200 = self.plan.expect_default_200 and not request.expects
        if expects_200 and not self.expect_200(request, user, answer):
            return False
        if not reads_body:
            return True
        return await self.use_answer(request, spec, user, answer, keep)

    async def exchange(
        self, request: Request, spec: dict[str, Any], user: _User, keep: int
    ) -> _Answer | None:
        """Send, follow redirects as asked, and count each hop's outcome. None when the
        request failed for its user: a hop got no response, or the redirects never
        ended (the error is counted)."""
        label = request.label
        for hop in range(MAX_REDIRECTS + 1):
            try:
                answer = await self.attempt(spec, user, keep)
            except asyncio.CancelledError:
                self.record_interrupted(label)
                raise
            except TRANSPORT_ERRORS as exc:
                code = error_code(exc)
                self.record_error(label, code)
                self.engine.failure(code, user, request, _transport_detail(spec, exc))
                return None
            except VALUE_ERRORS as exc:  # aiohttp refused what the values made of it
                self.unsendable(request, user, exc)
                return None
            location = answer.headers.get("location")
            redirect = request.follow_redirect and answer.status in REDIRECT_CODES and location
            follow = redirect and hop < MAX_REDIRECTS
            too_many = redirect and not follow
            accepted = bool(follow) or (not too_many and self.accepts(request, answer.status, user))
            self.record_response(label, answer.status, answer.millis, answer.size, accepted)
            if self.plan.http.extended_metrics:
                self.rec.observe("http.ttfb", answer.ttfb)
            if self.engine.options.debug:
                self.engine.log(
                    f"debug: {spec['method']} {answer.url} → {answer.status} "
                    f"({answer.millis:.1f} ms, {answer.size} bytes)",
                    self.engine.user_secrets(user),
                )
            if too_many:
                # As got (Artillery's client) does: a redirect loop is an error, not a success.
                self.rec.count(f"errors.{TOO_MANY_REDIRECTS}")
                to = _printable(location)
                detail = f"still redirected after {MAX_REDIRECTS} redirects, to {to}"
                self.engine.failure(TOO_MANY_REDIRECTS, user, request, detail)
                return None
            if not accepted:
                self.engine.failure(f"status {answer.status}", user, request, "", answer.head)
            if not follow:
                return answer
            try:
                spec = _redirected(spec, answer, str(location), self.private_headers)
            except ValueError:  # a Location that is no URL: the next hop cannot be made
                self.record_error(label, "EINVALIDURL")
                detail = f"redirected to {_printable(location)!r}, which is not a URL"
                self.engine.failure("EINVALIDURL", user, request, detail)
                return None
        raise AssertionError("unreachable: the last hop is never followed")

    async def attempt(self, spec: dict[str, Any], user: _User, keep: int) -> _Answer:
        start = time.perf_counter()
        async with user.session.request(**spec) as response:
            first_byte = time.perf_counter()
            body, size, head = await read_body(response, keep)
            millis = (time.perf_counter() - start) * 1000.0
            return _Answer(
                response.status,
                response.headers,
                response.url,
                body,
                head,
                size,
                millis,
                (first_byte - start) * 1000.0,
            )

    async def use_answer(
        self, request: Request, spec: dict[str, Any], user: _User, answer: _Answer, keep: int
    ) -> bool:
        """Captures, matches, expectations and response hooks on the final response."""
        if answer.body is None:
            self.rec.count(f"errors.{BODY_TOO_LARGE}")
            self.engine.failure(
                BODY_TOO_LARGE,
                user,
                request,
                f"the body was {answer.size:,} bytes, over config.http.maxBodyBytes ({keep:,}); "
                "its captures and checks fail",
            )
            return False
        checked = _Response(answer.status, answer.headers, answer.body)
        if not self.capture(request, checked, user):
            return False
        if not self.expect(request, checked, user):
            return False
        after = (*request.after_response, *user.scenario.after_response)
        return not after or await self.engine.call_hooks(
            after, user, spec, HookResponse(answer.status, answer.headers, answer.body)
        )

    def expect_200(self, request: Request, user: _User, answer: _Answer) -> bool:
        """expectDefault200: a request without expectations expects a 200, counted."""
        passed = answer.status == 200
        outcome = "ok" if passed else "failed"
        self.rec.count(f"plugins.expect.{outcome}")
        self.rec.count(f"plugins.expect.{outcome}.statusCode")
        if passed:
            return True
        self.engine.failure(
            "expect statusCode", user, request, f"status {answer.status} (expectDefault200)"
        )
        if self.plan.expect_stop_user:
            self.rec.count(f"errors.{FAILED_EXPECTATIONS}")
            return False
        return True

    def accepts(self, request: Request, status: int, user: _User) -> bool:
        judge = self._accepted.get(id(request))
        if judge is None:
            judge = self._accepted[id(request)] = self._acceptance(request)
        return judge(status, user)

    def _acceptance(self, request: Request) -> Callable[[int, _User], bool]:
        """Which statuses count as a success for this request: its own `statusCode`
        expectations when it has any, else the plan's expectedStatuses (2xx and 3xx).
        Worked out once, unless the expectations are templates: then per user."""
        status_checks = [c for c in request.expects if c.kind in ("statusCode", "notStatusCode")]
        default_200 = not request.expects and self.plan.expect_default_200
        default = self._default_accepted

        def judge(wanted: set[int], unwanted: set[int]) -> Callable[[int], bool]:
            if default_200:
                wanted = wanted | {200}
            if wanted:
                return lambda status: status in wanted and status not in unwanted
            return lambda status: default(status) and status not in unwanted

        if all(_is_constant(a) for c in status_checks for a in c.args):
            fixed = judge(*_status_codes(status_checks, lambda a: _constant(a)))
            return lambda status, _: fixed(status)
        return lambda status, user: judge(
            *_status_codes(status_checks, lambda a: _render(a, user))
        )(status)

    # ---- outcomes: each request ends in exactly one of these

    def record_response(
        self, label: str, status: int, millis: float, size: int, accepted: bool
    ) -> None:
        """One response's metrics, into the current period: the hot path, kept cheap."""
        names = self._names.get((label, status))
        if names is None:
            endpoint = f"{ENDPOINT_PREFIX}.{label}"
            names = self._names[(label, status)] = (
                f"http.codes.{status}",
                f"http.response_time.{status // 100}xx",
                f"{endpoint}.codes.{status}",
                f"{ENDPOINT_PREFIX}.response_time.{label}",
                f"{endpoint}.requests",
                f"{endpoint}.requests_failed",
            )
        metrics = self.rec.current()
        metrics.count("http.requests")
        metrics.count(names[4])
        metrics.count("http.responses")
        metrics.count(names[0])
        metrics.observe("http.response_time", millis)
        metrics.observe(names[1], millis)
        metrics.count("http.downloaded_bytes", size)
        metrics.count(names[2])
        metrics.observe(names[3], millis)
        if not accepted:
            metrics.count("http.requests_failed")
            metrics.count(names[5])
        if self.apdex is not None:
            metrics.count(_apdex_bucket(millis, self.apdex))

    def record_error(self, label: str, code: str) -> None:
        metrics = self.rec.current()
        for name in (
            "http.requests",
            "http.requests_failed",
            f"errors.{code}",
            f"{ENDPOINT_PREFIX}.{label}.requests",
            f"{ENDPOINT_PREFIX}.{label}.requests_failed",
            f"{ENDPOINT_PREFIX}.{label}.errors.{code}",
        ):
            metrics.count(name)

    def record_interrupted(self, label: str) -> None:
        metrics = self.rec.current()
        for name in (
            "http.requests",
            "http.requests_interrupted",
            f"{ENDPOINT_PREFIX}.{label}.requests",
            f"{ENDPOINT_PREFIX}.{label}.requests_interrupted",
        ):
            metrics.count(name)

    # ---- what the flow reads from a response

    def capture(self, request: Request, response: _Response, user: _User) -> bool:
        for capture in request.captures:
            try:
                value = response.take(capture)
            except CAPTURE_ERRORS as exc:
                return self.failed_capture(request, user, capture, response, f"raised {exc}")
            if value is None or value == "":
                if capture.strict:
                    why = "found nothing" if value is None else "found an empty string"
                    return self.failed_capture(request, user, capture, response, why)
                continue
            user.vars[capture.as_name] = value
        for match in request.matches:
            try:
                found = response.take(match.capture)
            except CAPTURE_ERRORS as exc:
                return self.failed_capture(request, user, match.capture, response, f"raised {exc}")
            wanted = _text(match.value, user)
            if match.capture.strict and to_text(found) != wanted:
                why = f"found {to_text(found)!r}, wanted {wanted!r}"
                return self.failed_capture(request, user, match.capture, response, why)
        return True

    def failed_capture(
        self, request: Request, user: _User, capture: Capture, response: _Response, why: str
    ) -> bool:
        self.rec.count(f"errors.{FAILED_CAPTURE}")
        self.engine.failure(
            FAILED_CAPTURE,
            user,
            request,
            f"{capture.kind} {capture.source!r} {why}",
            response.body,
        )
        return False

    def expect(self, request: Request, response: _Response, user: _User) -> bool:
        """Artillery's expect plugin: every expectation is counted; a failed one fails
        the run's verdict but not the user, unless reportFailuresAsErrors says so."""
        all_passed = True
        for check in request.expects:
            try:
                passed = _check(check, response, user)
            except CAPTURE_ERRORS as exc:
                # The check cannot be judged on this data: that user fails, named.
                self.rec.count("plugins.expect.failed")
                self.rec.count(f"plugins.expect.failed.{check.kind}")
                self.rec.count(f"errors.{EXPECTATION_ERROR}")
                detail = f"raised {_exception_text(exc)}"
                self.engine.failure(EXPECTATION_ERROR, user, request, detail, response.body)
                return False
            outcome = "ok" if passed else "failed"
            self.rec.count(f"plugins.expect.{outcome}")
            self.rec.count(f"plugins.expect.{outcome}.{check.kind}")
            if not passed:
                all_passed = False
                self.engine.failure(
                    f"expect {check.kind}",
                    user,
                    request,
                    f"{_describe_check(check, user)} (at {check.pos}) failed on status "
                    f"{response.status}",
                    response.body,
                )
        if not all_passed and self.plan.expect_stop_user:
            self.rec.count(f"errors.{FAILED_EXPECTATIONS}")
            return False
        return True


def _header_text(name: str, value: Value, user: _User) -> str:
    text = _text(value, user)
    if _HEADER_CONTROL.search(text):  # CR, LF, NUL…: RFC 9110 allows only tab
        raise _InvalidHeader(name)
    return text


_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _transport_detail(spec: Mapping[str, Any], exc: BaseException) -> str:
    said = str(exc)
    why = type(exc).__name__ + (f": {said}" if said and said != str(spec["url"]) else "")
    return f"{spec['method']} {spec['url']}: {why}"


def _describe_check(check: Expect, user: _User) -> str:
    """An expectation with its operands as this user saw them: `hasProperty 'a.b'`."""
    args = ", ".join(repr(to_text(_render(a, user))) for a in check.args)
    return f"{check.kind} {args}" if args else check.kind


def _status_codes(
    checks: Iterable[Expect], value_of: Callable[[Value], Any]
) -> tuple[set[int], set[int]]:
    """The codes `statusCode` expectations want and `notStatusCode` ones refuse."""
    wanted: set[int] = set()
    unwanted: set[int] = set()
    for check in checks:
        codes = {_int_or(value_of(a), -1) for a in check.args}
        (wanted if check.kind == "statusCode" else unwanted).update(codes)
    return wanted, unwanted


def _constant(value: Value) -> Any:
    return value.source if isinstance(value, Template) else value


def _status_ranges(ranges: Iterable[tuple[int, int]]) -> Callable[[int], bool]:
    spans = tuple(ranges)
    return lambda status: any(low <= status <= high for low, high in spans)


def _apdex_bucket(millis: float, threshold: float) -> str:
    if millis <= threshold:
        return "apdex.satisfied"
    return "apdex.tolerated" if millis <= 4 * threshold else "apdex.frustrated"


def _redirected(
    spec: dict[str, Any], answer: _Answer, location: str, private: Callable[[str], bool]
) -> dict[str, Any]:
    """The next hop of a redirect, as browsers (and got, under Artillery) make it: 303
    turns any method but HEAD into GET, 301 and 302 turn POST into GET, and a body goes
    only with 307 and 308."""
    url = answer.url.join(URL(location))
    method = spec["method"].upper()
    to_get = (answer.status == 303 and method != "HEAD") or (
        answer.status in (301, 302) and method == "POST"
    )
    nxt = {k: v for k, v in spec.items() if k not in ("url", "params")}
    nxt["url"] = str(url)
    if to_get:
        nxt["method"] = "GET"
        for key in ("json", "data"):
            nxt.pop(key, None)
    if url.origin() != answer.url.origin():
        nxt["headers"] = {k: v for k, v in spec["headers"].items() if not private(k)}
    return nxt


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: object) -> str:
    return _CONTROL.sub(" ", str(text))[:SNIPPET_BYTES]


def _exception_text(exc: BaseException) -> str:
    said = _CONTROL.sub(" ", str(exc))[:SNIPPET_BYTES]
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


async def read_body(response: aiohttp.ClientResponse, keep: int) -> tuple[bytes | None, int, bytes]:
    """A body's size, the body itself while it fits in `keep` bytes (None past it), and
    its first HEAD_BYTES, which a printed failure shows.

    Nothing more is held that no one reads: with keep=0 the chunks are counted and
    dropped, so a 100 MB (or a decompression bomb's 10 GB) body costs no memory."""
    length = response.content_length
    if (
        length is not None
        and length <= max(keep, READ_WHOLE_BYTES)
        and response.headers.get("content-encoding", "identity") == "identity"
    ):
        body = await response.read()
        head = body[:HEAD_BYTES]
        if not keep:
            return b"", len(body), head
        return (body if len(body) <= keep else None), len(body), head
    kept: bytearray | None = bytearray() if keep else None
    head = b""
    size = 0
    async for chunk in response.content.iter_any():
        if size < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - size]
        size += len(chunk)
        if kept is not None:
            if size > keep:
                kept = None
            else:
                kept += chunk
    if not keep:
        return b"", size, head
    return (bytes(kept) if kept is not None else None), size, head


def _os_code(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "EIO")


class _Response:
    """A response as checks and captures read it; the JSON body is parsed at most once."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._json: Any = _UNSET

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                self._json = None
        return self._json

    def take(self, capture: Capture) -> Any:
        if capture.path is not None:
            return capture.path.search(self.json) if self.json is not None else None
        if capture.regexp is not None:
            found = capture.regexp.search(self.text)
            if found is None:
                return None
            group = capture.group
            if group is None:
                return found.group(0)
            return found.group(int(group) if isinstance(group, str) and group.isdigit() else group)
        return self.headers.get(capture.header or "")


_UNSET = object()


def _check(check: Expect, response: _Response, user: _User) -> bool:
    args = [_render(a, user) for a in check.args]
    kind = check.kind
    if kind in ("statusCode", "notStatusCode"):
        codes = {_int_or(a, -1) for a in args}
        return (response.status in codes) == (kind == "statusCode")
    if kind == "contentType":
        wanted = str(args[0]).lower()
        have = response.headers.get("content-type", "").lower()
        return ("json" in have) if wanted == "json" else wanted in have
    if kind in ("hasProperty", "notHasProperty"):
        found = _has_path(response.json, str(args[0]))
        return found == (kind == "hasProperty")
    if kind == "equals":
        return len({to_text(a) for a in args}) <= 1
    if kind == "hasHeader":
        return str(args[0]) in response.headers
    if kind == "headerEquals":
        return response.headers.get(str(args[0])) == to_text(args[1])
    if kind == "matchesRegexp":
        pattern = check.regexp or re.compile(to_text(args[0]))
        return pattern.search(response.text) is not None
    if kind == "jmespath":
        return bool(check.path.search(response.json)) if check.path else False
    if kind == "cdnHit":
        cache = " ".join(
            response.headers.get(h, "") for h in ("x-cache", "cf-cache-status", "x-cache-status")
        )
        return ("hit" in cache.lower()) == bool(args[0])
    return False


def _has_path(data: Any, path: str) -> bool:
    node = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


# --------------------------------------------------------------------------- engine


class Engine:
    """Drives one plan: schedule → users → recorder. Create, then `await run()`."""

    def __init__(
        self,
        plan: Plan,
        options: RunOptions | None = None,
        observer: Observer | None = None,
        on_checkpoint: Callable[[RunResult], None] | None = None,
    ) -> None:
        self.plan = plan
        self.options = options or RunOptions()
        self.observer = observer
        self.on_checkpoint = on_checkpoint
        self.redactor = Redactor.for_plan(plan)
        # Every shard draws the same schedule (so poisson phases agree), and each user's
        # choices come from the run's seed and its global arrival index: a seeded run
        # makes the same choices however it is split.
        self.seed = self.options.seed if self.options.seed is not None else random.getrandbits(63)
        self.schedule_rng = random.Random(self.seed)
        self.rng = random.Random(f"{self.seed}/special")
        self.recorder = Recorder()
        self.scenarios, self.weights = self._scenarios()
        self.phases = self._phases()
        self.payloads = [(p, read_payload(p)) for p in plan.payloads]
        self.processor = load_processor(plan.processor) if plan.processor else None
        self.http = _Http(self)
        self.flow = _Flow(self)
        self.env = dict(plan.env)
        self.shared_vars: dict[str, Any] = {}
        self.users: set[asyncio.Task[None]] = set()
        self.active = 0
        self.t0 = 0.0
        self.stopped_by: str | None = None
        self.late_start = 0.0
        self._dispatcher: asyncio.Task[None] | None = None
        self._special_task: asyncio.Task[None] | None = None
        # The checkpoint being written on a thread of its own, if any.
        self._checkpointing: asyncio.Future[None] | None = None
        self._stopping = asyncio.Event()
        # Secrets met while running: the Basic token made from a secret password.
        self.runtime_secrets: set[str] = set()
        self._connector: aiohttp.TCPConnector | None = None
        self._ssl: bool | ssl.SSLContext = not (
            self.options.insecure or not plan.http.reject_unauthorized
        )
        self._phase_runs: list[PhaseRun] = []
        self._trace = self._extended_metrics() if plan.http.extended_metrics else None
        self._failures: dict[str, int] = {}
        # Tasks the engine itself is cancelling (a stop's grace or a gracefulStop ran
        # out), told apart from a CancelledError that a user's hook raised.
        self._cut: set[asyncio.Task[None]] = set()
        self.internal_error: str | None = None
        self._next_period = 0
        self._last_period = last_period_index(self.total_duration)
        self.recorder.last_period = self._last_period

    # ---- setup

    def _scenarios(self) -> tuple[list[Scenario], list[float]]:
        scenarios = list(self.plan.scenarios)
        if self.options.scenario_name is not None:
            scenarios = [s for s in scenarios if s.name == self.options.scenario_name]
            if not scenarios:
                names = ", ".join(repr(s.name) for s in self.plan.scenarios)
                wanted = self.options.scenario_name
                raise UsageError(f"--scenario-name {wanted!r}: no such scenario (have: {names})")
            return scenarios, [1.0] * len(scenarios)
        return scenarios, [s.weight for s in scenarios]

    def _phases(self) -> tuple[Phase, ...]:
        if self.options.solo:
            return (Phase(index=0, name="solo", kind="count", duration=0.0, arrival_count=1),)
        return self.plan.phases

    @property
    def total_duration(self) -> float:
        return sum(p.duration for p in self.phases)

    def now(self) -> float:
        # perf_counter, not loop.time(): uvloop's clock only has millisecond steps.
        return time.perf_counter() - self.t0

    def log(self, message: str, secrets: Iterable[str] = ()) -> None:
        """Every line the run prints goes through here, and out with its secrets masked."""
        if self.observer is not None:
            # A plan's log: step may print what a server sent: no terminal escapes.
            text = _CONTROL.sub(" ", message)
            self.observer.log(self.redactor.text(text, [*secrets, *self.runtime_secrets]))

    async def pause(self, seconds: float) -> None:
        """A user's think time, which a stop ends at once."""
        if seconds <= 0 or self.stopped_by is not None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), min(seconds, MAX_PAUSE_SECONDS))

    def user_secrets(self, user: _User) -> list[str]:
        """The values of this user's variables that config.secrets names."""
        return [str(user.vars[n]) for n in self.plan.secrets if n in user.vars]

    def failure(
        self,
        kind: str,
        user: _User,
        where: Request | str,
        detail: str,
        body: bytes | None = None,
    ) -> None:
        """Print the first few failures of each kind whole (every one under --debug),
        so a failed run can be debugged from its output alone. `where` is the request
        that failed, or a description of the place (a hook)."""
        seen = self._failures.get(kind, 0) + 1
        self._failures[kind] = seen
        if seen > FAILURE_EXAMPLES and not self.options.debug:
            return
        secrets = self.user_secrets(user)
        more = (
            f" (further '{kind}' failures are counted, not printed)"
            if seen == FAILURE_EXAMPLES and not self.options.debug
            else ""
        )
        place = f"step {where.pos}, {where.label}" if isinstance(where, Request) else where
        if body is not None:
            detail = f"{detail}; body: {self.snippet(body, secrets)}".lstrip("; ")
        self.log(f"{kind}: scenario {user.scenario.name!r}, {place}: {detail}{more}", secrets)

    def snippet(self, body: bytes, secrets: Iterable[str]) -> str:
        """A body's first bytes as one printable line, masked before it is cut (so a
        secret across the cut is masked whole), with a server's control characters
        (line breaks, terminal escapes) blanked."""
        if not body:
            return "(empty)"
        text = self.redactor.text(
            body[:HEAD_BYTES].decode("utf-8", "replace"), [*secrets, *self.runtime_secrets]
        )
        text = _CONTROL.sub(" ", text)
        cut = len(text) > SNIPPET_BYTES or len(body) > HEAD_BYTES
        return text[:SNIPPET_BYTES] + ("…" if cut else "")

    # ---- users

    def _new_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.plan.http.timeout)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 and other IP hosts too
        traces = [self._trace] if self._trace is not None else None
        if self._connector is not None:
            return aiohttp.ClientSession(
                connector=self._connector,
                connector_owner=False,
                timeout=timeout,
                cookie_jar=jar,
                trace_configs=traces,
            )
        connector = aiohttp.TCPConnector(
            limit=self.plan.http.max_sockets or 0, ssl=self._ssl, resolver=self.options.resolver
        )
        return aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=jar, trace_configs=traces
        )

    def _extended_metrics(self) -> aiohttp.TraceConfig:
        """`http.dns` and the connection setup: `http.tcp` for http://, `http.tls` for
        https:// (aiohttp reports TCP and TLS setup as one step, so `http.tls` includes
        the TCP connect)."""
        trace = aiohttp.TraceConfig()
        rec = self.recorder
        secure = self.plan.target.lower().startswith("https://")

        async def dns_start(_: Any, ctx: Any, __: Any) -> None:
            ctx.dns = time.perf_counter()

        async def dns_end(_: Any, ctx: Any, __: Any) -> None:
            rec.observe("http.dns", (time.perf_counter() - ctx.dns) * 1000.0)

        async def connect_start(_: Any, ctx: Any, __: Any) -> None:
            ctx.connect = time.perf_counter()

        async def connect_end(_: Any, ctx: Any, __: Any) -> None:
            name = "http.tls" if secure else "http.tcp"
            rec.observe(name, (time.perf_counter() - ctx.connect) * 1000.0)

        trace.on_dns_resolvehost_start.append(dns_start)
        trace.on_dns_resolvehost_end.append(dns_end)
        trace.on_connection_create_start.append(connect_start)
        trace.on_connection_create_end.append(connect_end)
        trace.freeze()
        return trace

    def _initial_vars(self, rng: random.Random, arrival_index: int = 0) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.shared_vars)
        user = _User(values, None, self.scenarios[0], rng, self._specials(self.scenarios[0]))  # type: ignore[arg-type]
        for name, value in self.plan.variables.items:
            chosen = rng.choice(value.items) if isinstance(value, TList) and value.items else value
            values[name] = _render(chosen, user)
        for payload, rows in self.payloads:
            if not rows:
                continue
            if payload.load_all:
                values[payload.name or "data"] = list(rows)
                continue
            if payload.order == "sequence":
                # by the arrival's global index, so shards never share a row
                row = rows[arrival_index % len(rows)]
            else:
                row = rng.choice(rows)
            values.update(row)
        return values

    def _specials(self, scenario: Scenario) -> dict[str, Any]:
        return {
            "$env": self.env,
            "$processEnvironment": self.env,
            "$environment": self.plan.environment,
            "$dirname": self.plan.base_dir,
            "$target": self.plan.target,
            "$scenarioName": scenario.name,
        }

    async def call_hooks(self, names: tuple[str, ...], user: _User, *args: Any) -> bool:
        """Request hooks in order, each given (*args, context); stop at the first failure."""
        context = HookContext(user.vars, user.scenario.name)
        for name in names:
            if not await self.call_hook(name, user, *args, context):
                return False
        return True

    async def call_hook(self, name: str, user: _User, *args: Any, want_value: bool = False) -> bool:
        function = getattr(self.processor, name, None)
        try:
            result = function(*args) if function else None
            if inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError as exc:
            if asyncio.current_task() in self._cut:
                raise  # the engine is cutting this user, not the hook failing
            return self._hook_failed(name, user, exc)
        except BaseException as exc:  # the user's code failed (SystemExit too): count it
            return self._hook_failed(name, user, exc)
        return bool(result) if want_value else True

    def _hook_failed(self, name: str, user: _User, exc: BaseException) -> bool:
        self.recorder.count("errors.EPROCESSOR")
        self.failure("EPROCESSOR", user, f"processor function {name!r}", _exception_text(exc))
        return False

    async def _run_user(self, arrival: Arrival, deadline: float | None) -> None:
        rec = self.recorder
        rec.observe("yamlload.arrival_lag", max(0.0, (self.now() - arrival.at) * 1000.0))
        rng = random.Random(f"{self.seed}/{arrival.index}")
        scenario = (
            rng.choices(self.scenarios, self.weights)[0]
            if len(self.scenarios) > 1
            else self.scenarios[0]
        )
        rec.count("vusers.created")
        rec.count(f"vusers.created_by_name.{scenario.name}")
        self.active += 1
        session = self._new_session()
        started = self.now()
        ok = False
        try:
            user = _User(
                self._initial_vars(rng, arrival.index),
                session,
                scenario,
                rng,
                self._specials(scenario),
            )
            ok = await self._scenario_once(user)
            # A closed-model user stops between iterations at its phase's end.
            while ok and deadline is not None and self.now() < deadline and self.stopped_by is None:
                rec.count("yamlload.iterations")
                ok = await self._scenario_once(user)
        except asyncio.CancelledError:
            rec.count("vusers.interrupted")  # cut by a stop's grace or a gracefulStop
            raise
        except Exception:  # a bug in yamlload: end the run and say so, never a count
            self._crashed(traceback.format_exc())
        finally:
            self.active -= 1
            await session.close()
        if ok:
            rec.count("vusers.completed")
            rec.observe("vusers.session_length", (self.now() - started) * 1000.0)
        else:
            rec.count("vusers.interrupted" if self.stopped_by is not None else "vusers.failed")

    async def _scenario_once(self, user: _User) -> bool:
        scenario = user.scenario
        if not (scenario.before_scenario or scenario.after_scenario):
            return await self.flow.run(scenario.flow, user)
        context = HookContext(user.vars, scenario.name)
        for hook in scenario.before_scenario:
            if not await self.call_hook(hook, user, context):
                return False
        ok = await self.flow.run(scenario.flow, user)
        for hook in scenario.after_scenario:
            ok = await self.call_hook(hook, user, context) and ok
        return ok

    def _launch(self, arrival: Arrival, deadline: float | None, grace: float) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._run_user(arrival, deadline))
        self.users.add(task)
        task.add_done_callback(self.users.discard)
        if deadline is not None:
            # The iteration in flight at the phase end gets `gracefulStop` to finish.
            cut = asyncio.get_running_loop().call_later(
                max(0.0, deadline + grace - self.now()), self._cut_user, task
            )
            task.add_done_callback(lambda _: cut.cancel())
        return task

    def _cut_user(self, task: asyncio.Task[None]) -> None:
        if not task.done():
            self._cut.add(task)
            task.add_done_callback(self._cut.discard)
            task.cancel()

    def _crashed(self, trace: str) -> None:
        if self.internal_error is None:
            self.internal_error = trace
        self.stop("internal error")

    # ---- the run

    async def _dispatch(self) -> None:
        starts = phase_starts(self.phases)
        active_in_phase = [0] * len(self.phases)
        current = -1
        segment = self.options.segment
        for arrival in schedule(self.phases, self.schedule_rng, segment):
            phase = self.phases[arrival.phase]
            if arrival.phase != current:
                self._enter_phase(arrival.phase, starts)
                current = arrival.phase
            await self._sleep_until(arrival.at)
            cap = segment.share(phase.max_vusers) if phase.max_vusers is not None else None
            if cap is not None and active_in_phase[arrival.phase] >= cap:
                self.recorder.count("vusers.skipped")
                continue
            deadline = starts[arrival.phase] + phase.duration if phase.kind == "users" else None
            if deadline is not None and self.now() >= deadline:
                continue  # a closed-model phase that is over starts no one (none is counted)
            task = self._launch(arrival, deadline, phase.graceful_stop)
            if phase.max_vusers is not None:
                active_in_phase[arrival.phase] += 1
                task.add_done_callback(_releaser(active_in_phase, arrival.phase))
        # phases without arrivals (pauses, a quiet tail) still take their time
        for index in range(current + 1, len(self.phases)):
            self._enter_phase(index, starts)
        await self._sleep_until(self.total_duration)

    async def _sleep_until(self, moment: float) -> None:
        """Sleep until `moment` (seconds from the start). uvloop's timers round to whole
        milliseconds and may wake a little early, so check the clock again."""
        while (remaining := moment - self.now()) > 0:
            await asyncio.sleep(remaining)

    def _enter_phase(self, index: int, starts: list[float]) -> None:
        phase = self.phases[index]
        self._phase_runs.append(
            PhaseRun(index, phase.name, starts[index], starts[index] + phase.duration)
        )

    def current_phase(self) -> str:
        elapsed = self.now()
        for run in self._phase_runs:
            if run.started <= elapsed < run.ended:
                return run.name
        return self._phase_runs[-1].name if self._phase_runs else ""

    async def _ticker(self) -> None:
        cpu = time.process_time()
        every = self.options.checkpoint_seconds
        next_checkpoint = every or 0.0
        rolled_at = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            # The generator's own health, for reports: users running, CPU it used.
            used, cpu = time.process_time() - cpu, time.process_time()
            self.recorder.count("yamlload.cpu_ms", round(used * 1000))
            self.recorder.observe("yamlload.active_users", float(self.active))
            if every and self.now() >= next_checkpoint and self._checkpoint():
                next_checkpoint = self.now() + every
            if int(self.now() // PERIOD_SECONDS) > rolled_at:  # once a period: memory stays flat
                rolled_at = int(self.now() // PERIOD_SECONDS)
                self.recorder.finish_before(min(rolled_at, self._last_period))
                roll_up(self.recorder.periods, self.now())
            if self.observer is None:
                continue
            # A period is done once the clock has left it; the last one takes every
            # sample up to the run's end, so it is reported only then.
            self._report_periods(min(int(self.now() // PERIOD_SECONDS), self._last_period))
            self.observer.tick(self.progress())

    def _report_periods(self, until: int, duration: float | None = None) -> None:
        """Hand each period before index `until` to the observer, once."""
        if duration is None:  # during the run: only periods the clock has left
            duration, last = self.now(), self._last_period
        else:
            last = max(self.recorder.periods, default=0)
        while self.observer is not None and self._next_period < until:
            period = self.recorder.periods.get(self._next_period)
            if period is not None:
                self.observer.period_done(period, period_width(period.index, duration, last))
            self._next_period += 1

    def _checkpoint(self) -> bool:
        """Start writing a checkpoint on a thread, so encoding a long run's report never
        holds up the event loop; False while the previous one is still being written."""
        if self.on_checkpoint is None:
            return False
        if self._checkpointing is not None and not self._checkpointing.done():
            return False
        self._checkpointing = asyncio.ensure_future(
            asyncio.to_thread(self.on_checkpoint, self.snapshot())
        )
        return True

    async def _checkpoint_written(self) -> None:
        """Wait for a checkpoint in progress, so it never lands after the final report."""
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])

    def snapshot(self) -> RunResult:
        """The run so far, as a result of its own: what a checkpoint writes. Safe to read
        on another thread while the run goes on: the periods the clock has left are never
        written again (and roll_up replaces, never changes, them), so only the ones still
        being written are copied."""
        now = max(self.now(), 0.0)
        started = [run for run in self._phase_runs if run.started <= now]
        phases = [replace(run, ended=min(run.ended, now)) for run in started]
        open_from = min(int(now // PERIOD_SECONDS), self._last_period)
        periods = [
            period.copy() if period.index + period.span > open_from else period
            for period in self.recorder.sorted_periods()
        ]
        return RunResult(periods, now, phases, self.stopped_by, self.late_start)

    def progress(self) -> Progress:
        current = self.recorder.periods.get(int(max(self.now(), 0) // PERIOD_SECONDS))
        counters: dict[str, int] = {}
        for period in self.recorder.periods.values():
            for key in ("vusers.created", "http.requests", "http.requests_failed"):
                counters[key] = counters.get(key, 0) + period.metrics.counters.get(key, 0)
        rps = 0.0
        if current is not None and current.last > current.first:
            rps = current.metrics.counters.get("http.requests", 0) / max(
                self.now() - current.start, 1.0
            )
        return Progress(
            elapsed=max(self.now(), 0.0),
            total=self.total_duration,
            phase=self.current_phase(),
            active=self.active,
            created=counters.get("vusers.created", 0),
            requests=counters.get("http.requests", 0),
            failed=counters.get("http.requests_failed", 0),
            rps=rps,
        )

    def stop(self, reason: str) -> None:
        """Stop making arrivals (Ctrl-C, SIGTERM); in-flight users, and a `before` or
        `after` flow in progress, get a grace period."""
        if self.stopped_by is None:
            self.stopped_by = reason
            self._stopping.set()
            if self._dispatcher is not None:
                self._dispatcher.cancel()
            special = self._special_task
            if special is not None and not special.done():
                asyncio.get_running_loop().call_later(
                    self.options.grace_seconds, self._cut_user, special
                )

    async def run(self) -> RunResult:
        if self.plan.http.pool:
            self._connector = aiohttp.TCPConnector(
                limit=self.plan.http.pool, ssl=self._ssl, resolver=self.options.resolver
            )
        self.t0 = time.perf_counter()
        # `before` is set-up, not load: what it measures goes into the first period.
        self.recorder.clock = lambda: 0.0
        try:
            await self._special(self.plan.before, share=True)
            if self.stopped_by is None:  # a stop during `before` makes no load at all
                await self._load()
            if self.stopped_by is None:
                await self._special(self.plan.after, share=False)
            # The last period runs to here, `after` included; never below 0 (a shard
            # stopped while waiting for its --start-at).
            duration = max(self.now(), 0.0)
        finally:
            if self._connector is not None:
                await self._connector.close()
            await self._checkpoint_written()
        self._report_periods(max(self.recorder.periods, default=-1) + 1, duration)
        for run in self._phase_runs:
            run.ended = min(run.ended, duration)
        return RunResult(
            self.recorder.sorted_periods(),
            duration,
            self._phase_runs,
            self.stopped_by,
            self.late_start,
            self.internal_error,
        )

    async def _load(self) -> None:
        """The schedule's users, from the first arrival until the last user is done."""
        delay = self._start_delay()
        self.late_start = max(0.0, -delay)
        self.t0 = time.perf_counter() + max(0.0, delay)
        self.recorder.clock = self.now
        ticker = asyncio.ensure_future(self._ticker())
        self._dispatcher = asyncio.ensure_future(self._dispatch())
        try:
            await self._dispatcher
        except asyncio.CancelledError:
            if self.stopped_by is None:
                raise
        await self._drain()
        ticker.cancel()

    async def _special(self, steps: tuple[Step, ...], share: bool) -> None:
        """A `before` or `after` flow, as a task a stop can cut after its grace."""
        task = self._special_task = asyncio.ensure_future(self._special_flow(steps, share))
        try:
            await task
        except asyncio.CancelledError:
            if not (task.cancelled() and self.stopped_by is not None):
                raise
        except Exception:  # a bug in yamlload: stop, and still report what was measured
            self._crashed(traceback.format_exc())

    def _start_delay(self) -> float:
        if self.options.start_at is None:
            return START_DELAY_SECONDS
        # The one reading of the wall clock: a shared start for every shard. A shard
        # that is late starts at once, its schedule shifted; `late_start` says by how much.
        return self.options.start_at - time.time()

    async def run_until_signalled(
        self, early_stop: Callable[[], str | None] | None = None
    ) -> RunResult:
        """`run()`, with SIGINT, SIGTERM and SIGHUP stopping the load gracefully (where this is the
        main thread: a Dask worker may run a shard in a thread of its own)."""
        if threading.current_thread() is not threading.main_thread():
            return await self.run()
        loop = asyncio.get_running_loop()
        # Whoever handled these before (the CLI holds them around the whole command) gets
        # them back afterwards: removing a loop's handler leaves the default, which would
        # kill the process before its report is written.
        previous = {name: signal.getsignal(getattr(signal, name)) for name in STOP_SIGNALS}
        for name in STOP_SIGNALS:
            loop.add_signal_handler(getattr(signal, name), self.stop, name)
        if early_stop is not None and early_stop() is not None:
            self.stop(str(early_stop()))  # a signal came while the loop was starting
        try:
            return await self.run()
        finally:
            for name, handler in previous.items():
                loop.remove_signal_handler(getattr(signal, name))
                if handler is not None:
                    signal.signal(getattr(signal, name), handler)

    async def _drain(self) -> None:
        """Wait for users still running; after a stop (which may come while waiting),
        only for the grace period."""
        while self.users:
            pending = list(self.users)
            if self.stopped_by is None:
                stopping = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait([*pending, stopping], return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                continue
            _, late = await asyncio.wait(pending, timeout=self.options.grace_seconds)
            for task in late:
                self._cut_user(task)
            await asyncio.gather(*late, return_exceptions=True)
            break

    async def _special_flow(self, steps: tuple[Step, ...], share: bool) -> None:
        if not steps:
            return
        session = self._new_session()
        rng = random.Random(self.rng.getrandbits(64))
        scenario = Scenario(name="before" if share else "after", weight=0, flow=steps)
        user = _User(self._initial_vars(rng), session, scenario, rng, self._specials(scenario))
        try:
            await self.flow.run(steps, user)
        finally:
            await session.close()
        if share:
            self.shared_vars.update({k: v for k, v in user.vars.items() if not k.startswith("$")})


def _releaser(counts: list[int], index: int) -> Callable[[asyncio.Task[None]], None]:
    def release(_: asyncio.Task[None]) -> None:
        counts[index] -= 1

    return release


def run_plan(
    plan: Plan, options: RunOptions | None = None, observer: Observer | None = None
) -> RunResult:
    """Run a plan to the end on a fresh event loop (uvloop where available)."""
    engine = Engine(plan, options, observer)
    result: RunResult = run_on_uvloop(engine.run())
    return result


def run_on_uvloop(coro: Any) -> Any:
    """Run a coroutine to the end on a fresh uvloop event loop (asyncio's without it)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(coro)
    return uvloop.run(coro)


# --------------------------------------------------------------------------- limits

# Sockets beyond the users' own: files, the event loop, the report.
SPARE_FILE_DESCRIPTORS = 256


def connections_needed(plan: Plan) -> int:
    """The most connections the plan may hold open at once: each user has its own,
    unless `config.http.pool` shares a fixed set."""
    return plan.http.pool or users_at_once(plan)


def users_at_once(plan: Plan) -> int:
    """The most users the plan may have running at the same time."""
    most = 1
    for phase in plan.phases:
        if phase.kind == "users":
            most = max(most, phase.users)
        elif phase.max_vusers is not None:
            most = max(most, phase.max_vusers)
        else:
            # users alive at once ≈ arrivals per second × the longest a request may take
            most = max(most, int(phase_peak_rate(phase) * plan.http.timeout) + 1)
    return most


def phase_peak_rate(phase: Phase) -> float:
    """The most users an open-model phase starts a second (0 for pauses and for closed
    phases, whose users start once and are counted as users at once instead)."""
    if phase.kind == "count":
        return phase.arrival_count / phase.duration if phase.duration else 0.0
    if phase.kind in ("rate", "ramp"):
        return max(phase.arrival_rate, phase.ramp_to)
    return 0.0


# What one process can honestly drive on one core (docs/performance.md measures about
# 1,000 new users a second and 10,000 live users in 312 MB); well past these, the
# numbers a run reports describe the generator, not the target.
ONE_PROCESS_ARRIVALS_PER_SECOND = 5_000
ONE_PROCESS_USERS = 50_000


def peak_arrival_rate(plan: Plan) -> float:
    """The fastest any phase starts users, per second."""
    return max((phase_peak_rate(phase) for phase in plan.phases), default=0.0)


def capacity_warnings(plan: Plan, processes: int = 1) -> list[str]:
    """Said before the run starts when the plan asks more of each process than it can
    give: the run still goes ahead, since the user may know their machine better."""
    rate = peak_arrival_rate(plan) / processes
    users = users_at_once(plan) / processes
    advice = "split it with --workers N or over machines (docs/scaling.md)"
    warnings = []
    if rate > ONE_PROCESS_ARRIVALS_PER_SECOND:
        warnings.append(
            f"this plan starts up to {rate:,.0f} users a second in each process, more than "
            f"one process keeps up with (about {ONE_PROCESS_ARRIVALS_PER_SECOND:,}); {advice}"
        )
    if users > ONE_PROCESS_USERS:
        warnings.append(
            f"this plan may hold {users:,.0f} users at once in each process, more than one "
            f"process holds well (about {ONE_PROCESS_USERS:,}); {advice}"
        )
    return warnings


def ensure_file_limit(plan: Plan) -> str | None:
    """Raise the soft limit on open files as far as the plan needs and the hard limit
    allows; say what to do when that is not enough."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    need = connections_needed(plan) + SPARE_FILE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    wanted = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    except (ValueError, OSError):
        pass
    if soft >= need:
        return None
    return (
        f"this plan may hold up to {need - SPARE_FILE_DESCRIPTORS:,} connections at once, but the "
        f"limit on open files is {soft:,}; raise it (ulimit -n {need}) or requests will fail "
        "with EMFILE"
    )
