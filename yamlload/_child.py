"""How yamlload starts a Python process of its own (the monitor worker, the demo
target): isolated (`-I`: no current folder on its path, no PYTHON* variables, no user
site-packages), with the folder of this very yamlload first on its path. With
`python -m`, a `yamlload/` folder where the command runs was imported in its place."""

from __future__ import annotations

import sys
from pathlib import Path

# The folder that holds this yamlload package (a checkout, or site-packages).
HOME = str(Path(__file__).resolve().parents[1])


def python_command(module: str, *args: str) -> list[str]:
    """The command that runs `module` as `python -m module args` would, isolated."""
    start = (
        f"import runpy, sys; sys.path.insert(0, {HOME!r}); "
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-I", "-c", start, *args]
