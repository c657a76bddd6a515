"""Reading the input and telling a HAR from an OpenAPI description."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import PlanError, Pos, Problem
from ..plan.files import FileTooLargeError
from ..plan.source import MAX_DEPTH, Located, read_bounded, read_document
from .common import DEFAULT_PHASES_COMMENT, InputProblem, dotted, lone_surrogate, nested_deeper
from .har import convert_har
from .openapi import SMOKE_PHASES_COMMENT, UNSAFE_REASON, convert_openapi

# A JSON input (a HAR) may be this large: a recording's size is mostly the bodies of the
# assets left out and of responses only searched for tokens, so the plan cap (10 MB,
# MAX_PLAN_BYTES) would refuse ordinary recordings. The plan written must still fit in
# MAX_PLAN_BYTES (cli/convert.py checks). YAML input (OpenAPI) is read as a plan is.
MAX_INPUT_BYTES = 64 * 1024 * 1024
# A JSON input may hold this many objects: YAML input has the plan reader's node cap
# (MAX_NODES); JSON is read by `json`, which would build 20 million empty objects from
# 60 MB (3.6 GB). A 10,000-entry recording holds about a million.
MAX_INPUT_OBJECTS = 2_000_000


class _TooManyObjects(Exception):
    pass


class _ObjectCount:
    """json's object_pairs_hook: each object as a dict, counted; stops at the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.count = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.count += 1
        if self.count > self.cap:
            raise _TooManyObjects
        return dict(pairs)


@dataclass
class Converted:
    """A plan dict, what kind of input it came from, and comments for its top."""

    kind: str
    plan: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    phases_comment: str = DEFAULT_PHASES_COMMENT


def read_input(path: str | os.PathLike[str]) -> Located:
    """The file as data with positions; bad YAML/JSON is a positioned PlanError (exit 2).

    JSON (a HAR always is) is parsed by `json` first, many times faster than the plan
    reader on a recording of megabytes; positions are then looked up only for an error.
    A file that reads as broken YAML but looks like JSON gets JSON's message and place,
    which say what is wrong in JSON's terms."""
    fast = _read_json(path)
    if fast is not None:
        return fast
    try:
        return read_document(path)
    except PlanError as exc:
        raise _json_error(path) or exc from None


@dataclass
class _JsonLocated(Located):
    """JSON read without positions: the plan reader finds them when an error needs one."""

    source: str = ""

    def key_pos(self, path: tuple[str | int, ...]) -> Pos:
        try:
            return read_document(self.source).key_pos(path)
        except PlanError:  # over the plan reader's size cap: the file, without a line
            return Pos(self.source)


def _read_json(path: str | os.PathLike[str]) -> Located | None:
    try:
        text = read_bounded(path, MAX_INPUT_BYTES).decode("utf-8-sig")
        if not text.strip():
            where = Pos(str(path), 1, 1)
            message = "the input is empty: export the HAR or the description again"
            raise PlanError([Problem(where, message)])
        if not text.lstrip().startswith(("{", "[")):
            return None
        if text.count("{") <= MAX_INPUT_OBJECTS:
            data = json.loads(text)  # cannot hold more objects than it has braces
        else:
            data = json.loads(text, object_pairs_hook=_ObjectCount(MAX_INPUT_OBJECTS))
    except _TooManyObjects:
        where = Pos(str(path), 1, 1)
        message = (
            f"holds more than {MAX_INPUT_OBJECTS:,} objects, more than convert reads: "
            "record a shorter flow, or split the description"
        )
        raise PlanError([Problem(where, message)]) from None
    except FileTooLargeError:
        where = Pos(str(path), 1, 1)
        raise PlanError(
            [Problem(where, f"file is larger than {MAX_INPUT_BYTES:,} bytes")]
        ) from None
    except (OSError, ValueError, RecursionError):
        return None  # the plan reader says what is wrong, and where
    if nested_deeper(data, MAX_DEPTH):
        return None  # the plan reader refuses it, with the place: as for YAML
    located = _JsonLocated(data=data, source=str(path))
    if _ESCAPED_SURROGATE.search(text) is not None:
        _refuse_lone_surrogate(located)
    return located


# `\uD800`-`\uDFFF` written in JSON: json reads a lone one as a lone surrogate.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogate(located: _JsonLocated) -> None:
    """A lone surrogate (half of a UTF-16 pair) is not text: no header, URL or UTF-8 plan
    can carry it. Refused with its place, as the plan reader refuses one."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(located.data, ())]
    while stack:
        node, at = stack.pop()
        if isinstance(node, str):
            texts = [(node, at)]
        elif isinstance(node, dict):
            texts = [(key, (*at, key)) for key in node]
            stack.extend((value, (*at, key)) for key, value in node.items())
        else:
            texts = []
            if isinstance(node, list):
                stack.extend((value, (*at, n)) for n, value in enumerate(node))
        for text, where in texts:
            if lone_surrogate(text):
                _surrogate_error(located, where)


def _surrogate_error(located: _JsonLocated, where: tuple[str | int, ...]) -> None:
    try:  # the plan reader refuses it with its line and column
        read_document(located.source)
    except PlanError as exc:
        if any("surrogate" in problem.message for problem in exc.problems):
            raise
    message = (
        f"{dotted(where)}: holds a lone surrogate (half of a UTF-16 pair, not a "
        "character): a plan cannot carry it; fix the input"
    )
    raise PlanError([Problem(Pos(located.source), message)])


def _json_error(path: str | os.PathLike[str]) -> PlanError | None:
    try:
        text = read_bounded(path, MAX_INPUT_BYTES).decode("utf-8-sig")
    except (OSError, ValueError):
        return None
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = Pos(str(path), exc.lineno, exc.colno)
        return PlanError([Problem(where, f"not valid JSON: {exc.msg}")])
    return None


def convert_document(
    located: Located, include_assets: bool = False, all_methods: bool = False
) -> Converted:
    try:
        return _convert(located, include_assets, all_methods)
    except InputProblem as problem:
        raise PlanError([Problem(located.key_pos(problem.path), problem.message)]) from None


def _convert(located: Located, include_assets: bool, all_methods: bool) -> Converted:
    data = located.data
    if data is None:
        _fail(located, (), "the input is empty: export the HAR or the description again")
    if isinstance(data, dict) and "log" in data:
        entries = located.get(("log", "entries"))
        if not isinstance(entries, list):
            _fail(located, ("log",), "a HAR needs a list at log.entries")
        if not entries:
            _fail(located, ("log", "entries"), "the recording has no entries")
        plan, notes = convert_har(entries, include_assets=include_assets)
        if not plan["scenarios"][0]["flow"]:
            sockets = [note for note in notes if "WebSocket" in note]
            left_out = "" if include_assets else " (static assets are left out: --include-assets)"
            if sockets:
                left_out = f" ({sockets[0]})"
            _fail(located, ("log", "entries"), f"no requests to convert{left_out}")
        return Converted("HAR", plan, notes)
    if isinstance(data, dict) and ("openapi" in data or "swagger" in data):
        if "swagger" in data:
            _fail(located, ("swagger",), "Swagger 2 is not supported: convert it to OpenAPI 3")
        if not isinstance(data.get("paths"), dict):
            _fail(located, ("openapi",), "an OpenAPI description needs `paths` (a mapping)")
        plan, notes = convert_openapi(data, all_methods)
        if not plan["scenarios"][0]["flow"]:
            skipped = [note for note in notes if note.startswith("skipped:")]
            unsafe = sum(1 for note in skipped if UNSAFE_REASON in note)
            bodies = sum(1 for note in skipped if "request body" in note)
            what = (
                "their required request body has no example"
                if bodies == len(skipped)
                else "their required parameters have no examples"
                if not bodies
                else "their required parameters or request bodies have no examples"
            )
            why = f"{len(skipped)} skipped: {what}"
            if unsafe:
                why = (
                    f"{len(skipped)} skipped, {unsafe} of them as they may change data: "
                    "--all-methods sends those"
                )
            _fail(located, ("paths",), f"no operation could be filled in ({why})")
        return Converted("OpenAPI", plan, notes, SMOKE_PHASES_COMMENT)
    _fail(
        located,
        (),
        "neither a HAR (no `log.entries`) nor an OpenAPI 3 description (no `openapi`)",
    )
    raise AssertionError("unreachable")


def _fail(located: Located, path: tuple[str | int, ...], message: str) -> None:
    raise PlanError([Problem(located.key_pos(path), message)])
