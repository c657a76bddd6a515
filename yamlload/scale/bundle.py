"""A plan and the files it reads, as content, so that a shard on another machine (a Dask
worker) needs no copy of the plan's folder and no same current directory: the plan,
its --config, -p and --dotenv files, its payload CSVs, its processor and the formData
files it names without a template, each kept at its place relative to the others.

A templated formData path (`./files/{{ name }}`) cannot be known before the run: such a
plan's workers need those files where the plan says, as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

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
        paths = {Path(p).resolve() for p in (*named, *_files_read(plan)) if p}
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
            return str(Path(path).resolve().relative_to(root)) if path else None

        allowed = (Path(p).resolve() for p in options.allow_paths)
        return cls(
            plan=str(Path(plan_path).resolve().relative_to(root)),
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


def _files_read(plan: Plan) -> Iterator[str]:
    yield from (payload.path for payload in plan.payloads)
    if plan.processor:
        yield plan.processor
    for request in plan.requests():
        if request.form_data is None:
            continue
        for _, value in request.form_data.items:
            if isinstance(value, FormFile) and value.path.is_constant:
                yield str(Path(value.base_dir) / value.path.source)
