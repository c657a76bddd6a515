"""What sampling a monitored source gives: a value per metric, or an error value.

A source that cannot be sampled (a process gone, an endpoint refused, hanging or too
big) is not an exception: it is a `SampleError` the caller counts
(monitor.<source>.scrape_errors) and shows, and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

# What a local process source (pid: or process:) gives, in this order. Here rather than
# in process.py so that the plan's compiler knows them without loading psutil.
PROCESS_METRICS = ("cpu_percent", "rss_mb", "fds", "threads", "connections")


@dataclass(frozen=True)
class SampleError:
    """Why a source gave nothing this time, in one line."""

    message: str

    def __str__(self) -> str:
        return self.message


# One sample of a source: each metric's value (None when it has none this time, such as
# a rate on the first scrape), or why there was none at all.
Reading: TypeAlias = "dict[str, float | None] | SampleError"
