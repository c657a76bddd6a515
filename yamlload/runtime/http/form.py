"""formData requests: multipart fields whose files are checked when the request is built
and read off the event loop just before it is sent. Transport-neutral: a transport
encodes `_PendingForm.fields()` as it likes."""

from __future__ import annotations

import asyncio
import errno
import os
from dataclasses import dataclass
from typing import TypeAlias

from ...plan.compile import ConfinedFile
from ...plan.ir import FormFile, TMap
from ...plan.source import NotRegularFileError, outside_roots, read_bounded
from ..vuser import User, text
from .transport import Spec

# One form field as a transport encodes it: name, value, and for a file its filename and
# content type (a field with neither is a plain one).
FormField: TypeAlias = tuple[str, str | bytes, str | None, str | None]

# The largest file one formData field uploads; a bigger one is a request error (EFBIG).
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class FilePathError(OSError):
    """A formData file a request may not read: its rendered path leaves the plan's folder
    and the --allow-path folders, or it names no regular file (/dev/zero, a FIFO). The
    request is never sent; it counts as `errors.EFILEPATH`."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(errno.EACCES, why, path)


@dataclass(frozen=True)
class _Upload:
    """A formData file whose path was checked; read by `_PendingForm.load`."""

    path: str  # symlinks resolved, inside the allowed folders
    filename: str
    content_type: str | None


def _upload_path(file: FormFile, rendered: str) -> str:
    """The resolved path of a formData file, or FilePathError when it escapes."""
    if "\0" in rendered:
        raise FilePathError(rendered, "a file path cannot hold a NUL character")
    joined = os.path.join(file.base_dir, rendered)
    roots = file.roots if isinstance(file, ConfinedFile) else (os.path.realpath(file.base_dir),)
    real = outside_roots(joined, roots)
    if real is not None:
        raise FilePathError(
            rendered, "outside the folders a plan may read (its own and each --allow-path)"
        )
    return os.path.realpath(joined)


def _read_upload(path: str) -> bytes:
    """A formData file's bytes: a regular file of at most MAX_UPLOAD_BYTES."""
    try:
        return read_bounded(path, MAX_UPLOAD_BYTES)
    except NotRegularFileError:
        raise FilePathError(path, "not a regular file") from None


class _PendingForm:
    """Multipart (or, with no file, url-encoded) fields whose files are read when the
    request is about to go: `load()` reads them in a worker thread. A transport turns
    the fields into its own body (aiohttp_transport.py's FormData, fast_prepare.py's
    bytes); should it take them before `load()`, `fields()` reads the files there, with
    the same checks and bounds."""

    __slots__ = ("_contents", "_loaded", "_parts")

    def __init__(self, parts: list[tuple[str, str | _Upload]]) -> None:
        self._parts = parts
        self._contents: list[bytes] = []
        self._loaded = False

    async def load(self) -> None:
        if not self._loaded:
            uploads = [part for _, part in self._parts if isinstance(part, _Upload)]
            self._contents = [await asyncio.to_thread(_read_upload, u.path) for u in uploads]
            self._loaded = True

    def fields(self) -> list[FormField]:
        """Each field in order: its name, value, and a file's name and content type."""
        if not self._loaded:
            uploads = [part for _, part in self._parts if isinstance(part, _Upload)]
            self._contents = [_read_upload(u.path) for u in uploads]
            self._loaded = True
        read = iter(self._contents)
        fields: list[FormField] = []
        for name, part in self._parts:
            if isinstance(part, _Upload):
                fields.append((name, next(read), part.filename, part.content_type))
            else:
                fields.append((name, part, None, None))
        return fields


def form_data(fields: TMap, user: User) -> _PendingForm:
    """The form's fields. A file's rendered path is checked here (FilePathError
    when it leaves the plan's folder and the --allow-path folders); its bytes are read
    later, off the event loop, by `read_form_files`."""
    parts: list[tuple[str, str | _Upload]] = []
    for name, value in fields.items:
        if isinstance(value, FormFile):
            path = _upload_path(value, text(value.path, user))
            filename = text(value.filename, user) if value.filename else os.path.basename(path)
            content_type = text(value.content_type, user) if value.content_type else None
            parts.append((name, _Upload(path, filename, content_type)))
        else:
            parts.append((name, text(value, user)))
    return _PendingForm(parts)


async def read_form_files(spec: Spec) -> None:
    """Read the files of a formData request in a worker thread, never on the event
    loop. Raises what building does: FilePathError (not a regular file) or another
    OSError (EFBIG over MAX_UPLOAD_BYTES, ENOENT...)."""
    data = spec.get("data")
    if isinstance(data, _PendingForm):
        await data.load()
