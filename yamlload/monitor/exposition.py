"""Prometheus text exposition format 0.0.4 read into samples: what a monitored system
under test serves at /metrics (config.monitor's `prometheus:` sources, issue 17).

The body comes from a server we do not control, so reading it is bounded and never
raises: at most MAX_EXPOSITION_BYTES are looked at and MAX_SAMPLES kept (`truncated`
says when either cut), and a line that is not a sample is skipped and counted
(`malformed`). Comments, HELP and TYPE lines are skipped; label values are unescaped
(\\\\, \\", \\n), and a line with one longer than MAX_LABEL_VALUE_CHARS is malformed;
values may be NaN or ±Inf; a trailing timestamp (ms) is kept.

A caller that needs only some metrics passes their names as `keep`: other lines are
dropped by their name alone, so a large endpoint costs little memory.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

# The part of a body that is read; the rest is left (and `truncated` is set).
MAX_EXPOSITION_BYTES = 16 * 1024 * 1024
# Samples kept from one body; past this `truncated` is set and the rest is dropped.
MAX_SAMPLES = 100_000
# A longer label value makes its line malformed: selectors run regexes on label values,
# and real ones (paths, pod names, versions) are far shorter.
MAX_LABEL_VALUE_CHARS = 4096

_NAME = re.compile(r"[ \t]*([a-zA-Z_:][a-zA-Z0-9_:]*)")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", '"': '"', "n": "\n"}
_TIMESTAMP = re.compile(r"[+-]?\d{1,20}")  # ms since 1970: 13 digits; int() refuses 4,301

Series = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Sample:
    """One line of an exposition: a metric name, its labels, its value."""

    name: str
    labels: Mapping[str, str]
    value: float
    timestamp_ms: int | None = None

    @property
    def series(self) -> Series:
        """Who this sample is, whatever the order of its labels: (name, sorted labels)."""
        return (self.name, tuple(sorted(self.labels.items())))


@dataclass(frozen=True)
class Exposition:
    """What a body held: its samples, how many lines were neither comments nor blank
    (`lines`) and how many of those were not samples (`malformed`), and whether a cap
    cut it."""

    samples: list[Sample] = field(default_factory=list)
    malformed: int = 0
    truncated: bool = False
    lines: int = 0

    def by_name(self) -> dict[str, list[Sample]]:
        """The samples grouped by metric name, in their order (what selectors read)."""
        grouped: dict[str, list[Sample]] = {}
        for sample in self.samples:
            grouped.setdefault(sample.name, []).append(sample)
        return grouped


class _Malformed(Exception):
    """A line that is not a sample (internal: counted, never seen by a caller)."""


def parse_exposition(body: bytes | str, keep: Collection[str] | None = None) -> Exposition:
    """The samples of a Prometheus text body (0.0.4); only those named in `keep` when
    given. Never raises: bad lines are counted in `malformed`."""
    text, truncated = _bounded_text(body)
    samples: list[Sample] = []
    malformed = lines = 0
    for line in text.split("\n"):
        stripped = line.strip(" \t\r")
        if not stripped or stripped.startswith("#"):
            continue
        if len(samples) >= MAX_SAMPLES:
            truncated = True
            break
        lines += 1
        try:
            sample = _parse_line(stripped, keep)
        except _Malformed:
            malformed += 1
            continue
        if sample is not None:
            samples.append(sample)
    return Exposition(samples, malformed, truncated, lines)


def _bounded_text(body: bytes | str) -> tuple[str, bool]:
    """The first MAX_EXPOSITION_BYTES of the body as text, without a line the cap cut."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(data) <= MAX_EXPOSITION_BYTES:
        return data.decode("utf-8", "replace"), False
    cut = data[:MAX_EXPOSITION_BYTES]
    cut = cut[: cut.rfind(b"\n") + 1]  # the cut line is not whole: leave it out
    return cut.decode("utf-8", "replace"), True


def _parse_line(line: str, keep: Collection[str] | None) -> Sample | None:
    """One sample line (stripped, not a comment); None when its name is not kept."""
    match = _NAME.match(line)
    if match is None:
        raise _Malformed
    name = match.group(1)
    if keep is not None and name not in keep:
        return None
    labels: dict[str, str] = {}
    at = match.end()
    if line.startswith("{", at):
        at = _parse_labels(line, at + 1, labels)
    elif at < len(line) and line[at] not in " \t":
        raise _Malformed
    value, timestamp = _parse_value(line[at:])
    return Sample(name, labels, value, timestamp)


def _parse_labels(line: str, at: int, labels: dict[str, str]) -> int:
    """Labels from just after `{` into `labels`; where the line goes on after `}`."""
    while True:
        rest = line[at:].lstrip(" \t")
        if rest.startswith("}"):
            return len(line) - len(rest) + 1
        match = _LABEL.match(line, at)
        if match is None or match.group(1) in labels or len(match.group(2)) > MAX_LABEL_VALUE_CHARS:
            raise _Malformed
        labels[match.group(1)] = _unescape(match.group(2))
        at = match.end()
        if line.startswith(",", at):
            at += 1
        elif not line.startswith("}", at):
            raise _Malformed


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        char = match.group(1)
        if char not in _UNESCAPED:
            raise _Malformed
        return _UNESCAPED[char]

    return _ESCAPE.sub(one, value)


def _parse_value(rest: str) -> tuple[float, int | None]:
    """The value and optional timestamp after a sample's name and labels."""
    fields = rest.split()
    if not 1 <= len(fields) <= 2 or "_" in fields[0]:
        raise _Malformed
    try:
        value = float(fields[0])
    except ValueError:
        raise _Malformed from None
    if len(fields) == 1:
        return value, None
    if not _TIMESTAMP.fullmatch(fields[1]):
        raise _Malformed
    return value, int(fields[1])
