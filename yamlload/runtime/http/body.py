"""Reading a response's body: whole when it is small and plain, else streamed and
counted chunk by chunk, never holding more than a request reads."""

from __future__ import annotations

import aiohttp

from ..log import HEAD_BYTES

# Bodies of a known length up to this size, not compressed, are read in one call: the
# common case, and the fastest. Anything else is streamed and counted chunk by chunk.
READ_WHOLE_BYTES = 64 * 1024


async def read_body(response: aiohttp.ClientResponse, keep: int) -> tuple[bytes | None, int, bytes]:
    """A body's size, the body itself while it fits in `keep` bytes (None past it), and
    its first HEAD_BYTES, which a printed failure shows.

    Nothing more is held that no one reads: with keep=0 the chunks are counted and
    dropped, so a 100 MB (or a decompression bomb's 10 GB) body costs no memory."""
    length = response.content_length
    if (
        length is not None
        and length <= max(keep, READ_WHOLE_BYTES)
        and response.headers.get("content-encoding", "identity") == "identity"
    ):
        body = await response.read()
        head = body[:HEAD_BYTES]
        if not keep:
            return b"", len(body), head
        return (body if len(body) <= keep else None), len(body), head
    kept: bytearray | None = bytearray() if keep else None
    head = b""
    size = 0
    async for chunk in response.content.iter_any():
        if size < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - size]
        size += len(chunk)
        if kept is not None:
            if size > keep:
                kept = None
            else:
                kept += chunk
    if not keep:
        return b"", size, head
    return (bytes(kept) if kept is not None else None), size, head
