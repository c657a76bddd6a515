"""A local system under test, sampled through psutil (config.monitor's `pid:` and
`process:` sources, issue 17).

One process by `pid`, or every process whose name is `name` (a server's workers: the
metrics are summed over them; the generator's own process is never among them). Each
sample gives PROCESS_METRICS:

- `cpu_percent`: CPU time used between this sample and the previous one, per second of
  wall time, × 100 (one busy core is 100, as psutil's cpu_percent(interval=None)); None
  on the first sample, as a rate;
- `rss_mb`: resident memory in MB (10⁶ bytes, as the generator's own yamlload.rss_mb);
- `fds`: open file descriptors (None where the platform has none to count);
- `threads`; `connections`: its inet sockets (None when the OS denies a look).

A metric the OS will not show for a process is left out of the sum (None when no process
shows it). A process that has gone, or a name that matches nothing, gives a
`SampleError`: never an exception. psutil reads /proc: call `sample` off the event loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil

from .values import PROCESS_METRICS, Reading, SampleError

__all__ = ["MAX_PROCESSES", "PROCESS_METRICS", "ProcessSampler"]
# A name matching more processes than this is an error value, not a slow sum.
MAX_PROCESSES = 1024

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)


@dataclass(frozen=True)
class _CpuMark:
    """A process's CPU seconds (user + system) at a time of the sampler's clock."""

    cpu_seconds: float
    at: float


class ProcessSampler:
    """Samples one process (`pid`) or the processes named `name`; keeps each one's CPU
    time from the previous sample for `cpu_percent`."""

    def __init__(
        self,
        pid: int | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (pid is None) == (name is None):
            raise ValueError("a process is given by exactly one of pid and name")
        self.pid = pid
        self.name = name
        self.clock = clock
        self._process: psutil.Process | None = None
        self._marks: dict[tuple[int, float], _CpuMark] = {}

    @property
    def what(self) -> str:
        return f"process {self.pid}" if self.name is None else f"processes named {self.name!r}"

    def sample(self) -> Reading:
        """Each metric now, summed over the processes; a SampleError when none is there."""
        found = self.find()
        if isinstance(found, SampleError):
            self._marks = {}
            return found
        marks: dict[tuple[int, float], _CpuMark] = {}
        readings = [r for r in (self._read(p, marks) for p in found) if r is not None]
        self._marks = marks
        if not readings:
            return self._none_there()
        return {metric: _sum(r[metric] for r in readings) for metric in PROCESS_METRICS}

    def find(self) -> list[psutil.Process] | SampleError:
        """The processes to sample now, or why there are none."""
        return self._by_pid() if self.name is None else self._by_name(self.name)

    def _by_pid(self) -> list[psutil.Process] | SampleError:
        assert self.pid is not None
        if self._process is None:
            try:
                self._process = psutil.Process(self.pid)
            except _GONE:
                return SampleError(f"no process {self.pid}")
        # is_running compares the start time too: a reused pid is not our process
        if not self._process.is_running():
            return SampleError(f"process {self.pid} is gone")
        return [self._process]

    def _by_name(self, name: str) -> list[psutil.Process] | SampleError:
        own = os.getpid()
        found = [
            process
            for process in psutil.process_iter(["name"])
            if process.info.get("name") == name and process.pid != own
        ]
        if not found:
            return self._none_there()
        if len(found) > MAX_PROCESSES:
            return SampleError(f"more than {MAX_PROCESSES} processes named {name!r}")
        return found

    def _none_there(self) -> SampleError:
        if self.name is None:
            return SampleError(f"process {self.pid} is gone")
        return SampleError(f"no process named {self.name!r}")

    def _read(
        self, process: psutil.Process, marks: dict[tuple[int, float], _CpuMark]
    ) -> dict[str, float | None] | None:
        """One process's metrics (None when it has gone); its CPU mark into `marks`."""
        try:
            with process.oneshot():
                key = (process.pid, process.create_time())
                times = process.cpu_times()
                mark = _CpuMark(times.user + times.system, self.clock())
                values = _metrics(process)
        except _GONE:
            return None
        marks[key] = mark
        values["cpu_percent"] = _cpu_percent(self._marks.get(key), mark)
        return values


def _metrics(process: psutil.Process) -> dict[str, float | None]:
    """What psutil shows of a process but its CPU, each None when the OS denies it."""
    num_fds = getattr(process, "num_fds", None)  # not on Windows
    connections = getattr(process, "net_connections", None) or process.connections
    return {
        "rss_mb": _allowed(lambda: process.memory_info().rss / 1e6),
        "fds": _allowed(lambda: float(num_fds())) if num_fds is not None else None,
        "threads": _allowed(lambda: float(process.num_threads())),
        "connections": _allowed(lambda: float(len(connections(kind="inet")))),
    }


def _allowed(read: Callable[[], float]) -> float | None:
    try:
        return read()
    except psutil.AccessDenied:
        return None


def _cpu_percent(before: _CpuMark | None, now: _CpuMark) -> float | None:
    if before is None or now.at <= before.at:
        return None
    used = max(0.0, now.cpu_seconds - before.cpu_seconds)
    return used / (now.at - before.at) * 100


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
