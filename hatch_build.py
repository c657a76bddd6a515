"""A hatchling build hook (pyproject.toml's [tool.hatch.build.targets.sdist.hooks.custom]):
hatchling adds the repository's .gitignore to every sdist by itself, whatever `exclude`
says; this hook takes it out, so the sdist holds no dot-file (tests/test_wheel.py)."""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        forced: dict[str, str] = build_data.get("force_include", {})
        for source, target in list(forced.items()):
            if any(part.startswith(".") for part in target.replace("\\", "/").split("/")):
                del forced[source]
