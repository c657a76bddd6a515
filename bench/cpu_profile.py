"""Run `python -m yamlload ARGS...` under cProfile timed by the process's CPU clock.

    python bench/cpu_profile.py STATS_FILE run plan.yml -o report.json

`python -m cProfile` times by the wall clock, so a paced run's idle waits in the event
loop (epoll) show up as the loop's own time; the CPU clock counts only work, which is
what the CPU-per-request goals are about.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time

if __name__ == "__main__":
    stats = sys.argv[1]
    sys.argv = ["yamlload", *sys.argv[2:]]
    profiler = cProfile.Profile(time.process_time)
    try:
        profiler.runcall(runpy.run_module, "yamlload", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.dump_stats(stats)
