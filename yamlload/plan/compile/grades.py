"""config.grades (issue 18): the grade table as written, each row with where its key
and each band are, so that checks/grades.py (which knows the metrics and their units)
places every mistake. The schema has checked the shape: a row is a list of four bands
or {bands: [...], better: lower|higher}."""

from __future__ import annotations

from typing import Any

from ..ir import GradeRow, GradeSettings
from ..source import Path, describe_path
from .context import Context

GRADES: Path = ("config", "grades")
# The key that keeps the default table beside the plan's rows.
KEEP_DEFAULT = "default"


def compile_grades(cx: Context) -> GradeSettings | None:
    """None when the plan has no config.grades (or a broken one: the schema said why)."""
    if cx.doc.get(GRADES) is None or not cx.healthy(GRADES):
        return None
    rows: list[GradeRow] = []
    for key, spec in cx.mapping(GRADES).items():
        path = (*GRADES, key)
        if key == KEEP_DEFAULT or not cx.healthy(path):
            continue
        row = _row(cx, path, str(key), spec)
        if row is not None:
            rows.append(row)
    keep = cx.mapping(GRADES).get(KEEP_DEFAULT) is True
    return GradeSettings(tuple(rows), keep_default=keep, pos=cx.doc.pos(GRADES))


def _row(cx: Context, path: Path, key: str, spec: Any) -> GradeRow | None:
    bands_path = (*path, "bands") if isinstance(spec, dict) else path
    bands = spec.get("bands") if isinstance(spec, dict) else spec
    better = spec.get("better") if isinstance(spec, dict) else None
    if not isinstance(bands, list) or not cx.healthy(bands_path):
        return None
    return GradeRow(
        key=key,
        bands=tuple(b if isinstance(b, str) else float(b) for b in bands),
        better=None if better is None else str(better),
        pos=cx.doc.key_pos(path),
        band_pos=tuple(cx.doc.pos((*bands_path, i)) for i in range(len(bands))),
        where=describe_path(path),
    )
