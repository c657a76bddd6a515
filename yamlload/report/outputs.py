"""Where reports go: output paths checked before any traffic, and one writer for them all.

The rules (docs/reliability.md, "Output paths"):

- an output is never an input of the same command (the plan, `--config`, payloads, the
  processor, `--dotenv`; the reports `report`/`compare`/`merge` read), compared by real
  path and by file identity, so another spelling, a symlink or a hard link is caught;
- only a regular file (or nothing) is replaced, atomically; a character device or a FIFO
  is written in place (`-o /dev/null`), and one of the process's own streams
  (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`) is written through its open descriptor;
  a folder, a socket or a block device is refused;
- a symlink is followed hop by hop: one that leads to a process stream is written
  through the descriptor, one that passes through /dev or /proc is written in place, and
  a link is never renamed over (else `/dev/stdout`, when fd 1 is a regular file, would
  resolve to that file and a rename would put a new file in its place);
- the folder is created when missing and must take a file (a probe is made and removed);
- two outputs of one command are never the same file.

A path that breaks a rule is a `UsageError` (exit 2) before anything is sent. A write that
fails afterwards is an `OutputError` (exit 4), and its temporary file is always removed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import EXIT_OUTPUT_FAILED, UsageError, YamlloadError

STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}
STDOUT_DASH = "-"
_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd|proc/(?P<pid>\d+)/fd)/(?P<fd>\d+)")
# Folders whose files are the kernel's, not the user's: never replaced by a rename.
SYSTEM_FOLDERS = ("/dev/", "/proc/")
# As the kernel's own limit on symlinks followed in one lookup (ELOOP beyond it).
MAX_LINK_HOPS = 40


class OutputError(YamlloadError):
    """A report, or another output, could not be written after the work was done."""

    exit_code = EXIT_OUTPUT_FAILED


@dataclass(frozen=True)
class Output:
    """A file a command writes: `flag` names it to the user (`-o`, `--html`)."""

    flag: str
    path: str
    append: bool = False

    def __str__(self) -> str:
        """How the user wrote it: `-o r.json`, or `--out jsonl=live.jsonl`."""
        joint = "" if self.flag.endswith("=") else " "
        return f"{self.flag}{joint}{self.path}"


@dataclass(frozen=True)
class Input:
    """A file a command reads: `what` names it (`the plan`, `a payload file`)."""

    path: str
    what: str


def check_outputs(
    outputs: Sequence[Output], inputs: Sequence[Input], reader: str = "this run"
) -> None:
    """Every problem with the output paths, as one UsageError, before any work starts."""
    problems: list[str] = []
    taken: dict[object, Output] = {}
    for output in outputs:
        problem = _problem(output, inputs, reader, taken)
        if problem:
            problems.append(f"{output}: {problem}")
    if problems:
        raise UsageError("\nerror: ".join(problems))


def _problem(
    output: Output, inputs: Sequence[Input], reader: str, taken: dict[object, Output]
) -> str | None:
    path = output.path
    fd = stream_fd(path)
    if fd is not None:
        try:
            os.fstat(fd)
        except OSError:
            return f"file descriptor {fd} is not open"
        if ("fd", fd) in taken:  # two documents in one stream: neither reads back
            return f"it is also the {taken['fd', fd].flag.rstrip('=')} output"
        taken["fd", fd] = output
        return None
    try:
        info: os.stat_result | None = os.stat(path)
    except OSError:
        info = None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            return "is a folder"
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            if not os.access(path, os.W_OK):
                return "cannot write to it: permission denied"
            return None  # written in place, never replaced
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file, a character device or a FIFO; it is never replaced"
    real = os.path.realpath(path)
    for source in inputs:
        if _same(real, info, source.path):
            return f"it is {source.what} {reader} reads; choose another path"
    keys: list[object] = [real]
    if info is not None:
        keys.append((info.st_dev, info.st_ino))
    for key in keys:
        if key in taken:
            return f"it is also the {taken[key].flag.rstrip('=')} output"
    for key in keys:
        taken[key] = output
    folder = os.path.dirname(real)
    if os.path.exists(folder) and not os.path.isdir(folder):
        return f"cannot write in {folder}: it is not a folder"
    try:
        os.makedirs(folder, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".yamlload-probe.", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write in {folder}: {exc.strerror or exc}"
    return None


def _same(real: str, info: os.stat_result | None, other: str) -> bool:
    if real == os.path.realpath(other):
        return True
    if info is None:
        return False
    try:
        theirs = os.stat(other)
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (info.st_dev, info.st_ino)


def _stream_named(path: str | os.PathLike[str]) -> int | None:
    """The descriptor a path such as /dev/stdout names by its spelling, or None."""
    normal = os.path.normpath(os.path.abspath(path))
    if normal in STREAMS:
        return STREAMS[normal]
    found = _FD_PATH.fullmatch(normal)
    if found is None:
        return None
    if found.group("pid") is not None and int(found.group("pid")) != os.getpid():
        return None  # another process's descriptor is not ours to write through
    return int(found.group("fd"))


def link_hops(path: str | os.PathLike[str]) -> list[str]:
    """The path, then each place its chain of symlinks leads to, in order (absolute,
    normalized; the last is not a symlink, or the chain is too long to follow)."""
    hops = [os.path.normpath(os.path.abspath(path))]
    for _ in range(MAX_LINK_HOPS):
        try:
            pointed = os.readlink(hops[-1])
        except OSError:
            break  # not a symlink (or not there): the chain ends here
        hops.append(os.path.normpath(os.path.join(os.path.dirname(hops[-1]), pointed)))
    return hops


def stream_fd(path: str | os.PathLike[str]) -> int | None:
    """The process's descriptor that `path` (/dev/stdout, /dev/fd/N, /proc/self/fd/N), or
    a symlink on its way, names; None for any other path. `-` is standard output, as
    for `convert -o -` and most command-line tools."""
    if os.fspath(path) == STDOUT_DASH:
        return 1
    for hop in link_hops(path):
        fd = _stream_named(hop)
        if fd is not None:
            return fd
    return None


def _through_system_folder(path: Path) -> bool:
    """Whether a symlink of `path` leads into /dev or /proc, where nothing is renamed."""
    return any(hop.startswith(SYSTEM_FOLDERS) for hop in link_hops(path)[1:])


def stdout_failed(exc: OSError) -> OutputError:
    """Standard output refused a write (a full disk, /dev/full): the error to raise, in
    one line. Its descriptor is pointed at /dev/null first, so Python's flush at exit
    does not fail on the same buffered text and print a traceback after the message."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    return OutputError(f"could not write to standard output: {exc.strerror or exc}")


def write_with(
    path: str | os.PathLike[str],
    fill: Callable[[TextIO], object],
    what: str = "the file",
    append: bool = False,
) -> Path:
    """Write what `fill` writes to `path` under the rules above; OutputError if it fails.

    A regular file is replaced atomically: a temporary file in the same folder, flushed
    to disk (fsync), then renamed over it, so a reader, or a machine that loses power,
    sees the old file or the new one whole. The temporary file never outlives a failure.
    """
    target = Path(path)
    try:
        fd = stream_fd(target)
        if fd is not None:
            _write_stream(fd, fill)
        elif append or written_in_place(target):
            with _open_in_place(target, append) as out:
                fill(out)
        else:
            _replace_atomically(Path(os.path.realpath(target)), fill)
    except OSError as exc:
        raise OutputError(f"could not write {what} {target}: {exc.strerror or exc}") from None
    return target


def write_text(
    path: str | os.PathLike[str], text: str, what: str = "the file", append: bool = False
) -> Path:
    return write_with(path, lambda out: out.write(text), what, append)


def _open_in_place(path: Path, append: bool) -> TextIO:
    """A device or FIFO opened for writing. A FIFO that no process reads would block
    the open for ever (signals held while the report is written could not end it), so
    it is opened without waiting: ENXIO, "No such device or address", says nobody reads."""
    flags = os.O_WRONLY | os.O_NONBLOCK | (os.O_APPEND if append else 0)
    if not path.exists():
        flags |= os.O_CREAT | (0 if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o666)
    try:
        os.set_blocking(fd, True)  # the reader is there: write at its pace
        return open(fd, "a" if append else "w", encoding="utf-8", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def written_in_place(path: Path) -> bool:
    """A device, a FIFO, or a symlink into /dev or /proc: opened and written, never
    replaced by a rename."""
    if _through_system_folder(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _write_stream(fd: int, fill: Callable[[TextIO], object]) -> None:
    """Through the process's own descriptor, after what is already buffered for it, so a
    report sent to /dev/stdout lands after the console text, whatever stdout is."""
    import sys

    buffer = io.StringIO()
    fill(buffer)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    data = memoryview(buffer.getvalue().encode("utf-8"))
    while data:
        data = data[os.write(fd, data) :]


def _replace_atomically(target: Path, fill: Callable[[TextIO], object]) -> None:
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()  # mkstemp makes 0600; a report is a normal file
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
