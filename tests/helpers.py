from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from yamlload.cli.app import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
COMPAT = SHARED / "compat" / "artillery"
PLANS = REPO / "plans"


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the real `yamlload` command in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def compat_dir() -> Path:
    if not COMPAT.is_dir():
        pytest.skip(f"the Artillery compat corpus is not at {COMPAT}")
    return COMPAT
