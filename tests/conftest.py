from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_plan(tmp_path: Path):
    """Write a plan file (and optional side files) into a temp folder; return its path."""

    def write(text: str, name: str = "plan.yml", **files: str) -> Path:
        for filename, content in files.items():
            (tmp_path / filename).write_text(content, encoding="utf-8")
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
