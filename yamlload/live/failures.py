"""How a push output says it failed without failing the run: what went wrong since the
last second is kept here and raised from the next `second` (or `finish`), after that
second's own data went out, so that the ticker counts it (yamlload.output_errors, once
per second or push that failed) and tells it once."""

from __future__ import annotations

from ..errors import OutputFailed
from ..text import one_line

# The longest reason kept for a failure's line: what a server sent is quoted in part.
MAX_REASON_CHARS = 300


class Failures:
    def __init__(self, name: str) -> None:
        self.name = name  # "statsd 127.0.0.1:8125": says which output, secrets masked
        self.count = 0
        self.last = ""

    def add(self, why: str) -> None:
        """One failure; `why` is masked already, and is made printable here."""
        self.count += 1
        self.last = one_line(why)[:MAX_REASON_CHARS]

    def raise_any(self) -> None:
        if not self.count:
            return
        count, why = self.count, self.last
        self.count, self.last = 0, ""
        times = f" ({count} times since the last second)" if count > 1 else ""
        raise OutputFailed(f"{why}{times}")
