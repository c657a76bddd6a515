"""yamlload's benchmark suite: yamlload and its peers, measured in the same run.

    python bench/run.py            # everything found or installable, ~5 minutes
    python bench/run.py --quick    # a smoke check: yamlload against the bare loop only

The target (nginx, or an aiohttp stand-in) is pinned to core 0 and each generator to
core 1 where the machine has two cores. Every figure is a ratio against peers measured in
this same run, so a busy or slow machine shifts all of them together. Results go to
bench/results/<date>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pstats
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
USERS = 50
FIXED_RATE = 1000
LOCUST_VENV = BENCH / ".peers" / "locust"


@dataclass
class Measured:
    tool: str
    scenario: str
    requests: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    median_ms: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_10k(self) -> float | None:
        return self.cpu_seconds / self.requests * 10_000 if self.requests else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def measure(command: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> tuple[str, float, float, float]:
    """Run a generator; returns its output, wall time, CPU seconds and peak RSS (MB).

    CPU and peak RSS come from wait4(), so they cover the whole process tree: yamlload's
    `--workers` children and Artillery's workers count, as long as they were reaped.
    """
    began = time.perf_counter()
    merged = {**os.environ, **(env or {})}
    # Users get bytecode compiled at install time; a dev shell that forbids it would
    # charge a recompile of every module to start-up.
    merged.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=merged)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    _, status, usage = os.wait4(process.pid, 0)
    killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    return "".join(output), time.perf_counter() - began, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Target:
    """A server on core 0: nginx when installed (100-byte JSON), else aiohttp."""

    def __init__(self, kind: str = "fast", extra: list[str] | None = None) -> None:
        self.extra = extra or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.kind = kind
        self.process: subprocess.Popen[str] | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-"))
        self.name = "aiohttp"

    def __enter__(self) -> Target:
        nginx = shutil.which("nginx")
        if self.kind == "fast" and nginx:
            body = json.loads(json.dumps({"id": 1})) and '{"id":1,"name":"benchmark item","price":9.99,"stock":1000,"tags":["a","b"],"ok":true,"pad":"xxxxxx"}'
            conf = self.folder / "nginx.conf"
            conf.write_text(
                f"worker_processes 1; daemon off; pid {self.folder}/nginx.pid; error_log /dev/null;\n"
                "events { worker_connections 8192; }\n"
                f"http {{ access_log off; client_body_temp_path {self.folder}; proxy_temp_path {self.folder};\n"
                f"  fastcgi_temp_path {self.folder}; uwsgi_temp_path {self.folder}; scgi_temp_path {self.folder};\n"
                f"  server {{ listen 127.0.0.1:{self.port}; keepalive_requests 1000000;\n"
                f"    location / {{ default_type application/json; return 200 '{body}'; }} }} }}\n"
            )
            self.process = subprocess.Popen([*pin(0), nginx, "-c", str(conf)], text=True)
            self.name = "nginx"
        else:
            self.process = subprocess.Popen([*pin(0), sys.executable, str(BENCH / "targets.py"), self.kind, str(self.port), *self.extra], stdout=subprocess.PIPE, text=True)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the benchmark target did not start")

    def __exit__(self, *_: object) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


# --------------------------------------------------------------------------- tools


# A mode ending in this runs on config.http.transport: fast (issue 15).
FAST_SUFFIX = "-fast"
FAST_TOOL = "yamlload (fast transport)"


def yamlload_plan(url: str, seconds: float, mode: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-plan-"))
    fast = mode.endswith(FAST_SUFFIX)
    mode = mode.removesuffix(FAST_SUFFIX)
    if mode == "max":
        phase = f"{{duration: {seconds}, users: {USERS}}}"
        flow = "[{get: {url: /}}]"
    elif mode == "closed-rate":
        phase = f"{{duration: {seconds}, users: {USERS}}}"
        flow = f"[{{get: {{url: /}}}}, {{think: {USERS / FIXED_RATE}}}]"
    else:  # open model at the fixed rate: one request per user
        phase = f"{{duration: {seconds}, arrivalRate: {FIXED_RATE}}}"
        flow = "[{get: {url: /}}]"
    # open-pooled: users share keep-alive connections instead of each opening its own
    http = f"  http: {{pool: {USERS}}}\n" if mode == "open-pooled" else ""
    if fast:
        http = "  http: {transport: fast}\n"
    plan = folder / "plan.yml"
    plan.write_text(f"config:\n  target: {url.rstrip('/')}\n{http}  phases: [{phase}]\nscenarios:\n  - flow: {flow}\n")
    return plan


def run_yamlload(url: str, seconds: float, mode: str, scenario: str) -> Measured:
    plan = yamlload_plan(url, seconds, mode)
    report = plan.with_suffix(".json")
    command = [*pin(1), sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(report), "--allow-lag"]
    output, wall, cpu, rss = measure(command)
    data = json.loads(report.read_text())
    counters = data["aggregate"]["counters"]
    lag = data["aggregate"]["summaries"].get("yamlload.arrival_lag", {})
    tool = FAST_TOOL if mode.endswith(FAST_SUFFIX) else "yamlload"
    return Measured(tool, scenario, counters.get("http.responses", 0), seconds, cpu, rss,
                    data["aggregate"]["summaries"]["http.response_time"]["median"],
                    extra={"arrival_lag_p99_ms": lag.get("p99"), "errors": {k: v for k, v in counters.items() if k.startswith("errors.")}})


MAX_REPEATS = 3


def max_throughput_pair(url: str, seconds: float, repeats: int) -> list[Measured]:
    """yamlload and the bare loop, interleaved `repeats` times; each reports its median
    run, so one noisy moment on a shared machine does not decide the ratio."""
    ours: list[Measured] = []
    fast: list[Measured] = []
    floor: list[Measured] = []
    for _ in range(repeats):
        ours.append(run_yamlload(url, seconds, "max", "max throughput"))
        fast.append(run_yamlload(url, seconds, "max" + FAST_SUFFIX, "max throughput"))
        floor.append(run_bare(url, seconds, None, "max throughput"))
    picked = []
    for runs in (ours, fast, floor):
        median = sorted(runs, key=lambda m: m.rps)[len(runs) // 2]
        if repeats > 1:
            median.note = "median of " + ", ".join(f"{m.rps:,.0f}" for m in runs) + " req/s"
        picked.append(median)
    return picked


def run_bare(url: str, seconds: float, rate: float | None, scenario: str) -> Measured:
    command = [*pin(1), sys.executable, str(BENCH / "bare.py"), url, "--users", str(USERS), "--seconds", str(seconds)]
    if rate:
        command += ["--rate", str(rate)]
    output, wall, cpu, rss = measure(command)
    data = json.loads(output.strip().splitlines()[-1])
    return Measured("bare aiohttp+uvloop", scenario, data["requests"], data["seconds"], cpu, rss, data["median_ms"])


def run_hey(url: str, seconds: float, rate: float | None, scenario: str) -> Measured | None:
    if not shutil.which("hey"):
        return None
    command = [*pin(1), "hey", "-z", f"{seconds}s", "-c", str(USERS)]
    if rate:
        command += ["-q", str(rate / USERS)]
    output, wall, cpu, rss = measure([*command, url])
    total = re.search(r"\[200\]\s+(\d+) responses", output)
    median = re.search(r"50%+ in ([\d.]+) secs", output)
    return Measured("hey", scenario, int(total.group(1)) if total else 0, seconds, cpu, rss, float(median.group(1)) * 1000 if median else None)


def run_wrk(url: str, seconds: float, scenario: str) -> Measured | None:
    if not shutil.which("wrk"):
        return None
    output, wall, cpu, rss = measure([*pin(1), "wrk", "-t1", f"-c{USERS}", f"-d{int(seconds)}s", "--latency", url])
    total = re.search(r"(\d+) requests in", output)
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return Measured("wrk", scenario, int(total.group(1)) if total else 0, seconds, cpu, rss,
                    float(median.group(1)) * scale[median.group(2)] if median else None)


def locust_binary() -> str | None:
    found = shutil.which("locust")
    if found:
        return found
    candidate = LOCUST_VENV / "bin" / "locust"
    if not candidate.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_VENV)], check=True)
        done = subprocess.run([str(LOCUST_VENV / "bin" / "pip"), "install", "-q", "locust"], check=False)
        if done.returncode != 0:
            return None
    return str(candidate)


def run_locust(url: str, seconds: float, rate: float | None, scenario: str) -> Measured | None:
    binary = locust_binary()
    if binary is None:
        return None
    prefix = Path(tempfile.mkdtemp(prefix="yamlload-bench-locust-")) / "stats"
    command = [*pin(1), binary, "-f", str(BENCH / "locustfile.py"), "--headless", "-u", str(USERS), "-r", str(USERS),
               "-t", f"{int(seconds)}s", "--host", url.rstrip("/"), "--only-summary", "--csv", str(prefix), "--loglevel", "WARNING"]
    env = {"BENCH_USER_RATE": str(rate / USERS)} if rate else {}
    output, wall, cpu, rss = measure(command, env)
    rows = Path(f"{prefix}_stats.csv").read_text().splitlines()
    header = rows[0].split(",")
    total = next(r.split(",") for r in rows[1:] if ",Aggregated," in r)
    requests = int(total[header.index("Request Count")])
    median = float(total[header.index("Median Response Time")])
    return Measured("Locust FastHttpUser", scenario, requests, seconds, cpu, rss, median)


ARTILLERY_PREFIX = BENCH / ".peers" / "artillery"


def artillery_binary() -> str | None:
    found = shutil.which("artillery")
    candidate = ARTILLERY_PREFIX / "node_modules" / ".bin" / "artillery"
    return found or (str(candidate) if candidate.exists() else None)


def install_artillery() -> None:
    """npm install into bench/.peers (needs the registry, so it runs before the network
    namespace is entered). Playwright's browsers are not needed for HTTP."""
    if artillery_binary() or not shutil.which("npm"):
        return
    print("installing Artillery 2 into bench/.peers/artillery (a few minutes)", flush=True)
    subprocess.run(["npm", "install", "--silent", "--prefix", str(ARTILLERY_PREFIX), "artillery@2"],
                   env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}, check=False)


def run_artillery(url: str, seconds: float, mode: str, scenario: str) -> Measured | None:
    """Artillery 2 with the same load. It has no closed model, so USERS arrive at once and
    loop; the loop count is sized to last about `seconds` at the expected rate."""
    binary = artillery_binary()
    if binary is None:
        return None
    if not in_private_network():
        return Measured("Artillery 2", scenario, note="skipped: Artillery sends telemetry, and no network namespace was available")
    target = url.rstrip("/")
    if mode == "open-rate":
        phase, flow = f"{{duration: {seconds}, arrivalRate: {FIXED_RATE}}}", "[{get: {url: /}}]"
    else:
        rate_per_user = {"max": 60, "closed-rate": FIXED_RATE / USERS, "slow": 20}[mode]
        think = f", {{think: {USERS / FIXED_RATE}}}" if mode == "closed-rate" else ""
        count = max(1, round(rate_per_user * seconds))
        phase, flow = f"{{duration: 1, arrivalCount: {USERS}}}", f"[{{loop: [{{get: {{url: /}}}}{think}], count: {count}}}]"
    folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-artillery-"))
    script, report = folder / "script.yml", folder / "report.json"
    script.write_text(f"config:\n  target: {target}\n  phases: [{phase}]\nscenarios:\n  - flow: {flow}\n")
    output, wall, cpu, rss = measure([*pin(1), binary, "run", "-q", str(script), "--output", str(report)],
                                     {"ARTILLERY_DISABLE_TELEMETRY": "true"}, timeout=seconds * 20 + 120)
    if not report.exists():
        return Measured("Artillery 2", scenario, note="no report: " + output.strip().splitlines()[-1][:120] if output.strip() else "no report")
    aggregate = json.loads(report.read_text())["aggregate"]
    requests = aggregate["counters"].get("http.responses", 0)
    # Artillery's own start-up takes seconds; the rate is over the span it measured.
    span = (aggregate["lastCounterAt"] - aggregate["firstCounterAt"]) / 1000 or seconds
    median = aggregate["summaries"].get("http.response_time", {}).get("median")
    return Measured("Artillery 2", scenario, requests, span, cpu, rss, median,
                    note=f"{wall:.0f} s wall in all, start-up included in CPU")


# --------------------------------------------------------------------------- a private network

NETNS_FLAG = "YAMLLOAD_BENCH_NETNS"


def in_private_network() -> bool:
    return os.environ.get(NETNS_FLAG) == "1"


def rerun_in_private_network() -> int | None:
    """Run this script again inside a new network namespace with only loopback up, so no
    tool (Artillery's telemetry above all) can reach anything but the local target.
    Returns None where that is not possible here (no root, no unshare)."""
    if in_private_network() or not (shutil.which("unshare") and shutil.which("ip")):
        return None
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        return None
    print("entering a private network namespace (loopback only)", flush=True)
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable, *sys.argv]
    return subprocess.call(command, env={**os.environ, NETNS_FLAG: "1"})


def run_startup(tries: int = 3) -> Measured:
    """Seconds from launching `yamlload run` to its first request reaching the target.

    The plan's one user starts at t=0 (an arrivalRate of 1 would wait a second for its
    first arrival). The median of a few tries.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(BENCH.parent / "yamlload")], check=False)
    seconds: list[float] = []
    for _ in range(tries):
        stamp = Path(tempfile.mkdtemp(prefix="yamlload-bench-stamp-")) / "first"
        with Target("stamp", [str(stamp)]) as target:
            plan = Path(tempfile.mkdtemp(prefix="yamlload-bench-plan-")) / "startup.yml"
            plan.write_text(f"config:\n  target: {target.url.rstrip('/')}\n  phases: [{{duration: 1, users: 1}}]\n"
                            "scenarios:\n  - flow: [{get: {url: /}}]\n")
            launched = time.time()
            measure([*pin(1), sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(plan.with_suffix(".json"))])
            seconds.append(float(stamp.read_text()) - launched)
    return Measured("yamlload", "start-up", 0, statistics.median(seconds),
                    note=f"seconds to the first request, median of {tries}: " + ", ".join(f"{s:.3f}" for s in seconds))


def run_lag_at(url: str, rate: float, seconds: float) -> Measured:
    plan = yamlload_plan(url, seconds, "open-rate")
    plan.write_text(plan.read_text().replace(f"arrivalRate: {FIXED_RATE}", f"arrivalRate: {round(rate)}"))
    report = plan.with_suffix(".json")
    output, wall, cpu, rss = measure([*pin(1), sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(report), "--allow-lag"])
    data = json.loads(report.read_text())
    lag = data["aggregate"]["summaries"].get("yamlload.arrival_lag", {})
    return Measured("yamlload", f"open model at {round(rate)}/s (80% of max)", data["aggregate"]["counters"].get("http.responses", 0),
                    seconds, cpu, rss, extra={"arrival_lag_p99_ms": lag.get("p99")})


def run_many_users(url: str, users: int, seconds: float) -> Measured:
    folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-users-"))
    plan = folder / "plan.yml"
    plan.write_text(
        f"config:\n  target: {url.rstrip('/')}\n  http: {{timeout: 30}}\n"
        f"  phases: [{{duration: {seconds}, users: {users}, spawnRate: {users // 5}}}]\n"
        "scenarios:\n  - flow: [{get: {url: /}}, {think: {min: 1, max: 5}}]\n"
    )
    report = plan.with_suffix(".json")
    output, wall, cpu, rss = measure([*pin(1), sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(report), "--allow-lag"])
    counters = json.loads(report.read_text())["aggregate"]["counters"]
    return Measured("yamlload", f"{users:,} closed-model users", counters.get("http.responses", 0), seconds, cpu, rss,
                    extra={"users": counters.get("vusers.created", 0), "errors": {k: v for k, v in counters.items() if k.startswith("errors.")}})


def run_workers_curve(url: str, seconds: float) -> list[Measured]:
    out = []
    for workers in range(1, (os.cpu_count() or 1) + 1):
        plan = yamlload_plan(url, seconds, "max")
        report = plan.with_suffix(".json")
        # no pinning: the workers spread over the cores (the target shares them)
        output, wall, cpu, rss = measure([sys.executable, "-m", "yamlload", "run", "-q", str(plan), "-o", str(report), "--allow-lag", "--workers", str(workers)])
        counters = json.loads(report.read_text())["aggregate"]["counters"]
        out.append(Measured("yamlload", f"max throughput, {workers} worker{'s' if workers > 1 else ''}", counters.get("http.responses", 0), seconds, cpu, rss))
    return out


def profile_hot_path(url: str, seconds: float, top: int = 15) -> dict[str, Any]:
    """Where one request's cost goes: yamlload at max throughput under cProfile. Own time
    by layer (yamlload, aiohttp and its helpers, the rest) and the costliest functions.
    cProfile slows Python code more than C code, so read shares, not absolute times;
    a coroutine counts one call per resumption."""
    plan = yamlload_plan(url, seconds, "max")
    stats_path, report = plan.with_suffix(".prof"), plan.with_suffix(".json")
    measure([*pin(1), sys.executable, "-m", "cProfile", "-o", str(stats_path),
             "-m", "yamlload", "run", "-q", str(plan), "-o", str(report), "--allow-lag"])
    requests = json.loads(report.read_text())["aggregate"]["counters"].get("http.responses", 0) or 1
    raw: dict[Any, Any] = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    layers: dict[str, float] = {}
    for (file, _line, _name), entry in raw.items():
        layers[_layer(file)] = layers.get(_layer(file), 0.0) + entry[2]
    functions = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return {
        "layers": {name: round(100 * spent / total, 1) for name, spent in sorted(layers.items(), key=lambda kv: -kv[1])},
        "functions": [{"function": f"{Path(file).name}:{line}({name})" if file != "~" else name,
                       "share_percent": round(100 * entry[2] / total, 1),
                       "calls_per_request": round(entry[1] / requests, 2)}
                      for (file, line, name), entry in functions],
    }


def _layer(file: str) -> str:
    for marker, layer in (("/yamlload/", "yamlload"), ("/aiohttp/", "aiohttp"), ("/multidict/", "aiohttp"),
                          ("/yarl/", "aiohttp"), ("/propcache/", "aiohttp"), ("/asyncio/", "asyncio"),
                          ("/uvloop/", "uvloop")):
        if marker in file:
            return layer
    return "built-ins (C)" if file == "~" else "other Python"

# --------------------------------------------------------------------------- the suite


def suite(quick: bool) -> list[Measured]:
    seconds = 3.0 if quick else 10.0
    results: list[Measured] = []
    with Target("fast") as target:
        url = target.url
        print(f"target: {target.name} at {url}", flush=True)
        results.extend(max_throughput_pair(url, seconds, 1 if quick else MAX_REPEATS))
        if not quick:
            for peer in (run_locust(url, seconds, None, "max throughput"), run_artillery(url, seconds, "max", "max throughput"),
                         run_hey(url, seconds, None, "max throughput"), run_wrk(url, seconds, "max throughput")):
                if peer:
                    results.append(peer)
            results.append(run_yamlload(url, seconds, "open-rate", "1000 req/s open"))
            results.append(run_yamlload(url, seconds, "open-pooled", "1000 req/s open, pooled"))
            results.append(run_yamlload(url, seconds, "closed-rate", "1000 req/s closed"))
            results.append(run_bare(url, seconds, FIXED_RATE, "1000 req/s closed"))
            for peer in (run_locust(url, seconds, FIXED_RATE, "1000 req/s closed"), run_hey(url, seconds, FIXED_RATE, "1000 req/s closed"),
                         run_artillery(url, seconds, "closed-rate", "1000 req/s closed"), run_artillery(url, seconds, "open-rate", "1000 req/s open")):
                if peer:
                    results.append(peer)
    if not quick:
        opened = find(results, "yamlload", "1000 req/s open")
        with Target("fast") as target:
            if opened and opened.cpu_seconds:
                max_open = FIXED_RATE / (opened.cpu_seconds / opened.seconds)  # one full core
                results.append(run_lag_at(target.url, 0.8 * min(max_open, 5 * FIXED_RATE), seconds))
            results.append(run_many_users(target.url, 10_000, 20))
            results.extend(run_workers_curve(target.url, seconds))
        results.append(run_startup())
        with Target("slow") as target:
            url = target.url
            results.append(run_yamlload(url, 5, "max", "median, 50 ms server"))
            results.append(run_bare(url, 5, None, "median, 50 ms server"))
            for peer in (run_locust(url, 5, None, "median, 50 ms server"), run_artillery(url, 5, "slow", "median, 50 ms server"),
                         run_hey(url, 5, None, "median, 50 ms server"), run_wrk(url, 5, "median, 50 ms server")):
                if peer:
                    results.append(peer)
    for m in results:
        print(f"{m.scenario:34} {m.tool:22} {m.rps:10.0f} req/s  cpu/10k {m.cpu_per_10k or 0:6.2f} s  rss {m.peak_rss_mb:6.1f} MB  median {m.median_ms or 0:7.2f} ms {m.extra or ''}", flush=True)
    return results


def find(results: list[Measured], tool: str, scenario: str) -> Measured | None:
    return next((m for m in results if m.tool == tool and m.scenario == scenario), None)


def ratios(results: list[Measured]) -> dict[str, float]:
    out: dict[str, float] = {}
    mine = find(results, "yamlload", "max throughput")
    for peer in ("bare aiohttp+uvloop", "Locust FastHttpUser", "Artillery 2", "hey", "wrk"):
        other = find(results, peer, "max throughput")
        if mine and other and other.rps:
            out[f"max throughput vs {peer}"] = round(mine.rps / other.rps, 3)
    fast = find(results, FAST_TOOL, "max throughput")
    for peer in ("bare aiohttp+uvloop", "Locust FastHttpUser", "yamlload"):
        other = find(results, peer, "max throughput")
        if fast and other and other.rps:
            out[f"fast transport's max throughput vs {peer}"] = round(fast.rps / other.rps, 3)
    for scenario in ("1000 req/s open", "1000 req/s open, pooled", "1000 req/s closed"):
        ours = find(results, "yamlload", scenario)
        for peer in ("Locust FastHttpUser", "Artillery 2", "hey", "bare aiohttp+uvloop"):
            # Artillery has an open model of its own; the others are compared closed.
            other = find(results, peer, "1000 req/s open" if peer == "Artillery 2" and "open" in scenario else "1000 req/s closed")
            if ours and other and ours.cpu_per_10k and other.cpu_per_10k:
                out[f"CPU per request ({scenario}) vs {peer}"] = round(ours.cpu_per_10k / other.cpu_per_10k, 3)
    at_rate = [m.peak_rss_mb for m in results if m.tool == "yamlload" and m.scenario.startswith("1000 req/s")]
    if at_rate:
        out["peak RSS (MB) at 1000 req/s"] = round(max(at_rate), 1)
    lag = next((m for m in results if m.scenario.startswith("open model at")), None)
    if lag and lag.extra.get("arrival_lag_p99_ms") is not None:
        out["arrival lag p99 (ms) at 80% of max"] = lag.extra["arrival_lag_p99_ms"]
    many = next((m for m in results if m.scenario.endswith("closed-model users")), None)
    if many:
        out["peak RSS (MB), 10,000 closed-model users"] = round(many.peak_rss_mb, 1)
    startup = find(results, "yamlload", "start-up")
    if startup:
        out["seconds to the first request"] = round(startup.seconds, 3)
    curve = [m for m in results if m.scenario.startswith("max throughput, ")]
    if len(curve) > 1 and curve[0].rps:
        for m in curve[1:]:
            out[f"{m.scenario} / 1 worker"] = round(m.rps / curve[0].rps, 3)
    slow = find(results, "yamlload", "median, 50 ms server")
    bare = find(results, "bare aiohttp+uvloop", "median, 50 ms server")
    if slow and bare and slow.median_ms and bare.median_ms:
        out["median above the bare loop (ms), 50 ms server"] = round(slow.median_ms - bare.median_ms, 3)
    return out


# (ratio name, comparison, limit): the goals, judged on this run's ratios.
GOALS = [
    ("max throughput vs Locust FastHttpUser", ">=", 1.3),
    ("max throughput vs bare aiohttp+uvloop", ">=", 0.9),
    ("CPU per request (1000 req/s closed) vs Locust FastHttpUser", "<=", 0.75),
    ("CPU per request (1000 req/s open) vs Locust FastHttpUser", "<=", 0.75),
    ("CPU per request (1000 req/s closed) vs hey", "<=", 3.0),
    ("CPU per request (1000 req/s open) vs hey", "<=", 3.0),
    ("median above the bare loop (ms), 50 ms server", "<=", 0.8),
    ("arrival lag p99 (ms) at 80% of max", "<", 2.0),
    ("peak RSS (MB) at 1000 req/s", "<=", 60.0),
    ("peak RSS (MB), 10,000 closed-model users", "<=", 400.0),
    ("seconds to the first request", "<=", 0.5),
]


def judge(computed: dict[str, float]) -> list[tuple[str, str, str]]:
    rows = []
    for name, op, limit in GOALS:
        value = computed.get(name)
        if value is None:
            rows.append((name, f"{op} {limit}", "not measured"))
            continue
        met = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
        rows.append((name, f"{op} {limit}", f"{value} ({'met' if met else 'missed'})"))
    for name, value in computed.items():
        if name.startswith("max throughput, ") and name.endswith("/ 1 worker"):
            workers = int(name.split(", ")[1].split()[0])
            rows.append((name, f">= {0.9 * workers:.1f}", f"{value} ({'met' if value >= 0.9 * workers else 'missed'})"))
    return rows


def write(results: list[Measured], computed: dict[str, float], profile: dict[str, Any], quick: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M%S") + ("-quick" if quick else "")
    data = {"date": stamp, "quick": quick, "cores": os.cpu_count(), "results": [{**asdict(m), "rps": m.rps, "cpu_per_10k": m.cpu_per_10k} for m in results], "ratios": computed, "goals": judge(computed), "profile": profile}
    (RESULTS / f"{stamp}.json").write_text(json.dumps(data, indent=1))
    lines = [f"# Benchmark {stamp}", "", f"{os.cpu_count()} cores; target on core 0, generator on core 1; {USERS} users.", "",
             "| scenario | tool | req/s | CPU-s per 10k req | peak RSS MB | median ms | notes |", "|---|---|---:|---:|---:|---:|---|"]
    for m in results:
        notes = "; ".join(part for part in (", ".join(f"{k} {v}" for k, v in m.extra.items()), m.note) if part)
        lines.append(f"| {m.scenario} | {m.tool} | {m.rps:,.0f} | {m.cpu_per_10k or 0:.2f} | {m.peak_rss_mb:.1f} | {m.median_ms or 0:.2f} | {notes} |")
    lines += ["", "| ratio | value |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in computed.items()]
    lines += ["", "## Goals", "", "| goal | limit | this run |", "|---|---|---|"] + [f"| {n} | {limit} | {verdict} |" for n, limit, verdict in judge(computed)]
    if profile:
        lines += ["", "## Where the time goes (cProfile, yamlload at max throughput)", "",
                  "Own time by layer, as a share of all profiled time:", "",
                  "| layer | share % |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in profile["layers"].items()]
        lines += ["", "The costliest functions (a coroutine counts a call per resumption):", "",
                  "| function | share % | calls per request |", "|---|---:|---:|"]
        lines += [f"| `{row['function']}` | {row['share_percent']} | {row['calls_per_request']} |" for row in profile["functions"]]
    path = RESULTS / f"{stamp}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run: yamlload against the bare loop")
    args = parser.parse_args()
    if not args.quick:
        locust_binary()  # installs need the registry: before the private network
        install_artillery()
        code = rerun_in_private_network()
        if code is not None:
            return code
    results = suite(args.quick)
    computed = ratios(results)
    with Target("fast") as target:
        profile = profile_hot_path(target.url, 3.0 if args.quick else 8.0)
    path = write(results, computed, profile, args.quick)
    print(f"results: {path}")
    # The smoke check: the ratios exist and are finite. Never a wall-clock assertion.
    ok = bool(computed) and all(v == v and abs(v) != float("inf") for v in computed.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
