"""Reading plans: YAML/JSON with positions, layering (config file, environment,
overrides, flags) and the JSON Schema check that reports every problem at once.

The rest of yamlload never sees ruamel.yaml: a document becomes plain JSON-like data
plus a side table of positions, keyed by the path of each node. Layering merges both,
so that a value always points back to the file (and line) that said it.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import errno
import json
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ._errors import PlanError, Pos, Problem, UsageError
from ._schema import build_schema

Path = tuple[str | int, ...]

MAX_PLAN_BYTES = 10 * 1024 * 1024
# A payload CSV is held compactly (about its own size in memory); beyond this, refused.
MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024
# Deeper than any sane plan, far below Python's recursion limit.
MAX_DEPTH = 64
# Aliases can expand a small file exponentially ("billion laughs"); stop well before.
MAX_NODES = 500_000


@dataclass
class Located:
    """Plain data plus where each node came from."""

    data: Any
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)

    def pos(self, path: Path) -> Pos:
        """The position of the node at `path`, or of its nearest known ancestor."""
        for cut in range(len(path), -1, -1):
            found = self.values.get(path[:cut])
            if found is not None:
                return found
        return Pos("<plan>")

    def key_pos(self, path: Path) -> Pos:
        """Where the key of a mapping entry is written (falls back to its value)."""
        return self.keys.get(path) or self.pos(path)

    def get(self, path: Path, default: Any = None) -> Any:
        node = self.data
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return default
        return node

    def subtree(self, path: Path) -> Located:
        """The node at `path`, with positions re-rooted to it."""
        n = len(path)
        return Located(
            data=self.get(path),
            values={p[n:]: v for p, v in self.values.items() if p[:n] == path},
            keys={p[n:]: v for p, v in self.keys.items() if p[:n] == path and len(p) > n},
        )


# --------------------------------------------------------------------------- input files


class NotRegularFileError(OSError):
    """A path that names a device, a FIFO, a socket or a folder: never read."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", path)


class FileTooLargeError(OSError):
    """A file over the limit its reader allows, refused before it is read."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit:,} bytes", path)
        self.limit = limit


def open_regular(path: str | os.PathLike[str]) -> int:
    """A descriptor for `path` when it is a regular file (checked on the open file, so
    nothing can be swapped in between). O_NONBLOCK: opening a FIFO never waits."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes: the size is checked before
    reading and at most `limit + 1` bytes are read (a file growing meanwhile is caught).
    Raises OSError: FileNotFoundError and the like, NotRegularFileError (a device such as
    /dev/zero, a FIFO, a folder) or FileTooLargeError; `exc.strerror` says which."""
    fd = open_regular(path)
    try:
        if os.fstat(fd).st_size > limit:
            raise FileTooLargeError(str(path), limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise FileTooLargeError(str(path), limit)
    return b"".join(chunks)


def input_roots(plan_path: str, allow_paths: Iterable[str] = ()) -> tuple[str, ...]:
    """The folders a plan's input files must be in: the plan's own folder and each
    --allow-path, with symlinks resolved."""
    roots = [os.path.realpath(os.path.dirname(os.path.abspath(plan_path)))]
    roots += [os.path.realpath(p) for p in allow_paths]
    return tuple(dict.fromkeys(roots))


def load_time_roots(plan_path: str, allow_paths: Iterable[str] = ()) -> tuple[str, ...]:
    """The folders for files fixed before the run (payloads, processor, --config,
    --dotenv): the plan's folder, each --allow-path and the current folder, which the
    user chose by running there. A path a template renders during the run (formData's
    fromFile) gets `input_roots` only: a server may have chosen it."""
    return tuple(dict.fromkeys((*input_roots(plan_path, allow_paths), os.path.realpath("."))))


def outside_roots(path: str | os.PathLike[str], roots: Iterable[str]) -> str | None:
    """None when `path` (symlinks resolved) lies inside one of `roots`; else its
    resolved form, for the message."""
    real = os.path.realpath(path)
    for root in roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return None
    return real


def confinement_message(path: str | os.PathLike[str], real: str) -> str:
    shown = str(path) if str(path) == real else f"{path} (that is {real})"
    return (
        f"{shown} is outside the folders a plan may read (the plan's folder, the current "
        "folder and each --allow-path DIR)"
    )


def check_input_file(
    path: str | os.PathLike[str], roots: Iterable[str], limit: int | None = None
) -> str | None:
    """What is wrong with an input file fixed before the run, or None: outside `roots`,
    missing, not a regular file, or over `limit` bytes."""
    real = outside_roots(path, roots)
    if real is not None:
        return confinement_message(path, real)
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file"
    if limit is not None and info.st_size > limit:
        return f"{path}: larger than {limit:,} bytes"
    return None


# --------------------------------------------------------------------------- reading


def read_document(
    path: str | os.PathLike[str], roots: Iterable[str] | None = None, option: str = ""
) -> Located:
    """Read one YAML or JSON file. Syntax errors come back as a positioned PlanError.

    With `roots`, the file must lie inside one of them (a --config file). The file must
    be a regular file of at most MAX_PLAN_BYTES, checked before it is read."""
    label = str(path)
    named = f"{option} {label}" if option else label
    if roots is not None:
        real = outside_roots(path, roots)
        if real is not None:
            raise UsageError(f"{option or 'file'}: {confinement_message(path, real)}")
    try:
        raw = read_bounded(path, MAX_PLAN_BYTES)
    except FileNotFoundError:
        raise UsageError(f"{named}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{named}: is a directory, not a plan file") from None
    except FileTooLargeError:
        raise PlanError(
            [Problem(Pos(label, 1, 1), f"file is larger than {MAX_PLAN_BYTES} bytes")]
        ) from None
    except NotRegularFileError:
        raise UsageError(f"{named}: not a regular file, not a plan file") from None
    except OSError as exc:
        raise UsageError(f"{named}: cannot read: {exc.strerror or exc}") from None
    return parse_document(raw, label)


class _CountingComposer(Composer):
    """ruamel's composer, stopped once a document has more than MAX_NODES nodes: a huge
    list is refused while it is read, before it costs gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        count = getattr(self, "_yamlload_nodes", 0) + 1
        self._yamlload_nodes = count
        if count > MAX_NODES:
            raise _TooManyNodes(self.parser.peek_event().start_mark)
        return super().compose_node(parent, index)


class _TooManyNodes(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__("too many nodes")
        self.mark = mark


def parse_document(raw: bytes, label: str) -> Located:
    text = _decode(raw, label)
    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = _CountingComposer
    try:
        tree = yaml.load(text)
    except _TooManyNodes as exc:
        line, col = (exc.mark.line + 1, exc.mark.column + 1) if exc.mark is not None else (1, 1)
        message = f"plan has more than {MAX_NODES} nodes"
        raise PlanError([Problem(Pos(label, line, col), message)]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join(str(s) for s in (exc.context, exc.problem) if s)
        raise PlanError([Problem(Pos(label, line, col), f"YAML syntax error: {what}")]) from None
    except YAMLError as exc:
        raise PlanError([Problem(Pos(label, 1, 1), f"YAML syntax error: {exc}")]) from None
    except RecursionError:
        raise PlanError([Problem(Pos(label, 1, 1), "nesting is too deep")]) from None
    if tree is None:
        tree = CommentedMap()
    located = Located(data=None)
    problems: list[Problem] = []
    converter = _Converter(label, located, problems)
    located.values[()] = Pos(label, 1, 1)
    located.data = converter.convert(tree, (), Pos(label, 1, 1), depth=0)
    if problems:
        raise PlanError(problems)
    return located


def _decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        message = f"not valid UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded"
        raise PlanError([Problem(Pos(label, line, col), message)]) from None


class _Converter:
    """ruamel's round-trip tree → plain JSON-like data, recording positions."""

    def __init__(self, label: str, out: Located, problems: list[Problem]) -> None:
        self.label = label
        self.out = out
        self.problems = problems
        self.nodes = 0

    def convert(self, node: Any, path: Path, pos: Pos, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.problems.append(Problem(pos, f"plan has more than {MAX_NODES} nodes"))
            return None
        if depth > MAX_DEPTH:
            self.problems.append(Problem(pos, f"nesting is deeper than {MAX_DEPTH} levels"))
            return None
        if isinstance(node, CommentedMap):
            return self._mapping(node, path, depth)
        if isinstance(node, CommentedSeq):
            return self._sequence(node, path, depth)
        return self._scalar(node, pos, path)

    def _mapping(self, node: CommentedMap, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        own = self.out.values.get(path, Pos(self.label, 1, 1))
        for key, value in node.items():
            key_pos = self._mark(node.lc.key, key, own)
            name = self._key(key, key_pos)
            if name is None:
                continue
            child = (*path, name)
            value_pos = self._mark(node.lc.value, key, key_pos)
            self.out.keys[child] = key_pos
            self.out.values[child] = value_pos
            result[name] = self.convert(value, child, value_pos, depth + 1)
        return result

    def _sequence(self, node: CommentedSeq, path: Path, depth: int) -> list[Any]:
        result: list[Any] = []
        own = self.out.values.get(path, Pos(self.label, 1, 1))
        for index, value in enumerate(node):
            child = (*path, index)
            item_pos = self._mark(node.lc.item, index, own)
            self.out.values[child] = item_pos
            result.append(self.convert(value, child, item_pos, depth + 1))
        return result

    def _mark(self, lookup: Any, key: Any, fallback: Pos) -> Pos:
        try:
            line, col = lookup(key)
        except (KeyError, IndexError, TypeError, AttributeError):
            return fallback  # merged (<<) keys carry no marks of their own
        return Pos(self.label, int(line) + 1, int(col) + 1)

    def _key(self, key: Any, pos: Pos) -> str | None:
        if isinstance(key, str):
            return str(key)
        if isinstance(key, bool):
            return "true" if key else "false"
        if key is None:
            return "null"
        if isinstance(key, int | float):
            return str(key)
        self.problems.append(Problem(pos, "a mapping key must be a plain string"))
        return None

    def _scalar(self, node: Any, pos: Pos, path: Path) -> Any:
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            if not math.isfinite(node):
                where = f"{describe_path(path)}: " if path else ""
                self.problems.append(Problem(pos, f"{where}{node} is not a finite number"))
                return None
            return float(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, _dt.datetime | _dt.date):
            return node.isoformat()
        tag = getattr(getattr(node, "tag", None), "value", None) or type(node).__name__
        self.problems.append(Problem(pos, f"unsupported YAML value or tag {tag}"))
        return None


def parse_json_option(text: str, option: str) -> Located:
    """A JSON value given on the command line (`--overrides`, `--variables`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise UsageError(f"{option}: JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"{option}: expected a JSON object, got {type(data).__name__}")
    return located_from_data(data, option)


def located_from_data(data: dict[str, Any], label: str) -> Located:
    """Plain data made in code or given as JSON: every node points at `label`."""
    located = Located(data=None)
    problems: list[Problem] = []
    # JSON has no marks: every node points at the option itself.
    converter = _Converter(label, located, problems)
    located.data = converter.convert(_to_commented(data), (), Pos(label), depth=0)
    located.values = {path: Pos(label) for path in located.values} | {(): Pos(label)}
    located.keys = {path: Pos(label) for path in located.keys}
    if problems:
        raise UsageError(f"{label}: {problems[0].message}")
    return located


def _to_commented(value: Any) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _to_commented(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_to_commented(v) for v in value)
    return value


# --------------------------------------------------------------------------- layering


def merge(base: Located, top: Located, at: Path = ()) -> Located:
    """Deep-merge `top` into `base` at `at`: mappings merge, everything else is replaced.

    Lists are replaced whole (a user who overrides `phases` means the new list), unlike
    lodash's index-wise merge that Artillery uses for environments.
    """
    top = _rooted_at(top, at)
    values = dict(base.values)
    keys = dict(base.keys)
    data = _merge_node(base.data, top.data, (), top, values, keys)
    return Located(data=data, values=values, keys=keys)


def _rooted_at(doc: Located, at: Path) -> Located:
    """`doc` moved down to `at`, wrapped in mappings that point at the same source."""
    data = doc.data
    for part in reversed(at):
        data = {part: data}
    anchor = doc.pos(())
    values = {at[:n]: anchor for n in range(len(at))}
    values.update({at + p: pos for p, pos in doc.values.items()})
    keys = {at + p: pos for p, pos in doc.keys.items()}
    return Located(data=data, values=values, keys=keys)


def _merge_node(
    base: Any, top: Any, here: Path, source: Located, values: dict[Path, Pos], keys: dict[Path, Pos]
) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        result = dict(base)
        for name, value in top.items():
            child = (*here, name)
            if name in result and isinstance(result[name], dict) and isinstance(value, dict):
                if child in source.keys:
                    keys[child] = source.keys[child]
                result[name] = _merge_node(result[name], value, child, source, values, keys)
            else:
                _replace_positions(child, source, values, keys)
                result[name] = value
        return result
    _replace_positions(here, source, values, keys)
    return top


def _replace_positions(
    path: Path, source: Located, values: dict[Path, Pos], keys: dict[Path, Pos]
) -> None:
    n = len(path)
    for table, fresh in ((values, source.values), (keys, source.keys)):
        for stale in [p for p in table if p[:n] == path]:
            del table[stale]
        table.update({p: pos for p, pos in fresh.items() if p[:n] == path})


def set_value(doc: Located, path: Path, value: Any, pos: Pos) -> Located:
    """`doc` with `value` placed at `path` (created as needed), pointing at `pos`."""
    patch = Located(data=value, values={(): pos}, keys={})
    return merge(doc, patch, path)


# --------------------------------------------------------------------------- schema


@cache
def plan_schema() -> dict[str, Any]:
    """The published JSON Schema (see `_schema.py`)."""
    return build_schema()


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(plan_schema())


@dataclass(frozen=True)
class SchemaReport:
    """What the schema check found.

    problems    every violation, positioned, in plain words
    broken      nodes that failed (the compiler leaves them alone)
    misspelled  nodes that hold an unknown key (a "missing" key there is likely the typo)
    """

    problems: list[Problem]
    broken: set[Path]
    misspelled: set[Path]


def check_schema(doc: Located) -> SchemaReport:
    errors = list(_validator().iter_errors(doc.data))
    misspelled = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    broken = {tuple(e.absolute_path) for e in errors if e.validator != "additionalProperties"}
    problems: list[Problem] = []
    for error in errors:
        if tuple(error.absolute_path) in misspelled and _only_requires(error):
            continue  # "missing 'flow'" beside "unknown key 'flw'" says the same thing twice
        problems.extend(_explain(error, doc))
    return SchemaReport(problems, broken, misspelled)


def _only_requires(error: ValidationError) -> bool:
    if error.validator == "required":
        return True
    if error.validator in ("anyOf", "oneOf"):
        return all(e.validator == "required" for e in error.context or [])
    return False


def _explain(error: ValidationError, doc: Located) -> Iterator[Problem]:
    path: Path = tuple(error.absolute_path)
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        yield from _unknown_keys(error, doc, path)
        return
    if custom and error.validator not in ("required", "additionalProperties"):
        message = f"{describe_path(path) or 'plan'}: {custom}, got {_show(error.instance)}"
        yield Problem(doc.pos(path), message)
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        chosen = _closest_branch_error(error)
        if chosen is not None:
            yield from _explain(chosen, doc)
            return
        kinds = _branch_types(error)
        if kinds:
            wanted = " or ".join(_article(k) for k in kinds)
            message = (
                f"{describe_path(path) or 'plan'}: expected {wanted}, got {_show(error.instance)}"
            )
            yield Problem(doc.pos(path), message)
            return
    yield Problem(doc.pos(path), _message(error, path))


def _closest_branch_error(error: ValidationError) -> ValidationError | None:
    """Of an anyOf's failed branches, the error from one whose type did match."""
    wrong_type = {
        e.relative_schema_path[0]
        for e in error.context or []
        if e.validator == "type" and len(e.relative_path) == 0
    }
    candidates = [e for e in error.context or [] if e.relative_schema_path[0] not in wrong_type]
    if not candidates:
        return None
    best: ValidationError | None = best_match(
        candidates, key=lambda e: (len(e.absolute_path), e.validator != "type")
    )
    return best


def _branch_types(error: ValidationError) -> list[str]:
    kinds: list[str] = []
    for e in error.context or []:
        if e.validator == "type" and len(e.relative_path) == 0:
            values = (
                e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
            )
            kinds.extend(str(v) for v in values if str(v) not in kinds)
    return kinds


def _unknown_keys(error: ValidationError, doc: Located, path: Path) -> Iterator[Problem]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    instance: Any = error.instance
    for key in instance:
        if key in known:
            continue
        where = describe_path(path) or "top level"
        message = f"{where}: unknown key '{key}'"
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if not guess:
            lowered = {k.lower(): k for k in known}
            if key.lower() in lowered:
                guess = [lowered[key.lower()]]
        if guess:
            message += f"; did you mean '{guess[0]}'?"
        elif known and len(known) <= 12:
            message += f" (expected one of: {', '.join(known)})"
        yield Problem(doc.key_pos((*path, key)), message)


def _message(error: ValidationError, path: Path) -> str:
    where = describe_path(path) or "plan"
    validator = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if validator == "required":
        missing = [k for k in value if k not in instance]
        return f"{where}: missing required key '{missing[0] if missing else value}'"
    if validator == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"{where}: expected {_article(wanted)}, got {_show(instance)}"
    if validator == "enum":
        choices = ", ".join(repr(v) for v in value)
        return f"{where}: {_show(instance)} is not one of {choices}"
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[str(validator)]
        return f"{where}: must be {words} {value}, got {_show(instance)}"
    if validator == "minItems":
        return f"{where}: needs at least {value} item{'s' if value != 1 else ''}"
    if validator == "minProperties":
        return f"{where}: must not be empty"
    if validator == "maxProperties":
        return f"{where}: has {len(instance)} keys where at most {value} are allowed"
    if validator == "minLength":
        return f"{where}: must not be empty"
    if validator == "dependentRequired":
        present = [k for k in value if k in instance]
        key = present[0] if present else "?"
        return f"{where}: '{key}' only goes with '{value[key][0] if key in value else value}'"
    if validator == "not":
        return f"{where}: {_show(instance)} is not allowed here"
    return f"{where}: {error.message}"


def _article(kind: str) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "number": "a number",
        "integer": "a whole number",
        "boolean": "true or false",
        "null": "nothing",
    }
    return " or ".join(words.get(part.strip(), part) for part in kind.split(" or "))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_path(path: Path) -> str:
    """`('config', 'phases', 0, 'arrivalRate')` → `config.phases[0].arrivalRate`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}" if _plain_name(part) else f"[{json.dumps(part)}]"
        else:
            out = part if _plain_name(part) else json.dumps(part)
    return out


def _plain_name(name: str) -> bool:
    return bool(name) and all(ch.isalnum() or ch in "_-$" for ch in name)


# --------------------------------------------------------------------------- assembly


@dataclass(frozen=True)
class PlanOptions:
    """What the command line (or a library caller) layers onto a plan file.

    `env` is the process environment that `$env`/`$processEnvironment` read; the CLI
    passes `os.environ`. `dotenv` names a file of KEY=VALUE lines laid over it.
    `allow_paths` are folders (`--allow-path DIR`) whose files a plan may read besides
    its own folder's (see `input_roots`).
    """

    config_file: str | None = None
    environment: str | None = None
    target: str | None = None
    payload: str | None = None
    overrides: str | None = None
    variables: str | None = None
    dotenv: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    allow_paths: tuple[str, ...] = ()

    def environment_variables(self, roots: Iterable[str] | None = None) -> dict[str, str]:
        """The environment, with the --dotenv file (which must lie inside `roots` when
        they are given) laid over it."""
        values = dict(self.env)
        if self.dotenv:
            values.update(read_dotenv(self.dotenv, roots))
        return values


def assemble(plan_path: str, options: PlanOptions) -> Located:
    """The plan as it will run: file, then config file, environment, overrides, flags."""
    doc = read_document(plan_path)
    if options.config_file:
        # The plan's own keys win over the shared config file, as the more specific.
        roots = load_time_roots(plan_path, options.allow_paths)
        doc = merge(read_document(options.config_file, roots, "--config"), doc)
    if options.environment is not None:
        doc = _apply_environment(doc, options.environment)
    if options.overrides:
        doc = merge(doc, parse_json_option(options.overrides, "--overrides"))
    if options.variables:
        doc = merge(
            doc, parse_json_option(options.variables, "--variables"), ("config", "variables")
        )
    if options.target is not None:
        doc = set_value(doc, ("config", "target"), options.target, Pos("--target"))
    return doc


def _apply_environment(doc: Located, name: str) -> Located:
    environments = doc.get(("config", "environments"))
    if environments is None:
        return doc  # as in Artillery, -e then only sets {{ $environment }}
    if not isinstance(environments, dict) or name not in environments:
        known = sorted(environments) if isinstance(environments, dict) else []
        where = doc.key_pos(("config", "environments")) if known else doc.pos(("config",))
        hint = f" (defined: {', '.join(known)})" if known else " (the plan defines no environments)"
        raise PlanError([Problem(where, f"environment '{name}' is not defined{hint}")])
    overlay = doc.subtree(("config", "environments", name))
    if not isinstance(overlay.data, dict):
        return doc  # the schema check reports the broken environment
    return merge(doc, overlay, ("config",))


def read_dotenv(path: str, roots: Iterable[str] | None = None) -> dict[str, str]:
    """KEY=VALUE lines; `#` comments, `export` prefixes and quotes as dotenv allows.
    The file must be a regular file of at most MAX_PLAN_BYTES (inside `roots`, if
    given)."""
    if roots is not None:
        real = outside_roots(path, roots)
        if real is not None:
            raise UsageError(f"--dotenv: {confinement_message(path, real)}")
    try:
        text = read_bounded(path, MAX_PLAN_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"--dotenv {path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values
