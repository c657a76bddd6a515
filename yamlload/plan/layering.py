"""The plan as it will run: the plan file, then the --config file, the environment
(-e), --overrides, --variables and --target laid over it (`assemble`), and the
flags that choose them (`PlanOptions`).

Layers merge documents with their positions, so that a value always points back to
the file (or the flag) that said it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError, Pos, Problem, UsageError
from .files import MAX_PLAN_BYTES, confinement_message, load_time_roots, outside_roots, read_bounded
from .source import Located, Path, parse_json_option, read_document


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
    # `run --demo-target`'s address (http://127.0.0.1:PORT): it replaces the target's
    # scheme, host and port, and the target's path is kept (ws://h/ws/echo → the demo's
    # /ws/echo), after -t.
    demo_target: str | None = None

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
    if options.demo_target is not None:
        aimed = options.demo_target.rstrip("/") + _target_path(doc.get(("config", "target")))
        doc = set_value(doc, ("config", "target"), aimed, Pos("--demo-target"))
    return doc


def _target_path(target: object) -> str:
    """A target URL's path (and query), '' for none or for what is not a URL."""
    if not isinstance(target, str):
        return ""
    _, sep, rest = target.strip().partition("://")
    if not sep:
        return ""
    slash = rest.find("/")
    path = rest[slash:] if slash >= 0 else ""
    return "" if path == "/" else path


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
