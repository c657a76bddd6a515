"""The bundled demo API (aiohttp.web, in memory) for `--demo-target`, tests and benchmarks.

A small shop: log in for a token, list and search products, order them. Stock is
decremented without awaiting in between, so concurrent orders can never oversell: the
last-item race plan must see exactly as many 201s as there was stock, and 409 after.
`racy=True` (`yamlload target --racy`) makes the bug that plan exists to catch: an
order reads the stock, awaits (a database round trip, say), then writes it back.
Test endpoints answer with a delay, a status code or a body size on request.

Two WebSocket routes (issue 19): /ws/echo sends every message back as it came, and
/ws/chat/{room} is a chat room: a member is told it joined, and every message a member
sends goes to every member of the room, its sender too, as JSON.

`/work` has a known capacity (issue 22, docs/limits.md): WORKERS workers, each busy
WORK_MS per request, serve WORKERS × 1000 / WORK_MS requests a second; beyond that the
requests queue and their latency grows without bound.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PRODUCT_COUNT = 20
INITIAL_STOCK = 1000
DEMO_PASSWORD = "demo"
MAX_DELAY_MS = 60_000
MAX_BYTES = 50 * 1024 * 1024
# /work's workers and how long each request holds one: capacity 4 × 1000 / 20 = 200/s.
WORKERS = 4
WORK_MS = 20.0
# The racy shop's pretend round trip between reading the stock and writing it back.
RACY_PAUSE_SECONDS = 0.005
_NAMES = ("lamp", "chair", "desk", "sofa", "shelf", "rug", "mirror", "clock", "vase", "bed")


@dataclass
class Shop:
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    racy: bool = False

    def reset(self, stock: dict[int, int] | None = None) -> None:
        self.products = {
            i: {
                "id": i,
                "name": f"{_NAMES[(i - 1) % len(_NAMES)]} {i}",
                "price": round(9.99 + i * 3.5, 2),
                "stock": INITIAL_STOCK,
            }
            for i in range(1, PRODUCT_COUNT + 1)
        }
        for product_id, amount in (stock or {}).items():
            if product_id in self.products:
                self.products[product_id]["stock"] = amount
        self.orders.clear()
        self.order_ids = itertools.count(1)


SHOP = web.AppKey("shop", Shop)
# The chat rooms' members, by room name.
ROOMS = web.AppKey("rooms", dict)
# WebSocket subprotocols the demo's routes accept (a client may offer others too).
WS_PROTOCOLS = ("json", "chat")
# A room fuller than this turns new members away (close code 1013, try again later).
MAX_ROOM_MEMBERS = 10_000
# A chat member that cannot take a message within this long (it never reads) is dropped.
SEND_TIMEOUT_SECONDS = 5.0
ROOM_FULL = 1013
_member_ids = itertools.count(1)


@dataclass
class Workers:
    """/work's pool: `count` workers, each held `work_ms` per request."""

    count: int = WORKERS
    work_ms: float = WORK_MS
    pool: asyncio.Semaphore | None = None  # made on the serving loop, at the first request

    @property
    def capacity(self) -> float:
        """Requests a second the pool serves at most."""
        return self.count * 1000.0 / self.work_ms


WORK = web.AppKey("work", Workers)
# Requests answered, by method, route and status: served at /metrics (issue 17's example).
REQUEST_COUNTS = web.AppKey("request_counts", dict)


@web.middleware
async def count_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """Counts every answer, errors too, under the route it matched (not the raw path, so
    /products/1 and /products/2 are one series, as a real service labels them)."""
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        key = (request.method, route, str(status))
        counts = request.app[REQUEST_COUNTS]
        counts[key] = counts.get(key, 0) + 1


async def metrics(request: web.Request) -> web.Response:
    """The demo target's own process metrics and request counter in Prometheus text, so
    that plans/monitored.yml runs offline."""
    import psutil  # only when scraped

    process = psutil.Process()
    cpu = process.cpu_times()
    lines = [
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
        "# TYPE process_cpu_seconds_total counter",
        f"process_cpu_seconds_total {cpu.user + cpu.system}",
        "# HELP process_resident_memory_bytes Resident memory size in bytes.",
        "# TYPE process_resident_memory_bytes gauge",
        f"process_resident_memory_bytes {process.memory_info().rss}",
        "# HELP demo_http_requests_total Requests answered, by method, route and status.",
        "# TYPE demo_http_requests_total counter",
    ]
    for (method, route, code), n in sorted(request.app[REQUEST_COUNTS].items()):
        labels = f'method="{method}",route="{_label(route)}",code="{code}"'
        lines.append(f"demo_http_requests_total{{{labels}}} {n}")
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def _label(value: str) -> str:
    """A label value escaped as the text format wants it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda d: json.dumps(d, separators=(",", ":"))
    )


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _user(request: web.Request) -> str | None:
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    return request.app[SHOP].tokens.get(token)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def login(request: web.Request) -> web.Response:
    data = await _body(request)
    username = str(data.get("username") or "")
    if not username or data.get("password") != DEMO_PASSWORD:
        return _json({"error": "bad username or password"}, 401)
    token = secrets.token_hex(16)
    request.app[SHOP].tokens[token] = username
    return _json({"token": token, "username": username})


async def products(request: web.Request) -> web.Response:
    return _json(list(request.app[SHOP].products.values()))


async def product(request: web.Request) -> web.Response:
    found = request.app[SHOP].products.get(_int(request.match_info["id"]) or -1)
    return _json(found) if found else _json({"error": "no such product"}, 404)


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "").lower()
    hits = [p for p in request.app[SHOP].products.values() if query in p["name"]]
    return _json({"query": query, "results": hits})


async def create_order(request: web.Request) -> web.Response:
    username = _user(request)
    if username is None:
        return _json({"error": "log in first"}, 401)
    data = await _body(request)
    product_id, quantity = _int(data.get("productId")), _int(data.get("quantity", 1))
    if product_id is None or quantity is None or quantity < 1:
        return _json({"error": "productId and a positive quantity are required"}, 400)
    shop = request.app[SHOP]
    item = shop.products.get(product_id)
    if item is None:
        return _json({"error": "no such product"}, 404)
    # No await between the check and the decrement: orders cannot oversell.
    stock = item["stock"]
    if stock < quantity:
        return _json({"error": "sold out", "productId": product_id}, 409)
    if shop.racy:  # the bug: others read the same stock meanwhile, and all sell it
        await asyncio.sleep(RACY_PAUSE_SECONDS)
        item["stock"] = stock - quantity
    else:
        item["stock"] -= quantity
    order_id = next(shop.order_ids)
    order = {"id": order_id, "productId": product_id, "quantity": quantity, "username": username}
    shop.orders[order_id] = order
    return _json(order, 201)


async def get_order(request: web.Request) -> web.Response:
    found = request.app[SHOP].orders.get(_int(request.match_info["id"]) or -1)
    return _json(found) if found else _json({"error": "no such order"}, 404)


async def reset(request: web.Request) -> web.Response:
    data = await _body(request)
    stock = {}
    for entry in data.get("products", []) if isinstance(data.get("products"), list) else []:
        if (
            isinstance(entry, dict)
            and _int(entry.get("id")) is not None
            and _int(entry.get("stock")) is not None
        ):
            stock[int(entry["id"])] = int(entry["stock"])
    request.app[SHOP].reset(stock)
    return _json({"reset": True, "stock": stock})


async def delay(request: web.Request) -> web.Response:
    millis = min(max(_int(request.match_info["ms"]) or 0, 0), MAX_DELAY_MS)
    await asyncio.sleep(millis / 1000)
    return _json({"delayed": millis})


async def work(request: web.Request) -> web.Response:
    """A request that waits for one of the workers, then holds it WORK_MS."""
    workers = request.app[WORK]
    if workers.pool is None:
        workers.pool = asyncio.Semaphore(workers.count)
    async with workers.pool:
        await asyncio.sleep(workers.work_ms / 1000)
    return _json({"worked_ms": workers.work_ms, "capacity": workers.capacity})


async def status(request: web.Request) -> web.Response:
    code = _int(request.match_info["code"]) or 500
    if not 200 <= code <= 599:
        code = 400
    return _json({"status": code}, code)


async def sized(request: web.Request) -> web.Response:
    size = min(max(_int(request.match_info["n"]) or 0, 0), MAX_BYTES)
    return web.Response(body=b"x" * size, content_type="application/octet-stream")


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return _json(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "cookies": dict(request.cookies),
            "body": body.decode("utf-8", "replace"),
        }
    )


async def set_cookie(request: web.Request) -> web.Response:
    response = _json({"set": dict(request.query)})
    for name, value in request.query.items():
        response.set_cookie(name, value)
    return response


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    """Every message back, as it came (text as text, bytes as bytes)."""
    ws = web.WebSocketResponse(protocols=WS_PROTOCOLS)
    await ws.prepare(request)
    async for message in ws:
        if message.type == web.WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == web.WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def ws_chat(request: web.Request) -> web.WebSocketResponse:
    """A chat room: `{"type": "joined", ...}` to the new member, then each message a
    member sends to every member as `{"type": "message", "from": ID, "text": ...}`."""
    ws = web.WebSocketResponse(protocols=WS_PROTOCOLS)
    await ws.prepare(request)
    room_name = request.match_info["room"]
    room: set[web.WebSocketResponse] = request.app[ROOMS].setdefault(room_name, set())
    if len(room) >= MAX_ROOM_MEMBERS:
        await ws.close(code=ROOM_FULL, message=b"room full")
        return ws
    member = next(_member_ids)
    room.add(ws)
    try:
        joined = {"type": "joined", "room": room_name, "id": member, "members": len(room)}
        await ws.send_str(json.dumps(joined))
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                said = {"type": "message", "from": member, "text": message.data}
                await _broadcast(room, json.dumps(said))
    finally:
        room.discard(ws)
        if not room:
            request.app[ROOMS].pop(room_name, None)
    return ws


async def _broadcast(room: set[web.WebSocketResponse], text: str) -> None:
    """Say `text` to every member at once: a member that cannot take it within
    SEND_TIMEOUT_SECONDS (it never reads) is dropped, never stalling its room."""
    members = [m for m in room if not m.closed]
    sent = await asyncio.gather(
        *(asyncio.wait_for(m.send_str(text), SEND_TIMEOUT_SECONDS) for m in members),
        return_exceptions=True,
    )
    for member, outcome in zip(members, sent, strict=True):
        if isinstance(outcome, asyncio.TimeoutError | ConnectionError | RuntimeError):
            room.discard(member)  # gone, or not keeping up; its own handler ends it
            if isinstance(outcome, asyncio.TimeoutError):
                _drop(member)
        elif isinstance(outcome, BaseException):
            raise outcome


def _drop(member: web.WebSocketResponse) -> None:
    """End a member that does not read: its connection aborted, no close handshake."""
    transport = member._req.transport if member._req is not None else None
    if transport is not None:
        transport.abort()


def make_app(racy: bool = False, workers: Workers | None = None) -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024, middlewares=[count_requests])
    shop = Shop(racy=racy)
    shop.reset()
    app[SHOP] = shop
    app[WORK] = workers or Workers()
    app[REQUEST_COUNTS] = {}
    app[ROOMS] = {}
    app.add_routes(
        [
            web.get("/health", health),
            web.get("/metrics", metrics),
            web.post("/auth/login", login),
            web.get("/products", products),
            web.get("/products/{id}", product),
            web.get("/search", search),
            web.post("/orders", create_order),
            web.get("/orders/{id}", get_order),
            web.post("/admin/reset", reset),
            web.get("/delay/{ms}", delay),
            web.get("/work", work),
            web.route("*", "/status/{code}", status),
            web.get("/bytes/{n}", sized),
            web.route("*", "/echo", echo),
            web.get("/cookies/set", set_cookie),
            web.get("/ws/echo", ws_echo),
            web.get("/ws/chat/{room}", ws_chat),
        ]
    )
    return app


async def start_demo_target(
    host: str = "127.0.0.1", port: int = 0, racy: bool = False, workers: Workers | None = None
) -> tuple[web.AppRunner, str]:
    """Start the demo API on this event loop; returns the runner and its base URL."""
    runner = web.AppRunner(make_app(racy, workers), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}"


# How often a demo target started for one run checks that the run is still there: a
# run killed outright (SIGKILL) cannot stop it, so it stops itself within this.
PARENT_POLL_SECONDS = 0.5


async def parent_gone(parent_pid: int) -> None:
    """Return once the process `parent_pid` is no longer this one's parent: it exited or
    was killed, and this process was handed to init (or a subreaper). Polling works
    wherever Python does, unlike Linux's PR_SET_PDEATHSIG, and a lost parent is noticed
    even if it died before this started watching."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(PARENT_POLL_SECONDS)
