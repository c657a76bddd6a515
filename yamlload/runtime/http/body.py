"""Keeping a response's body as it arrives: counted chunk by chunk, never holding more
than a request reads. Transport-neutral: each transport feeds it the decoded chunks."""

from __future__ import annotations

from typing import TypeAlias

from ..log import HEAD_BYTES

# Bodies of a known length up to this size, not compressed, are read in one call: the
# common case, and the fastest. Anything else is streamed and counted chunk by chunk.
READ_WHOLE_BYTES = 64 * 1024

# What a transport hands back for a body: the body while it fits in `keep` (None past
# it; b"" when keep=0), its size, and its first HEAD_BYTES (a printed failure shows them).
BodyRead: TypeAlias = tuple[bytes | None, int, bytes]


class BodySink:
    """The chunks of one body, kept while they fit in `keep` bytes.

    Nothing more is held that no one reads: with keep=0 the chunks are counted and
    dropped, so a 100 MB (or a decompression bomb's 10 GB) body costs no memory."""

    __slots__ = ("head", "keep", "kept", "size")

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.kept: bytearray | None = bytearray() if keep else None
        self.head = b""
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        size = self.size
        if size < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - size]
        size = self.size = size + len(chunk)
        if self.kept is not None:
            if size > self.keep:
                self.kept = None
            else:
                self.kept += chunk

    def result(self) -> BodyRead:
        if not self.keep:
            return b"", self.size, self.head
        return (bytes(self.kept) if self.kept is not None else None), self.size, self.head


def whole_body(body: bytes, keep: int) -> BodyRead:
    """A body read in one piece, as BodySink would keep it."""
    head = body[:HEAD_BYTES]
    if not keep:
        return b"", len(body), head
    return (body if len(body) <= keep else None), len(body), head
