"""Reading plans: YAML/JSON with positions.

The rest of yamlload never sees ruamel.yaml: a document becomes plain JSON-like data
plus a side table of positions, keyed by the path of each node. Layering (layering.py)
merges both, so that a value always points back to the file (and line) that said it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import PlanError, Pos, Problem, UsageError
from .files import (
    MAX_PAYLOAD_BYTES,
    MAX_PLAN_BYTES,
    FileTooLargeError,
    NotRegularFileError,
    check_input_file,
    confinement_message,
    input_roots,
    load_time_roots,
    open_regular,
    outside_roots,
    read_bounded,
)

if TYPE_CHECKING:
    from .layering import PlanOptions

# What this module offers: its own names, files.py's and layering.py's PlanOptions,
# for importers that know them from here.
__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_PAYLOAD_BYTES",
    "MAX_PLAN_BYTES",
    "FileTooLargeError",
    "Located",
    "NotRegularFileError",
    "Path",
    "PlanOptions",
    "check_input_file",
    "confinement_message",
    "describe_path",
    "input_roots",
    "load_time_roots",
    "located_from_data",
    "open_regular",
    "outside_roots",
    "parse_document",
    "parse_json_option",
    "read_bounded",
    "read_document",
]

Path = tuple[str | int, ...]

# Deeper than any sane plan, far below Python's recursion limit.
MAX_DEPTH = 64
# Aliases can expand a small file exponentially ("billion laughs"); stop well before.
MAX_NODES = 500_000


# Half of a UTF-16 pair: `\uD800` in a YAML double-quoted string or in JSON.
_SURROGATE = re.compile("[\ud800-\udfff]")


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
            name = self._key(key, key_pos, path)
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

    def _text(self, text: str, pos: Pos, path: Path, what: str) -> str | None:
        """`text` with each surrogate pair (`\\uD83D\\uDE00`, as YAML's reader leaves it)
        made the character it encodes; None, with a problem, for a lone surrogate, which
        is not text (no UTF-8 can carry it: a header or a report would fail on it)."""
        if _SURROGATE.search(text) is None:
            return text
        try:
            return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            lone = _SURROGATE.search(text)
            code = f"\\u{ord(lone.group()):04X}" if lone else "a surrogate"
            where = f"{describe_path(path)}: " if path else ""
            self.problems.append(
                Problem(
                    pos,
                    f"{where}{what} holds a lone surrogate {code} (half of a UTF-16 pair, "
                    "not a character): write the character itself, or both halves",
                )
            )
            return None

    def _key(self, key: Any, pos: Pos, path: Path = ()) -> str | None:
        if isinstance(key, str):
            return self._text(str(key), pos, path, "a key")
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
            return self._text(str(node), pos, path, "the value")
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


if not TYPE_CHECKING:  # mypy sees the import above, and no catch-all that would hide typos

    def __getattr__(name: str) -> Any:
        """`PlanOptions` for the importers that know it from here. Lazily: layering.py
        reads through this module, so importing it at the top would be a cycle."""
        if name == "PlanOptions":
            from .layering import PlanOptions

            return PlanOptions
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
