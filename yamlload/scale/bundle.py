"""A plan and the files it reads, as content, so that a shard on another machine (a Dask
worker) needs no copy of the plan's folder and no same current directory: the plan,
its --config, -p and --dotenv files, its payload CSVs, its processor and the formData
files it names without a template, each kept at its place relative to the others.

A templated formData path (`./files/{{ name }}`) cannot be known before the run, and a
shard reads files only from the folder its bundle was unpacked into: such a plan is
refused (exit 2) before any traffic.

Each file is kept under the name the plan (or the command line) gives it, never its real
path: a plan that is a symlink, or that names a symlinked payload, is unpacked as it
is read, its files beside it where it looks for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..plan.ir import FormFile, Plan
from ..plan.source import PlanOptions

# Past this, a bundle is not shipped through the scheduler: the files belong on the
# workers' disks (a payload CSV is at most 100 MB on its own).
MAX_BUNDLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Bundle:
    plan: str  # the plan's path inside the bundle
    files: tuple[tuple[str, bytes], ...]  # (path inside the bundle, content)
    # --config, -p, --dotenv and --allow-path, inside the bundle (None: not given).
    config_file: str | None = None
    payload: str | None = None
    dotenv: str | None = None
    allow_paths: tuple[str, ...] = ()

    @classmethod
    def of(cls, plan: Plan, plan_path: str, options: PlanOptions) -> Bundle:
        named = [plan_path, options.config_file, options.payload, options.dotenv]
        read = _files_read(plan, _base_dirs(plan_path, options))
        paths = {_absolute(p) for p in (*named, *read) if p}
        root = Path(os.path.commonpath([p.parent for p in paths]))
        files, size = [], 0
        for path in sorted(paths):
            data = path.read_bytes()
            size += len(data)
            if size > MAX_BUNDLE_BYTES:
                raise UsageError(
                    f"--dask: the plan's files are over {MAX_BUNDLE_BYTES // 2**20} MB; "
                    "put them on the workers' disks and run with --workers there instead"
                )
            files.append((str(path.relative_to(root)), data))

        def inside(path: str | None) -> str | None:
            return str(_absolute(path).relative_to(root)) if path else None

        allowed = (_absolute(p) for p in options.allow_paths)
        return cls(
            plan=str(_absolute(plan_path).relative_to(root)),
            files=tuple(files),
            config_file=inside(options.config_file),
            payload=inside(options.payload),
            dotenv=inside(options.dotenv),
            allow_paths=tuple(str(p.relative_to(root)) for p in allowed if p.is_relative_to(root)),
        )

    def unpack(self, folder: Path, options: PlanOptions) -> tuple[str, PlanOptions]:
        """Write the files under `folder`; the plan's path there, and `options` with
        their paths pointing there."""
        for name, data in self.files:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

        def there(path: str | None) -> str | None:
            return str(folder / path) if path else None

        moved = replace(
            options,
            config_file=there(self.config_file),
            payload=there(self.payload),
            dotenv=there(self.dotenv),
            # Every file here was allowed where the run began (its folder, the current
            # one, --allow-path): the shard's own current folder is not that one.
            allow_paths=(str(folder), *(str(folder / p) for p in self.allow_paths)),
        )
        return str(folder / self.plan), moved


def _absolute(path: str) -> Path:
    """The path made absolute without following symlinks: the name, not the file."""
    return Path(os.path.abspath(path))


def _base_dirs(plan_path: str, options: PlanOptions) -> list[str]:
    """The folders a plan's relative paths are read from: the plan's, a --config
    file's, and the current one (as the compiler's base_dir), named, not resolved."""
    files = (plan_path, options.config_file)
    return [*(os.path.dirname(os.path.abspath(f)) for f in files if f), os.getcwd()]


def _as_named(real: str, written: list[str], base_dirs: list[str]) -> str:
    """The name under which the plan reads the file at `real` (the compiler keeps
    payloads and the processor by their real path): the first written path, in the
    first folder it may be read from, that leads there; `real` when none does."""
    for folder in base_dirs:
        for path in written:
            candidate = os.path.join(folder, path)
            if os.path.realpath(candidate) == os.path.realpath(real):
                return candidate
    return real


def _written_paths(raw: Any) -> list[str]:
    """Every payload `path` and the `processor` the layered plan document writes."""
    config = raw.get("config") if isinstance(raw, dict) else None
    if not isinstance(config, dict):
        return []
    payloads = config.get("payload")
    specs = payloads if isinstance(payloads, list) else [payloads]
    written = [s["path"] for s in specs if isinstance(s, dict) and isinstance(s.get("path"), str)]
    if isinstance(config.get("processor"), str):
        written.append(config["processor"])
    return written


def _files_read(plan: Plan, base_dirs: list[str]) -> Iterator[str]:
    written = _written_paths(plan.raw)
    yield from (_as_named(payload.path, written, base_dirs) for payload in plan.payloads)
    if plan.processor:
        yield _as_named(plan.processor, written, base_dirs)
    for request in plan.requests():
        if request.form_data is None:
            continue
        for _, value in request.form_data.items:
            if not isinstance(value, FormFile):
                continue
            if not value.path.is_constant:
                raise UsageError(
                    f"{request.pos}: a formData path built from a template "
                    f"({value.path.source!r}) cannot be bundled for --dask: the workers "
                    "read only the files the plan names without a template; name each file "
                    "as it is, or run the shards with --segment on machines that hold them"
                )
            yield str(Path(value.base_dir) / value.path.source)
