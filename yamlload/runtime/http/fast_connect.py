"""Opening a connection of the fast transport (fast_transport.py): the TCP connect,
bounded by the request's deadline, with errors named as Node names them."""

from __future__ import annotations

import asyncio
import socket
import time

from ..log import exception_text
from .errors import errno_code
from .fast_response import RESET, TIMED_OUT, Reply, ResponseProtocol


async def open_connection(origin: tuple[str, int], deadline: float) -> ResponseProtocol | Reply:
    """A new connection, or the Reply that says why there is none."""
    loop = asyncio.get_running_loop()
    try:
        # wait_for's cost is paid once per connection, not per request.
        _, conn = await asyncio.wait_for(
            loop.create_connection(ResponseProtocol, *origin),
            max(deadline - time.perf_counter(), 0.0),
        )
    except asyncio.TimeoutError:
        return Reply(error=TIMED_OUT, detail="connecting took too long")
    except socket.gaierror as exc:
        return Reply(error="ENOTFOUND", detail=f"{origin[0]}: {exc}")
    except OSError as exc:
        return Reply(error=errno_code(exc.errno) or RESET, detail=exception_text(exc))
    sock = conn.transport.get_extra_info("socket") if conn.transport else None
    if sock is not None:  # small requests go at once, not after Nagle's wait
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn
