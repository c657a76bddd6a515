"""Input files a plan reads (the plan, --config, --dotenv, payloads, the processor,
uploads): which folders they must be in, and reading them with bounds.

A path is confined with its symlinks resolved, and a file is opened only when it is a
regular file (never a device or a FIFO), then read no further than its limit.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable

MAX_PLAN_BYTES = 10 * 1024 * 1024
# A payload CSV is held compactly (about its own size in memory); beyond this, refused.
MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024


class NotRegularFileError(OSError):
    """A path that names a device, a FIFO, a socket or a folder: never read."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", path)


class FileTooLargeError(OSError):
    """A file over the limit its reader allows, refused before it is read."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit:,} bytes", path)
        self.limit = limit


def open_regular(path: str | os.PathLike[str]) -> int:
    """A descriptor for `path` when it is a regular file (checked on the open file, so
    nothing can be swapped in between). O_NONBLOCK: opening a FIFO never waits."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes: the size is checked before
    reading and at most `limit + 1` bytes are read (a file growing meanwhile is caught).
    Raises OSError: FileNotFoundError and the like, NotRegularFileError (a device such as
    /dev/zero, a FIFO, a folder) or FileTooLargeError; `exc.strerror` says which."""
    fd = open_regular(path)
    try:
        if os.fstat(fd).st_size > limit:
            raise FileTooLargeError(str(path), limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise FileTooLargeError(str(path), limit)
    return b"".join(chunks)


def input_roots(plan_path: str, allow_paths: Iterable[str] = ()) -> tuple[str, ...]:
    """The folders a plan's input files must be in: the plan's own folder and each
    --allow-path, with symlinks resolved."""
    roots = [os.path.realpath(os.path.dirname(os.path.abspath(plan_path)))]
    roots += [os.path.realpath(p) for p in allow_paths]
    return tuple(dict.fromkeys(roots))


def load_time_roots(plan_path: str, allow_paths: Iterable[str] = ()) -> tuple[str, ...]:
    """The folders for files fixed before the run (payloads, processor, --config,
    --dotenv): the plan's folder, each --allow-path and the current folder, which the
    user chose by running there. A path a template renders during the run (formData's
    fromFile) gets `input_roots` only: a server may have chosen it."""
    return tuple(dict.fromkeys((*input_roots(plan_path, allow_paths), os.path.realpath("."))))


def outside_roots(path: str | os.PathLike[str], roots: Iterable[str]) -> str | None:
    """None when `path` (symlinks resolved) lies inside one of `roots`; else its
    resolved form, for the message."""
    real = os.path.realpath(path)
    for root in roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return None
    return real


def confinement_message(path: str | os.PathLike[str], real: str) -> str:
    shown = str(path) if str(path) == real else f"{path} (that is {real})"
    return (
        f"{shown} is outside the folders a plan may read (the plan's folder, the current "
        "folder and each --allow-path DIR)"
    )


def check_input_file(
    path: str | os.PathLike[str], roots: Iterable[str], limit: int | None = None
) -> str | None:
    """What is wrong with an input file fixed before the run, or None: outside `roots`,
    missing, not a regular file, or over `limit` bytes."""
    real = outside_roots(path, roots)
    if real is not None:
        return confinement_message(path, real)
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file"
    if limit is not None and info.st_size > limit:
        return f"{path}: larger than {limit:,} bytes"
    return None
