"""An output path that is a symlink is written where the link points and the link is
left as it was: a symlink into /dev or /proc (a process's stream) is written in place,
never renamed over, so `/dev/stdout` can never become a regular file.

Nothing here touches the real /dev: the links are made in tmp_path."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO
from yamlload.report.outputs import write_text

REPORT = '{"report": true}\n'


def test_a_symlink_to_a_regular_file_stays_a_link_and_its_target_holds_the_report(
    tmp_path: Path,
) -> None:
    target = tmp_path / "real.json"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)

    write_text(link, REPORT)

    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text(encoding="utf-8") == REPORT


def test_a_symlink_to_a_fifo_stays_a_link_and_the_fifo_gets_the_report(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    link.symlink_to(fifo)
    # The reader opens first (the writer never waits for one, docs/reliability.md); the
    # report is smaller than a pipe's buffer, so it is read once written.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_text(link, REPORT)
        received = os.read(reader, len(REPORT) * 2)
    finally:
        os.close(reader)

    assert link.is_symlink() and os.readlink(link) == str(fifo)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received == REPORT.encode()


def _write_through_link_with_stdout_in(tmp_path: Path, link_target: str) -> tuple[Path, Path]:
    """A child process whose fd 1 is a regular file writes a report to a link in
    tmp_path that points to `link_target` (a name of the child's own stdout)."""
    link = tmp_path / "to-stdout.json"
    link.symlink_to(link_target)
    out = tmp_path / "stdout.txt"
    code = (
        "import sys\n"
        "from yamlload.report.outputs import write_text\n"
        "print('console line', flush=True)\n"
        f"write_text(sys.argv[1], {REPORT!r})\n"
    )
    with out.open("w") as sink:
        subprocess.run(
            [sys.executable, "-c", code, str(link)],
            stdout=sink,
            check=True,
            timeout=60,
            cwd=REPO,
        )
    return link, out


def test_a_symlink_to_dev_stdout_writes_through_the_stream_and_renames_nothing(
    tmp_path: Path,
) -> None:
    before_out = tmp_path / "stdout.txt"
    link, out = _write_through_link_with_stdout_in(tmp_path, "/dev/stdout")
    assert out == before_out
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    # the same file, console text then the report: it was not replaced by a new one
    assert out.read_text(encoding="utf-8") == "console line\n" + REPORT
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_symlink_to_proc_self_fd_1_writes_through_the_stream(tmp_path: Path) -> None:
    link, out = _write_through_link_with_stdout_in(tmp_path, "/proc/self/fd/1")
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert out.read_text(encoding="utf-8") == "console line\n" + REPORT
