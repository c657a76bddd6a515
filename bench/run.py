"""yamlload's benchmark suite: yamlload and its peers, measured in the same run.

    python bench/run.py            # everything found or installable, ~15 minutes
    python bench/run.py --quick    # a smoke check: both transports and the bare loop

yamlload runs on both of its HTTP transports, each named in the plan
(`config.http.transport`), so no row depends on the default; a row is labelled with the
transport the run's console header says ran, not the one asked for. The target (nginx, or
an aiohttp stand-in) is pinned to core 0 and each generator to core 1 where the machine
has two cores. Every figure is a ratio against peers measured in this same run, so a busy
or slow machine shifts all of them together. Results go to bench/results/<date>.json and
.md, ending with issue 15's goals judged on this run and a profile by layer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import pstats
import re
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
USERS = 50
FIXED_RATE = 1000
# Seconds per measured run; the 50 ms server needs less to settle its median.
SECONDS, QUICK_SECONDS, SLOW_SECONDS = 10.0, 3.0, 5.0
PROFILE_SECONDS, QUICK_PROFILE_SECONDS = 8.0, 3.0
# (transport, plan mode) profiled: both transports flat out; and the fast one paced at
# 1000 req/s, closed and open, the two scenarios whose CPU goals it has missed, since
# what a paced request costs is not what a flat-out one costs.
PROFILED = (("fast", "max"), ("aiohttp", "max"), ("fast", "closed-rate"), ("fast", "open-rate"))
PROFILED_QUICK = (("fast", "max"), ("aiohttp", "max"))
PROFILE_SCENARIOS = {
    "max": "max throughput",
    "closed-rate": "1000 req/s closed",
    "open-rate": "1000 req/s open",
}
MANY_USERS, MANY_USERS_SECONDS = 10_000, 20
STARTUP_TRIES = 3
# The lag goal is judged at this share of the open model's estimated maximum rate; the
# cap keeps a wild estimate from asking for more connections a second than loopback has
# ports for (each arrival opens one and leaves it in TIME_WAIT).
LAG_SHARE, LAG_RATE_CAP = 0.8, 8_000
# nginx must hold MANY_USERS keep-alive connections at once, or it resets the excess.
NGINX_CONNECTIONS, NGINX_FILES = 16_384, 20_000
LOCUST_VENV = BENCH / ".peers" / "locust"
# fast first: issue 15's goals are judged on it, aiohttp's figure is shown beside.
TRANSPORTS = ("fast", "aiohttp")
BARE = "bare aiohttp+uvloop"
BARE_OPEN = "bare uvloop, a connection per arrival"
LOCUST = "Locust FastHttpUser"
ARTILLERY = "Artillery 2"


def tool_name(transport: str) -> str:
    return f"yamlload ({transport})"


WATCHED = "yamlload (fast, watched live)"


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


def two_cores() -> bool:
    return bool(shutil.which("taskset")) and (os.cpu_count() or 1) > 1


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if two_cores() else []


def measure(
    command: list[str], env: dict[str, str] | None = None, timeout: float = 600
) -> tuple[str, float, float, float]:
    """Run a generator; returns its output, wall time, CPU seconds and peak RSS (MB).

    CPU and peak RSS come from wait4(), so they cover the whole process tree: yamlload's
    `--workers` children and Artillery's workers count, as long as they were reaped.
    """
    began = time.perf_counter()
    merged = {**os.environ, **(env or {})}
    # Users get bytecode compiled at install time; a dev shell that forbids it would
    # charge a recompile of every module to start-up.
    merged.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=merged
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    _, status, usage = os.wait4(process.pid, 0)
    killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    cpu = usage.ru_utime + usage.ru_stime
    return "".join(output), time.perf_counter() - began, cpu, usage.ru_maxrss / 1024


BODY = (
    '{"id":1,"name":"benchmark item","price":9.99,"stock":1000,"tags":["a","b"],'
    '"ok":true,"pad":"xxxxxx"}'
)


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
            temp = self.folder
            conf = self.folder / "nginx.conf"
            conf.write_text(
                f"worker_processes 1; daemon off; pid {temp}/nginx.pid; error_log /dev/null;\n"
                f"worker_rlimit_nofile {NGINX_FILES};\n"
                f"events {{ worker_connections {NGINX_CONNECTIONS}; }}\n"
                f"http {{ access_log off; client_body_temp_path {temp}; proxy_temp_path {temp};\n"
                f"  fastcgi_temp_path {temp}; uwsgi_temp_path {temp}; scgi_temp_path {temp};\n"
                f"  server {{ listen 127.0.0.1:{self.port}; keepalive_requests 1000000;\n"
                f"    location / {{ default_type application/json; return 200 '{BODY}'; }} }} }}\n"
            )
            self.process = subprocess.Popen([*pin(0), nginx, "-c", str(conf)], text=True)
            self.name = "nginx"
        else:
            script = str(BENCH / "targets.py")
            self.process = subprocess.Popen(
                [*pin(0), sys.executable, script, self.kind, str(self.port), *self.extra],
                stdout=subprocess.PIPE,
                text=True,
            )
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


# --------------------------------------------------------------------------- yamlload


def write_plan(url: str, phase: str, flow: str, http: dict[str, Any]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-plan-"))
    plan = folder / "plan.yml"
    options = ", ".join(f"{key}: {value}" for key, value in http.items())
    plan.write_text(
        f"config:\n  target: {url.rstrip('/')}\n  http: {{{options}}}\n  phases: [{phase}]\n"
        f"scenarios:\n  - flow: {flow}\n"
    )
    return plan


def yamlload_plan(
    url: str, seconds: float, mode: str, transport: str, rate: float = FIXED_RATE
) -> Path:
    """max: USERS loop flat out. closed-rate: USERS paced to `rate` in all. open-rate: a
    new user, with its own new connection, per arrival. open-pooled: the same arrivals
    sharing USERS keep-alive connections."""
    http: dict[str, Any] = {"transport": transport}
    if mode in ("max", "closed-rate"):
        phase = f"{{duration: {seconds}, users: {USERS}}}"
    else:
        phase = f"{{duration: {seconds}, arrivalRate: {round(rate)}}}"
    if mode == "closed-rate":
        flow = f"[{{get: {{url: /}}}}, {{think: {USERS / rate}}}]"
    else:
        flow = "[{get: {url: /}}]"
    if mode == "open-pooled":
        http["pool"] = USERS
    return write_plan(url, phase, flow, http)


# The console header's last words: ", fast transport)" or ", aiohttp transport: why)".
TRANSPORT_RAN = re.compile(r"^Running .*?, (\w+) transport(?:: (.*))?\)\s*$", re.MULTILINE)


def run_plan(
    plan: Path,
    transport: str,
    scenario: str,
    seconds: float,
    command_prefix: list[str] | None = None,
    extra_args: list[str] | None = None,
) -> Measured:
    """Run `yamlload run` on a plan that asks for `transport`. A run that fell back to the
    other transport (its console header says which ran) gives a row with no figures."""
    report = plan.with_suffix(".json")
    prefix = pin(1) if command_prefix is None else command_prefix
    command = [
        *prefix,
        sys.executable,
        "-m",
        "yamlload",
        "run",
        str(plan),
        "-o",
        str(report),
        "--allow-lag",
        *(extra_args or []),
    ]
    output, _, cpu, rss = measure(command)
    tool = tool_name(transport)
    ran = TRANSPORT_RAN.search(output)
    if ran is None:
        return Measured(
            tool,
            scenario,
            note="not measured: no console header naming the "
            "transport: " + (output.strip().splitlines() or ["no output"])[-1][:120],
        )
    if ran.group(1) != transport:
        return Measured(
            tool,
            scenario,
            note=f"not measured: asked for {transport}, ran on "
            f"{ran.group(1)} ({ran.group(2) or 'no reason given'})",
        )
    aggregate = json.loads(report.read_text())["aggregate"]
    counters, summaries = aggregate["counters"], aggregate["summaries"]
    lag = summaries.get("yamlload.arrival_lag", {})
    errors = {k: v for k, v in counters.items() if k.startswith("errors.")}
    extra: dict[str, Any] = {"arrival_lag_p99_ms": lag.get("p99")}
    if errors:
        extra["errors"] = errors
    return Measured(
        tool,
        scenario,
        counters.get("http.responses", 0),
        seconds,
        cpu,
        rss,
        summaries.get("http.response_time", {}).get("median"),
        extra=extra,
    )


def run_yamlload(url: str, seconds: float, mode: str, transport: str, scenario: str) -> Measured:
    return run_plan(yamlload_plan(url, seconds, mode, transport), transport, scenario, seconds)


def run_watched(url: str, seconds: float) -> Measured:
    """The fast transport flat out while watched live: --dashboard with a page reading
    its events, and StatsD and JSON lines outputs (issue 16: under 3% of max
    throughput). The StatsD socket is bound and never read, as a busy agent's."""
    plan = yamlload_plan(url, seconds, "max", "fast")
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        args = [
            *("--dashboard", f"127.0.0.1:{port}"),
            *("--out", f"statsd=127.0.0.1:{statsd.getsockname()[1]}"),
            *("--out", f"jsonl={plan.parent / 'live.jsonl'}"),
        ]
        reader = threading.Thread(target=read_events, args=(port, seconds + 30), daemon=True)
        reader.start()
        measured = run_plan(plan, "fast", "max throughput", seconds, extra_args=args)
    measured.tool = WATCHED
    return measured


def read_events(port: int, give_up: float) -> None:
    """A page open on the dashboard: reads /events until the run ends."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/events", timeout=give_up) as page:
                while page.readline():
                    pass
            return
        except OSError:
            time.sleep(0.05)  # not started yet


def max_throughput(url: str, seconds: float, repeats: int) -> list[Measured]:
    """Both transports, the fast one watched live, and the bare loop flat out,
    interleaved (see `interleaved`)."""
    return interleaved(
        [
            *(
                lambda t=t: run_yamlload(url, seconds, "max", t, "max throughput")
                for t in TRANSPORTS
            ),
            lambda: run_watched(url, seconds),
            lambda: run_bare(url, seconds, None, "max throughput"),
        ],
        repeats,
        lambda m: m.rps,
        "{:,.0f} req/s",
    )


def slow_server_medians(url: str, seconds: float, repeats: int) -> list[Measured]:
    """Both transports and the bare loop against the 50 ms server, interleaved: the
    server's own latency drifts between runs by more than the 0.3 ms goal."""
    return interleaved(
        [
            *(lambda t=t: run_yamlload(url, seconds, "max", t, SLOW) for t in TRANSPORTS),
            lambda: run_bare(url, seconds, None, SLOW),
        ],
        repeats,
        lambda m: m.median_ms or 0.0,
        "{:.2f} ms",
    )


def interleaved(
    runners: list[Callable[[], Measured]],
    repeats: int,
    key: Callable[[Measured], float],
    unit: str,
) -> list[Measured]:
    """Each runner `repeats` times, round-robin; each reports its median run by `key`,
    so one noisy moment on a shared machine does not decide a ratio."""
    runs: list[list[Measured]] = [[] for _ in runners]
    for _ in range(repeats):
        for runner, done in zip(runners, runs, strict=True):
            done.append(runner())
    picked = []
    for done in runs:
        median = sorted(done, key=key)[len(done) // 2]
        if repeats > 1:
            median.note = "median of " + ", ".join(unit.format(key(m)) for m in done)
        picked.append(median)
    return picked


def run_startup(transport: str, tries: int = STARTUP_TRIES) -> tuple[Measured, float]:
    """Seconds from launching `yamlload run` to its first request reaching the target, the
    median of a few tries; and the median CPU of such a run (imports, the plan, a second
    of nearly idle running and the report), the fixed cost an estimate of the open
    model's maximum takes off.

    The plan's one user starts at t=0 (an arrivalRate of 1 would wait a second for its
    first arrival) and then thinks, so the run sends one or two requests.
    """
    seconds: list[float] = []
    cpus: list[float] = []
    for _ in range(tries):
        stamp = Path(tempfile.mkdtemp(prefix="yamlload-bench-stamp-")) / "first"
        with Target("stamp", [str(stamp)]) as target:
            plan = write_plan(
                target.url,
                "{duration: 1, users: 1}",
                "[{get: {url: /}}, {think: 1}]",
                {"transport": transport},
            )
            launched = time.time()
            output, _, cpu, _ = measure(
                [
                    *pin(1),
                    sys.executable,
                    "-m",
                    "yamlload",
                    "run",
                    str(plan),
                    "-o",
                    str(plan.with_suffix(".json")),
                ]
            )
            ran = TRANSPORT_RAN.search(output)
            if not stamp.exists() or not ran or ran.group(1) != transport:
                return Measured(
                    tool_name(transport), "start-up", note="not measured: " + output.strip()[-120:]
                ), 0.0
            seconds.append(float(stamp.read_text()) - launched)
            cpus.append(cpu)
    note = f"seconds to the first request, median of {tries}: " + ", ".join(
        f"{s:.3f}" for s in seconds
    )
    note += f"; CPU of the whole run {statistics.median(cpus):.2f} s"
    return Measured(
        tool_name(transport), "start-up", 0, statistics.median(seconds), note=note
    ), statistics.median(cpus)


def open_model_max(opened: Measured | None, fixed_cpu: float) -> float | None:
    """The open model's maximum rate on one core, estimated from the 1000 req/s open run:
    one CPU-second over the CPU per arrival once the fixed cost of a run is taken off."""
    if not opened or not opened.requests:
        return None
    steady = opened.cpu_seconds - fixed_cpu
    return opened.requests / steady if steady > 0 else None


def run_lag_at(url: str, transport: str, estimate: float, seconds: float) -> Measured:
    rate = round(min(LAG_SHARE * estimate, LAG_RATE_CAP))
    plan = yamlload_plan(url, seconds, "open-rate", transport, rate)
    scenario = f"open model at {LAG_SHARE:.0%} of its max"
    measured = run_plan(plan, transport, scenario, seconds)
    measured.note = "; ".join(
        part
        for part in (
            f"{rate}/s of an estimated max of {estimate:,.0f}/s"
            + (f" (capped at {LAG_RATE_CAP:,}/s)" if rate == LAG_RATE_CAP else ""),
            measured.note,
        )
        if part
    )
    return measured


def run_many_users(url: str, transport: str, users: int, seconds: float) -> Measured:
    plan = write_plan(
        url,
        f"{{duration: {seconds}, users: {users}, spawnRate: {users // 5}}}",
        "[{get: {url: /}}, {think: {min: 1, max: 5}}]",
        {"transport": transport, "timeout": 30},
    )
    measured = run_plan(plan, transport, f"{users:,} closed-model users", seconds)
    measured.median_ms = None
    return measured


def run_workers_curve(url: str, seconds: float) -> list[Measured]:
    """`--workers N` against one worker, N up to the cores left beside the target's. With
    the target holding one of two cores there is only one for the generator, so the rows
    say so rather than show a curve of workers fighting the target for a core."""
    cores = os.cpu_count() or 1
    spare = cores - 1 if two_cores() else 0
    tool = tool_name(TRANSPORTS[0])
    if spare < 2:
        why = f"not measurable here: {cores} cores and the target holds one"
        return [
            Measured(tool, f"max throughput, {n} worker{'s' if n > 1 else ''}", note=why)
            for n in (1, 2)
        ]
    out = []
    for workers in range(1, spare + 1):
        plan = yamlload_plan(url, seconds, "max", TRANSPORTS[0])
        scenario = f"max throughput, {workers} worker{'s' if workers > 1 else ''}"
        cores_used = ["taskset", "-c", f"1-{workers}"]
        out.append(
            run_plan(
                plan, TRANSPORTS[0], scenario, seconds, cores_used, ["--workers", str(workers)]
            )
        )
    return out


# --------------------------------------------------------------------------- where the time goes


def profile_hot_path(
    url: str, transport: str, mode: str, seconds: float, top: int = 15
) -> dict[str, Any]:
    """Where one request's CPU goes: yamlload under cProfile on the CPU clock
    (cpu_profile.py), on a plan of yamlload_plan's `mode`. Own time by layer and the
    costliest functions, and the share that imports took (start-up, which a short run
    feels). cProfile slows Python code more than C code, so read shares, not absolute
    times; a coroutine counts one call per resumption."""
    plan = yamlload_plan(url, seconds, mode, transport)
    stats_path, report = plan.with_suffix(".prof"), plan.with_suffix(".json")
    output, *_ = measure(
        [
            *pin(1),
            sys.executable,
            str(BENCH / "cpu_profile.py"),
            str(stats_path),
            "run",
            str(plan),
            "-o",
            str(report),
            "--allow-lag",
        ]
    )
    ran = TRANSPORT_RAN.search(output)
    if not ran or ran.group(1) != transport or not stats_path.exists():
        return {
            "transport": transport,
            "scenario": PROFILE_SCENARIOS[mode],
            "note": "not profiled: the run did not use this transport",
        }
    requests = json.loads(report.read_text())["aggregate"]["counters"].get("http.responses", 0) or 1
    raw: dict[Any, Any] = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    classify = layer_classifier()
    layers: dict[str, float] = {}
    ours: dict[str, float] = {}
    for (file, _line, name), entry in raw.items():
        layer = classify(file, name)
        layers[layer] = layers.get(layer, 0.0) + entry[2]
        if layer == "yamlload":
            part = yamlload_part(file)
            ours[part] = ours.get(part, 0.0) + entry[2]
    functions = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    # cProfile counts a recursive function's cumulative time once, at its outermost call.
    imports = sum(e[3] for (f, _, n), e in raw.items() if n == "_find_and_load" and "frozen" in f)

    def shares(spent: dict[str, float]) -> dict[str, float]:
        return {
            k: round(100 * v / total, 1) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])
        }

    return {
        "transport": transport,
        "scenario": PROFILE_SCENARIOS[mode],
        "requests": requests,
        "layers": shares(layers),
        "yamlload_parts": shares(ours),
        "imports_percent": round(100 * imports / total, 1),
        "functions": [
            {
                "function": f"{Path(file).name}:{line}({name})" if file != "~" else name,
                "layer": classify(file, name),
                "share_percent": round(100 * entry[2] / total, 1),
                "calls_per_request": round(entry[1] / requests, 2),
            }
            for (file, line, name), entry in functions
        ],
    }


# Packages by the layer they count to. aiohttp's own helpers count to it: they are the
# cost of using it.
LAYER_PACKAGES = {
    "yamlload": ("yamlload",),
    "aiohttp": (
        "aiohttp",
        "multidict",
        "yarl",
        "frozenlist",
        "propcache",
        "aiosignal",
        "aiohappyeyeballs",
        "async_timeout",
    ),
    "httptools": ("httptools",),
    "event loop": ("asyncio", "uvloop", "_asyncio", "selectors"),
}
STDLIB, BUILTINS, OTHER = "stdlib", "built-ins (dict, list, str...)", "other"
# A C function's name, as cProfile gives it: "<method 'feed_data' of
# 'httptools.parser.parser.HttpResponseParser' objects>", "<built-in method time.time>".
C_OWNER = re.compile(r"<(?:method '[^']+' of '([\w.]+)'|built-in method ([\w.]+)\.\w+)")


def layer_classifier() -> Callable[[str, str], str]:
    """Sorts a profiled function into a layer by where its file really is: each package's
    folder as this interpreter imports it (the one the profiled run used), the standard
    library's folder, else "other". Matching a path's words instead (`"/yamlload/" in
    path`) put all of aiohttp under yamlload whenever the virtualenv sat inside a checkout
    named yamlload; the longest folder that holds a file wins, so nesting cannot."""
    folders: list[tuple[str, str]] = []
    for layer, packages in LAYER_PACKAGES.items():
        for package in packages:
            spec = importlib.util.find_spec(package)
            if spec and spec.submodule_search_locations:
                folders += [
                    (os.path.realpath(f) + os.sep, layer) for f in spec.submodule_search_locations
                ]
            elif spec and spec.origin and spec.origin not in ("built-in", "frozen"):
                folders.append((os.path.realpath(spec.origin), layer))
    # The base interpreter's library, not a virtualenv's "platstdlib" (the venv's lib/,
    # which holds its site-packages). Site-packages folders count as "other": the base
    # interpreter's lies inside its standard library's folder, and the longer match wins.
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    stdlib = {os.path.dirname(os.__file__)}
    stdlib |= {sysconfig.get_paths(vars=base)[k] for k in ("stdlib", "platstdlib")}
    folders += [(os.path.realpath(folder) + os.sep, STDLIB) for folder in stdlib]
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    installed |= {p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")}
    folders += [(os.path.realpath(folder) + os.sep, OTHER) for folder in installed]
    folders.sort(key=lambda pair: -len(pair[0]))
    by_module = {
        package: layer for layer, packages in LAYER_PACKAGES.items() for package in packages
    }
    seen: dict[str, str] = {}

    def classify(file: str, name: str) -> str:
        if file == "~":
            owner = C_OWNER.match(name)
            module = (owner.group(1) or owner.group(2)) if owner else ""
            top = module.split(".")[0]
            if top in by_module:
                return by_module[top]
            if top in sys.stdlib_module_names and top != "builtins":
                return STDLIB
            return BUILTINS
        if file.startswith("<frozen "):
            return STDLIB
        if file not in seen:
            real = os.path.realpath(file)
            seen[file] = next(
                (layer for folder, layer in folders if real.startswith(folder)), OTHER
            )
        return seen[file]

    return classify


def yamlload_part(file: str) -> str:
    """yamlload's subpackage a file is in (runtime/http, metrics...), to say which part of
    yamlload's own time is the transport."""
    spec = importlib.util.find_spec("yamlload")
    root = Path(os.path.realpath((spec.submodule_search_locations or [""])[0])) if spec else Path()
    try:
        relative = Path(os.path.realpath(file)).relative_to(root)
    except ValueError:
        return "?"
    return str(relative.parent) if str(relative.parent) != "." else relative.name


# --------------------------------------------------------------------------- peers


def run_bare(url: str, seconds: float, rate: float | None, scenario: str) -> Measured:
    command = [
        *pin(1),
        sys.executable,
        str(BENCH / "bare.py"),
        url,
        "--users",
        str(USERS),
        "--seconds",
        str(seconds),
    ]
    if rate:
        command += ["--rate", str(rate)]
    output, _, cpu, rss = measure(command)
    data = json.loads(output.strip().splitlines()[-1])
    return Measured(BARE, scenario, data["requests"], data["seconds"], cpu, rss, data["median_ms"])


def run_bare_open(url: str, seconds: float, scenario: str) -> Measured:
    """The open model's floor (bare_open.py): what any client pays the kernel and the
    loop for a new connection per arrival, with nothing else done."""
    command = [*pin(1), sys.executable, str(BENCH / "bare_open.py"), url]
    output, _, cpu, rss = measure([*command, "--seconds", str(seconds), "--rate", str(FIXED_RATE)])
    data = json.loads(output.strip().splitlines()[-1])
    return Measured(
        BARE_OPEN, scenario, data["requests"], data["seconds"], cpu, rss, data["median_ms"]
    )


def skipped(tool: str, scenario: str, why: str) -> Measured:
    return Measured(tool, scenario, note=f"skipped: {why}")


def run_hey(url: str, seconds: float, rate: float | None, scenario: str) -> Measured:
    if not shutil.which("hey"):
        return skipped("hey", scenario, "not installed (apt-get install hey)")
    command = [*pin(1), "hey", "-z", f"{seconds}s", "-c", str(USERS)]
    if rate:
        command += ["-q", str(rate / USERS)]
    output, _, cpu, rss = measure([*command, url])
    total = re.search(r"\[200\]\s+(\d+) responses", output)
    median = re.search(r"50%+ in ([\d.]+) secs", output)
    return Measured(
        "hey",
        scenario,
        int(total.group(1)) if total else 0,
        seconds,
        cpu,
        rss,
        float(median.group(1)) * 1000 if median else None,
    )


def run_wrk(url: str, seconds: float, scenario: str) -> Measured:
    if not shutil.which("wrk"):
        return skipped("wrk", scenario, "not installed (apt-get install wrk)")
    output, _, cpu, rss = measure(
        [*pin(1), "wrk", "-t1", f"-c{USERS}", f"-d{int(seconds)}s", "--latency", url]
    )
    total = re.search(r"(\d+) requests in", output)
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return Measured(
        "wrk",
        scenario,
        int(total.group(1)) if total else 0,
        seconds,
        cpu,
        rss,
        float(median.group(1)) * scale[median.group(2)] if median else None,
    )


def locust_binary() -> str | None:
    found = shutil.which("locust")
    if found:
        return found
    candidate = LOCUST_VENV / "bin" / "locust"
    if not candidate.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_VENV)], check=True)
        pip = str(LOCUST_VENV / "bin" / "pip")
        if subprocess.run([pip, "install", "-q", "locust"], check=False).returncode != 0:
            return None
    return str(candidate)


def run_locust(url: str, seconds: float, rate: float | None, scenario: str) -> Measured:
    binary = locust_binary()
    if binary is None:
        return skipped(LOCUST, scenario, "pip install locust failed")
    prefix = Path(tempfile.mkdtemp(prefix="yamlload-bench-locust-")) / "stats"
    command = [
        *pin(1),
        binary,
        "-f",
        str(BENCH / "locustfile.py"),
        "--headless",
        "-u",
        str(USERS),
        "-r",
        str(USERS),
        "-t",
        f"{int(seconds)}s",
        "--host",
        url.rstrip("/"),
        "--only-summary",
        "--csv",
        str(prefix),
        "--loglevel",
        "WARNING",
    ]
    env = {"BENCH_USER_RATE": str(rate / USERS)} if rate else {}
    _, _, cpu, rss = measure(command, env)
    rows = Path(f"{prefix}_stats.csv").read_text().splitlines()
    header = rows[0].split(",")
    total = next(r.split(",") for r in rows[1:] if ",Aggregated," in r)
    requests = int(total[header.index("Request Count")])
    median = float(total[header.index("Median Response Time")])
    return Measured(LOCUST, scenario, requests, seconds, cpu, rss, median)


ARTILLERY_PREFIX = BENCH / ".peers" / "artillery"


def artillery_binary() -> str | None:
    found = shutil.which("artillery")
    candidate = ARTILLERY_PREFIX / "node_modules" / ".bin" / "artillery"
    return found or (str(candidate) if candidate.exists() else None)


def install_artillery() -> None:
    """npm install into bench/.peers when no `artillery` is on PATH (needs the registry, so
    it runs before the network namespace is entered). Playwright's browsers are not
    needed for HTTP."""
    if artillery_binary() or not shutil.which("npm"):
        return
    print("installing Artillery 2 into bench/.peers/artillery (a few minutes)", flush=True)
    subprocess.run(
        ["npm", "install", "--silent", "--prefix", str(ARTILLERY_PREFIX), "artillery@2"],
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        check=False,
    )


def run_artillery(url: str, seconds: float, mode: str, scenario: str) -> Measured:
    """Artillery 2 with the same load. It has no closed model, so USERS arrive at once and
    loop; the loop count is sized to last about `seconds` at the expected rate."""
    binary = artillery_binary()
    if binary is None:
        return skipped(
            ARTILLERY, scenario, "not installed (npm install -g artillery@2 failed or no npm)"
        )
    if not in_private_network():
        return skipped(
            ARTILLERY, scenario, "Artillery sends telemetry, and no network namespace was available"
        )
    target = url.rstrip("/")
    if mode == "open-rate":
        phase, flow = f"{{duration: {seconds}, arrivalRate: {FIXED_RATE}}}", "[{get: {url: /}}]"
    else:
        rate_per_user = {"max": 60, "closed-rate": FIXED_RATE / USERS, "slow": 20}[mode]
        think = f", {{think: {USERS / FIXED_RATE}}}" if mode == "closed-rate" else ""
        count = max(1, round(rate_per_user * seconds))
        phase = f"{{duration: 1, arrivalCount: {USERS}}}"
        flow = f"[{{loop: [{{get: {{url: /}}}}{think}], count: {count}}}]"
    folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-artillery-"))
    script, report = folder / "script.yml", folder / "report.json"
    script.write_text(
        f"config:\n  target: {target}\n  phases: [{phase}]\nscenarios:\n  - flow: {flow}\n"
    )
    output, wall, cpu, rss = measure(
        [*pin(1), binary, "run", "-q", str(script), "--output", str(report)],
        {"ARTILLERY_DISABLE_TELEMETRY": "true"},
        timeout=seconds * 20 + 120,
    )
    if not report.exists():
        last = output.strip().splitlines()[-1][:120] if output.strip() else ""
        return Measured(ARTILLERY, scenario, note=f"no report: {last}")
    aggregate = json.loads(report.read_text())["aggregate"]
    requests = aggregate["counters"].get("http.responses", 0)
    # Artillery's own start-up takes seconds; the rate is over the span it measured.
    span = (aggregate["lastCounterAt"] - aggregate["firstCounterAt"]) / 1000 or seconds
    median = aggregate["summaries"].get("http.response_time", {}).get("median")
    return Measured(
        ARTILLERY,
        scenario,
        requests,
        span,
        cpu,
        rss,
        median,
        note=f"{wall:.0f} s wall in all, start-up included in CPU",
    )


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
    command = [
        "unshare",
        "-n",
        "sh",
        "-c",
        'ip link set lo up && exec "$@"',
        "sh",
        sys.executable,
        *sys.argv,
    ]
    return subprocess.call(command, env={**os.environ, NETNS_FLAG: "1"})


# --------------------------------------------------------------------------- the suite

CLOSED, OPEN, POOLED = "1000 req/s closed", "1000 req/s open", "1000 req/s open, pooled"
SLOW = "median, 50 ms server"


def compile_sources() -> None:
    """Byte-compile yamlload, as installing its wheel does. An editable install writes
    its .pyc files at the first run, unless PYTHONDONTWRITEBYTECODE is set (as on some
    CI machines): then every run would compile its sources again, 0.08 CPU-s of the
    start-up rows that no installed copy pays."""
    package = BENCH.parent / "yamlload"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def suite(quick: bool) -> list[Measured]:
    seconds = QUICK_SECONDS if quick else SECONDS
    compile_sources()
    results: list[Measured] = []
    with Target("fast") as target:
        url = target.url
        print(f"target: {target.name} at {url}", flush=True)
        results.extend(max_throughput(url, seconds, 1 if quick else 3))
        if quick:
            return report_rows(results)
        results += [
            run_locust(url, seconds, None, "max throughput"),
            run_artillery(url, seconds, "max", "max throughput"),
            run_hey(url, seconds, None, "max throughput"),
            run_wrk(url, seconds, "max throughput"),
        ]
        for transport in TRANSPORTS:
            results.append(run_yamlload(url, seconds, "closed-rate", transport, CLOSED))
        results += [
            run_bare(url, seconds, FIXED_RATE, CLOSED),
            run_locust(url, seconds, FIXED_RATE, CLOSED),
            run_hey(url, seconds, FIXED_RATE, CLOSED),
            run_artillery(url, seconds, "closed-rate", CLOSED),
        ]
        for transport in TRANSPORTS:
            results.append(run_yamlload(url, seconds, "open-rate", transport, OPEN))
        results.append(run_bare_open(url, seconds, OPEN))
        results.append(run_artillery(url, seconds, "open-rate", OPEN))
        for transport in TRANSPORTS:
            results.append(run_yamlload(url, seconds, "open-pooled", transport, POOLED))
    fixed_cpu: dict[str, float] = {}
    for transport in TRANSPORTS:
        startup, fixed_cpu[transport] = run_startup(transport)
        results.append(startup)
    with Target("fast") as target:
        for transport in TRANSPORTS:
            estimate = open_model_max(
                find(results, tool_name(transport), OPEN), fixed_cpu[transport]
            )
            if estimate:
                results.append(run_lag_at(target.url, transport, estimate, seconds))
        for transport in TRANSPORTS:
            results.append(run_many_users(target.url, transport, MANY_USERS, MANY_USERS_SECONDS))
        results.extend(run_workers_curve(target.url, seconds))
    with Target("slow") as target:
        url = target.url
        results.extend(slow_server_medians(url, SLOW_SECONDS, 3))
        results += [
            run_locust(url, SLOW_SECONDS, None, SLOW),
            run_artillery(url, SLOW_SECONDS, "slow", SLOW),
            run_hey(url, SLOW_SECONDS, None, SLOW),
            run_wrk(url, SLOW_SECONDS, SLOW),
        ]
    return report_rows(results)


def report_rows(results: list[Measured]) -> list[Measured]:
    for m in results:
        print(
            f"{m.scenario:34} {m.tool:20} {m.rps:10.0f} req/s  "
            f"cpu/10k {m.cpu_per_10k or 0:6.2f} s  rss {m.peak_rss_mb:6.1f} MB  "
            f"median {m.median_ms or 0:7.2f} ms {m.extra or ''} {m.note}",
            flush=True,
        )
    return results


def find(results: list[Measured], tool: str, scenario: str) -> Measured | None:
    return next(
        (m for m in results if m.tool == tool and m.scenario == scenario and m.requests), None
    )


def ratios(results: list[Measured]) -> dict[str, float]:
    """Every figure the goals read, keyed by name; a tool's name is in each key."""
    out: dict[str, float] = {}

    def put(name: str, value: float | None, digits: int = 3) -> None:
        if value is not None and value == value:
            out[name] = round(value, digits)

    for transport in TRANSPORTS:
        tool = tool_name(transport)
        mine = find(results, tool, "max throughput")
        for peer in (
            BARE,
            LOCUST,
            ARTILLERY,
            "hey",
            "wrk",
            *(tool_name(t) for t in TRANSPORTS if t != transport),
        ):
            other = find(results, peer, "max throughput")
            if mine and other and other.rps:
                put(f"max throughput, {tool} vs {peer}", mine.rps / other.rps)
        watched = find(results, WATCHED, "max throughput")
        if mine and watched and mine.rps and watched.rps:
            put(f"max throughput, {WATCHED} vs {tool}", watched.rps / mine.rps)
        closed = find(results, tool, CLOSED)
        for peer in (LOCUST, BARE, "hey", ARTILLERY):
            other = find(results, peer, CLOSED)
            if closed and other and closed.cpu_per_10k and other.cpu_per_10k:
                put(
                    f"CPU per request ({CLOSED}), {tool} vs {peer}",
                    closed.cpu_per_10k / other.cpu_per_10k,
                )
        for scenario in (OPEN, POOLED):
            ours = find(results, tool, scenario)
            if ours and closed and ours.cpu_per_10k and closed.cpu_per_10k:
                put(
                    f"CPU per request ({scenario}), {tool} vs its own closed model",
                    ours.cpu_per_10k / closed.cpu_per_10k,
                )
            floor = find(results, BARE_OPEN, OPEN)
            if scenario == OPEN and ours and floor and ours.cpu_per_10k and floor.cpu_per_10k:
                put(
                    f"CPU per request ({scenario}), {tool} vs {BARE_OPEN}",
                    ours.cpu_per_10k / floor.cpu_per_10k,
                )
            other = find(results, ARTILLERY, OPEN)
            if ours and other and ours.cpu_per_10k and other.cpu_per_10k:
                put(
                    f"CPU per request ({scenario}), {tool} vs {ARTILLERY}'s open model",
                    ours.cpu_per_10k / other.cpu_per_10k,
                )
        at_rate = [
            m.peak_rss_mb
            for m in results
            if m.tool == tool and m.scenario.startswith("1000 req/s") and m.requests
        ]
        if at_rate:
            put(f"peak RSS (MB) at 1000 req/s, {tool}", max(at_rate), 1)
        lag = next(
            (m for m in results if m.tool == tool and m.scenario.startswith("open model at")), None
        )
        if lag and lag.extra.get("arrival_lag_p99_ms") is not None:
            put(
                f"arrival lag p99 (ms) at {LAG_SHARE:.0%} of the open model's max, {tool}",
                lag.extra["arrival_lag_p99_ms"],
            )
        many = find(results, tool, f"{MANY_USERS:,} closed-model users")
        if many:
            put(f"peak RSS (MB), {MANY_USERS:,} closed-model users, {tool}", many.peak_rss_mb, 1)
        startup = next(
            (m for m in results if m.tool == tool and m.scenario == "start-up" and m.seconds), None
        )
        if startup:
            put(f"seconds to the first request, {tool}", startup.seconds)
        slow, bare = find(results, tool, SLOW), find(results, BARE, SLOW)
        if slow and bare and slow.median_ms is not None and bare.median_ms is not None:
            put(
                f"median above the bare loop (ms), 50 ms server, {tool}",
                slow.median_ms - bare.median_ms,
            )
    curve = [m for m in results if m.scenario.startswith("max throughput, ") and m.requests]
    if len(curve) > 1 and curve[0].rps:
        for m in curve[1:]:
            put(f"{m.scenario} / 1 worker", m.rps / curve[0].rps)
    return out


@dataclass(frozen=True)
class Goal:
    text: str
    ratio: str  # a key of ratios(), "{tool}" standing for the transport's tool name
    op: str
    limit: float
    stretch: float | None = None


# Issue 15's goals, judged on the fast transport (the default).
GOALS = [
    Goal(
        "max req/s of one process ≥ 3× the bare aiohttp loop (stretch 4×)",
        f"max throughput, {{tool}} vs {BARE}",
        ">=",
        3.0,
        4.0,
    ),
    Goal(
        "max req/s of one process ≥ 3× Locust FastHttpUser",
        f"max throughput, {{tool}} vs {LOCUST}",
        ">=",
        3.0,
    ),
    Goal(
        "CPU per request at 1000 req/s closed ≤ 0.35× Locust FastHttpUser",
        f"CPU per request ({CLOSED}), {{tool}} vs {LOCUST}",
        "<=",
        0.35,
    ),
    Goal(
        "open model (a new connection per user) ≤ 2× its own closed-model CPU per request",
        f"CPU per request ({OPEN}), {{tool}} vs its own closed model",
        "<=",
        2.0,
    ),
    Goal(
        f"arrival lag p99 < 2 ms at {LAG_SHARE:.0%} of the open model's max (ms)",
        f"arrival lag p99 (ms) at {LAG_SHARE:.0%} of the open model's max, {{tool}}",
        "<",
        2.0,
    ),
    Goal(
        f"{MANY_USERS:,} closed-model users in ≤ 250 MB",
        f"peak RSS (MB), {MANY_USERS:,} closed-model users, {{tool}}",
        "<=",
        250.0,
    ),
    Goal("RSS ≤ 60 MB at 1000 req/s", "peak RSS (MB) at 1000 req/s, {tool}", "<=", 60.0),
    Goal(
        "watched live (a dashboard page, StatsD, JSON lines) ≥ 97% of max throughput (issue 16)",
        f"max throughput, {WATCHED} vs {{tool}}",
        ">=",
        0.97,
    ),
    Goal(
        "first request ≤ 0.5 s after start (s)", "seconds to the first request, {tool}", "<=", 0.5
    ),
    Goal(
        "median for a 50 ms server within 0.3 ms of the bare loop (ms above it)",
        "median above the bare loop (ms), 50 ms server, {tool}",
        "<=",
        0.3,
    ),
]
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda v, limit: v >= limit,
    "<=": lambda v, limit: v <= limit,
    "<": lambda v, limit: v < limit,
}


def judge(computed: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    judged, beside = (tool_name(t) for t in TRANSPORTS)
    for goal in GOALS:
        value = computed.get(goal.ratio.format(tool=judged))
        if value is None:
            verdict = "not measured"
        elif not OPS[goal.op](value, goal.limit):
            verdict = "missed"
        elif goal.stretch is not None and OPS[goal.op](value, goal.stretch):
            verdict = "met, stretch too"
        else:
            verdict = "met"
        rows.append(
            {
                "goal": goal.text,
                judged: value,
                "verdict": verdict,
                beside: computed.get(goal.ratio.format(tool=beside)),
            }
        )
    curve = [
        name
        for name in computed
        if name.startswith("max throughput, ") and name.endswith("/ 1 worker")
    ]
    for name in curve:
        workers = int(name.split(", ")[1].split()[0])
        value = computed[name]
        rows.append(
            {
                "goal": f"{name} ≥ {0.9 * workers:.1f}",
                judged: value,
                "verdict": "met" if value >= 0.9 * workers else "missed",
                beside: None,
            }
        )
    if not curve:
        rows.append(
            {
                "goal": "--workers N ≈ N × one process",
                judged: None,
                "verdict": "not measurable here (the target holds one of the cores)",
                beside: None,
            }
        )
    return rows


def git_head() -> str:
    done = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def figure(value: float, digits: int = 0, shown: bool = True) -> str:
    return f"{value:,.{digits}f}" if shown else "–"


def write(
    results: list[Measured],
    computed: dict[str, float],
    profiles: list[dict[str, Any]],
    quick: bool,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M%S") + ("-quick" if quick else "")
    goals = judge(computed)
    data = {
        "date": stamp,
        "quick": quick,
        "cores": os.cpu_count(),
        "commit": git_head(),
        "load_average": {"start": load[0], "end": load[1]},
        "results": [{**asdict(m), "rps": m.rps, "cpu_per_10k": m.cpu_per_10k} for m in results],
        "ratios": computed,
        "goals": goals,
        "profiles": profiles,
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(data, indent=1))
    judged, beside = (tool_name(t) for t in TRANSPORTS)
    lines = [
        f"# Benchmark {stamp}",
        "",
        f"{os.cpu_count()} cores; target on core 0, generator on core 1; {USERS} users; yamlload "
        f"at {data['commit']}. Load average at start {load[0][0]:.2f}, at end {load[1][0]:.2f} "
        "(other work on the machine shows there).",
        "",
        "| scenario | tool | req/s | CPU-s per 10k req | peak RSS MB | median ms | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for m in results:
        notes = "; ".join(
            part
            for part in (", ".join(f"{k} {v}" for k, v in m.extra.items() if v is not None), m.note)
            if part
        )
        lines.append(
            f"| {m.scenario} | {m.tool} | {figure(m.rps, 0, bool(m.requests))} | "
            f"{figure(m.cpu_per_10k or 0, 2, bool(m.requests))} | "
            f"{figure(m.peak_rss_mb, 1, bool(m.peak_rss_mb))} | "
            f"{figure(m.median_ms or 0, 2, m.median_ms is not None)} | {notes} |"
        )
    lines += ["", "| ratio | value |", "|---|---:|"] + [
        f"| {k} | {v} |" for k, v in computed.items()
    ]
    lines += [
        "",
        "## Goals (issue 15)",
        "",
        f"Judged on {judged}; {beside} beside.",
        "",
        f"| goal | {judged} | verdict | {beside} |",
        "|---|---:|---|---:|",
    ]
    for row in goals:
        shown = ["–" if row[t] is None else str(row[t]) for t in (judged, beside)]
        lines.append(f"| {row['goal']} | {shown[0]} | {row['verdict']} | {shown[1]} |")
    for profile in profiles:
        lines += profile_lines(profile)
    path = RESULTS / f"{stamp}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def profile_lines(profile: dict[str, Any]) -> list[str]:
    title = (
        f"## Where the time goes: {tool_name(profile['transport'])}, {profile['scenario']} "
        "(cProfile)"
    )
    if "layers" not in profile:
        return ["", title, "", profile.get("note", "")]
    lines = [
        "",
        title,
        "",
        f"{profile['requests']:,} requests. Own CPU time by layer, as a share of all profiled"
        f" CPU time; imports (start-up) took {profile['imports_percent']}% of it:",
        "",
        "| layer | share % |",
        "|---|---:|",
    ] + [f"| {k} | {v} |" for k, v in profile["layers"].items()]
    lines += ["", "yamlload's share by its subpackage:", "", "| part | share % |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in profile["yamlload_parts"].items() if v]
    lines += [
        "",
        "The costliest functions (a coroutine counts a call per resumption). cProfile does",
        "not see into uvloop's and httptools' compiled methods: a socket write is in the",
        "own time of the Python function that calls `transport.write`, the parser in",
        "`data_received`'s, the loop's polling and reads in `runners.run`'s.",
        "",
        "| function | layer | share % | calls per request |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| `{row['function']}` | {row['layer']} | {row['share_percent']} | "
        f"{row['calls_per_request']} |"
        for row in profile["functions"]
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run: both transports and the bare loop"
    )
    args = parser.parse_args()
    if not args.quick:
        locust_binary()  # installs need the registry: before the private network
        install_artillery()
        code = rerun_in_private_network()
        if code is not None:
            return code
    load_at_start = os.getloadavg()
    results = suite(args.quick)
    computed = ratios(results)
    profiles = []
    with Target("fast") as target:
        for transport, mode in PROFILED_QUICK if args.quick else PROFILED:
            seconds = QUICK_PROFILE_SECONDS if args.quick else PROFILE_SECONDS
            profiles.append(profile_hot_path(target.url, transport, mode, seconds))
    path = write(results, computed, profiles, args.quick, (load_at_start, os.getloadavg()))
    print(f"results: {path}")
    # The smoke check: each transport ran, and the ratios exist and are finite. Never a
    # wall-clock assertion.
    ran = all(find(results, tool_name(t), "max throughput") for t in TRANSPORTS)
    ok = ran and bool(computed) and all(abs(v) != float("inf") for v in computed.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
