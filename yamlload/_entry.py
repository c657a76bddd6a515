"""The `yamlload` command's first step: Ctrl-C, SIGTERM and SIGHUP are taken before the
command line is imported (about 0.15 s), so a signal then is one line and the signal's
exit code, never a KeyboardInterrupt traceback. `cli.app.main` takes them over next.
Nothing of yamlload's is imported before the handlers are in."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal's C core; `signal` imports enum (ms)
import sys

TYPE_CHECKING = False  # typing's, without importing it
if TYPE_CHECKING:
    from typing import Any

# A run stopped by a signal exits 128 + its number, as a shell reports it.
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def stopped_early(signal_name: str) -> str:
    return f"stopped by {signal_name} before any request was sent"


class _Stopped(BaseException):
    """A signal while the command line is imported."""


def main() -> None:
    names = {getattr(_signal, name): name for name in EXIT_SIGNAL if hasattr(_signal, name)}

    def stop(signum: int, _: Any) -> None:
        raise _Stopped(names[signum])

    for signum in names:  # Windows has no SIGHUP
        _signal.signal(signum, stop)
    try:
        from .cli.app import main as cli_main
    except _Stopped as stopped:
        name = str(stopped)
        print(stopped_early(name), file=sys.stderr)
        sys.exit(EXIT_SIGNAL[name])
    cli_main()
