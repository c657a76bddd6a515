"""The JSON report: written through `outputs.write_with`, atomically for a regular file
(a temporary file, flushed to disk, then a rename), so a reader, or a machine that loses
power, sees the old report or the new one whole; a device or FIFO is written in place."""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import UsageError
from ..plan.schema import build_report_schema
from ..plan.source import read_bounded
from ..results.summary import Summary
from .outputs import write_with

# A day-long run's report is a few MB (old periods are rolled up); past this the file is
# not one of ours, and reading it would cost ten times its size in memory.
MAX_REPORT_BYTES = 256 * 1024 * 1024
# The longest whole number a report holds (a count, nanoseconds): far past this it is
# not ours, and int() refuses more than 4,300 digits anyway.
MAX_INT_DIGITS = 30


def write_json(
    summary: Summary,
    path: str | os.PathLike[str],
    what: str = "the JSON report",
    compact: bool = False,
) -> Path:
    """Atomically (see `outputs.write_with`); OutputError (exit 4) when it fails.
    `compact` leaves out the indentation: a checkpoint, rewritten every few seconds of a
    long run, is encoded by the C encoder then, with a fraction of the garbage."""
    return write_with(path, lambda out: _dump(summary, out, compact), what)


def _dump(summary: Summary, out: TextIO, compact: bool = False) -> None:
    """The same text as `json.dump(summary.to_json(), out, indent=1)` (or without the
    indentation when `compact`), with the periods encoded and written one at a time, so
    writing holds one period's JSON, not all."""
    indent = None if compact else 1
    out.write("{")
    for n, (key, value) in enumerate(summary.json_fields().items()):
        out.write(f"{',' if n else ''}\n {json.dumps(key)}: ")
        if isinstance(value, Iterator):
            _dump_list(value, out, indent)
        else:
            out.write(_nested(value, 1, indent))
    out.write("\n}\n")


def _dump_list(items: Iterator[object], out: TextIO, indent: int | None) -> None:
    written = 0
    for item in items:
        out.write(f"{',' if written else '['}\n  {_nested(item, 2, indent)}")
        written += 1
    out.write("\n ]" if written else "[]")


def _nested(value: object, depth: int, indent: int | None) -> str:
    text = json.dumps(value, indent=indent, allow_nan=False)
    # A JSON string never holds a raw newline, so every newline is indentation.
    return text if indent is None else text.replace("\n", "\n" + " " * depth)


def read_json(path: str | os.PathLike[str]) -> Summary:
    return Summary.from_json(read_report_data(path), str(path))


def read_report_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A report's JSON, checked against the report schema: for a reader that needs
    fields the Summary does not keep (`trend`: a revision, a grade)."""
    try:
        data = json.loads(
            read_bounded(path, MAX_REPORT_BYTES).decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise UsageError(f"{path}: not a JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a yamlload JSON report")
    problem = _first_schema_problem(data)
    if problem:
        raise UsageError(f"{path}: not a yamlload JSON report: {problem}")
    return data


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is no number a run writes")


def _finite_float(text: str) -> float:
    """A report's numbers are finite (1e999 reads as infinity, and crashed a reader)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is no number a run writes")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number of {len(text)} digits is no number a run writes")
    return int(text)


def _first_schema_problem(data: dict[str, object]) -> str | None:
    """Checked against the report schema before any reporter reads it, so a damaged or
    hand-edited file is refused with where it is wrong rather than failing later."""
    error = best_match(_report_validator().iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return f"at {where}: {message}"


@functools.cache
def _report_validator() -> Draft202012Validator:
    return Draft202012Validator(build_report_schema())
