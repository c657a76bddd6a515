"""`yamlload init`: write a commented starter plan that validates and runs unchanged
against the demo target (`yamlload run --demo-target plan.yml`), never over a file."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

import click

from ..errors import UsageError
from ..report.outputs import OutputError, stdout_failed

DEFAULT_FILE = "plan.yml"
STDOUT = "-"
MODELS = ("open", "closed")

# Filesystems without hard links (some network and FUSE mounts) answer os.link with
# these: there the file is created exclusively instead, written in place.
NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}
PRIVATE_FILE_MODE = 0o600
TEMP_PREFIX = ".yamlload-new-"

# The phases of each model. The whole run is 10 s, so the first try is quick; the
# test suite runs the plan unchanged (tests/test_init.py).
OPEN_PHASES = """\
    # Open model: new users arrive at a rate, however fast the system answers.
    - name: warm up
      duration: 4s
      arrivalRate: 1          # 1 new user a second
    - name: ramp up
      duration: 6s
      arrivalRate: 1
      rampTo: 5               # rising evenly to 5 a second
"""

CLOSED_PHASES = """\
    # Closed model: a fixed number of users, each running the flow again and again
    # until the phase ends, so the load follows the system's speed (Locust's users).
    - name: warm up
      duration: 4s
      users: 2                # 2 users busy at once
      spawnRate: 1            # started 1 a second
    - name: ramp up
      duration: 6s
      users: 5
      spawnRate: 2
"""

# __FILE__ and __PHASES__ are filled in by `starter_plan` (str.format would trip on
# the YAML's braces and the templates' {{ }}).
TEMPLATE = """\
# yaml-language-server: $schema=plan.schema.json
#
# A starter plan from `yamlload init`. The first line lets an editor with a YAML
# language server complete keys and underline mistakes; save the schema next to this
# file first:  yamlload schema > plan.schema.json   (yamlload schema --help; the steps
# per editor: docs/editor-setup.md in yamlload's repository)
#
# Try it against the bundled demo shop, then point `target` at your own system:
#   yamlload validate __FILE__
#   yamlload run --demo-target __FILE__
config:
  # Where requests go: each `url` below is relative to it. This is the demo shop's
  # usual address (`yamlload target`); `run --demo-target` starts the shop itself and
  # sends the load there instead.
  target: http://127.0.0.1:8000
  # The load over time, phase after phase: 10 s in all, lengthen it once the flow works.
  phases:
__PHASES__\
  defaults:
    headers:
      accept: application/json   # sent with every request

scenarios:
  # What each user does, top to bottom. More scenarios share the users by `weight`.
  - name: log in, then browse
    flow:
      # Log in. The answer is JSON with a token: `capture` keeps it as `token`.
      - post:
          url: /auth/login
          json: {username: "shopper-{{ $randomNumber(1, 100) }}", password: demo}
          capture:
            json: $.token           # a JSON path; `jmespath: token` works too
            as: token
          expect:
            - statusCode: 200       # a failed expectation fails the run (exit 1)
      # Later requests send the token back in a header, as the shop's app would.
      - get:
          url: /products
          headers:
            authorization: "Bearer {{ token }}"
          expect:
            - statusCode: 200
      # A pause, as a person reading the page: 1 to 2 seconds at random.
      - think: {min: 1, max: 2}
      - get:
          url: "/products/{{ $randomNumber(1, 20) }}"
          name: GET /products/:id   # one line in the report for every id
          headers:
            authorization: "Bearer {{ token }}"
          capture:
            json: $.id
            as: productId
          expect:
            - statusCode: 200
      # Buy it. The demo shop checks the token here: without it the answer is 401.
      - post:
          url: /orders
          headers:
            authorization: "Bearer {{ token }}"
          json: {productId: "{{ productId }}", quantity: 1}
          expect:
            - statusCode: 201
"""


# bash's $'...' escapes for the characters that have a short one.
SHORT_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shell_word(name: str) -> str:
    """`name` as one word to paste into a shell, always on one line.

    A printable name is quoted as before (shlex.quote). A name holding a line break or
    another character that is not printable (a newline, U+2028, a byte that is not
    UTF-8) is written in bash's $'...' form with escapes, so the starter plan's header
    comment and the printed commands stay one line each, and bash still names the file.
    A name beginning with `-` gets `./` in front, so no command reads it as an option.
    """
    if name.startswith("-"):
        name = "./" + name  # a file, never an option: `validate -y.yml` would read -y
    if name.isprintable():
        return shlex.quote(name)
    out = []
    for char in name:
        code = ord(char)
        if char in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


def starter_plan(model: str, file_name: str = DEFAULT_FILE) -> str:
    """The starter plan's text for the `open` or `closed` model."""
    phases = CLOSED_PHASES if model == "closed" else OPEN_PHASES
    return TEMPLATE.replace("__PHASES__", phases).replace("__FILE__", shell_word(file_name))


def refuse_folder_name(raw: str, command: str = "init") -> None:
    """Refuse a FILE that is a folder, or names one by its form (`newdir/`, `newdir/.`,
    whether it exists or not): Path() drops the trailing slash, and `newdir` would be
    written as a file. The file a command writes always gets a name of its own."""
    last = raw.replace(os.sep, "/").rstrip("/").rsplit("/", 1)[-1]
    if raw.endswith(("/", os.sep)) or last in ("", ".", "..") or os.path.isdir(raw):
        folder = re.sub(r"(/+\.?)+$", "", raw.replace(os.sep, "/"))  # newdir/. -> newdir
        example = shell_word(f"{folder}/{DEFAULT_FILE}")
        raise UsageError(
            f"{shell_word(raw)} names a folder; {command} writes a file: give its name,"
            f" e.g. {example}"
        )


@click.command(short_help="Write a commented starter plan.")
# A folder is refused by refuse_folder_name, with the message that says what to give.
@click.argument("file", default=DEFAULT_FILE, type=click.Path())
@click.option(
    "--model",
    type=click.Choice(MODELS),
    default="open",
    show_default=True,
    help="open: users arrive at a rate; closed: a number of users, started at a spawn rate.",
)
def init(file: str, model: str) -> None:
    """Write a commented starter plan to FILE (default plan.yml; - prints it).

    The plan logs in to the bundled demo shop and browses it, and runs unchanged with
    `yamlload run --demo-target FILE`. An existing FILE is never overwritten, and a
    folder (`newdir/`) is refused: name the file, e.g. newdir/plan.yml (exit 2).
    """
    if file == STDOUT:
        print_text(starter_plan(model))
        return
    refuse_folder_name(file)
    path = Path(file)
    check_new_file(path)
    write_new_file(path, starter_plan(model, path.name))
    quoted = shell_word(file)
    click.echo(f"Wrote {quoted}: a starter plan ({model} model) for the demo shop.")
    click.echo("Next:")
    click.echo(f"  yamlload validate {quoted}")
    click.echo(f"  yamlload run --demo-target {quoted}")


def print_text(text: str) -> None:
    try:
        click.echo(text, nl=False)
        sys.stdout.flush()  # a write that fails fails here, inside this handler
    except BrokenPipeError:
        raise  # the reader left (`| head`): app.py's stdout makes that a normal end
    except OSError as exc:  # stdout cannot be written (/dev/full): not a bug in yamlload
        raise stdout_failed(exc) from None


def check_new_file(path: Path, command: str = "init") -> None:
    """Refuse, before anything is written, a path that is taken or has no folder."""
    if os.path.lexists(path):  # a dangling symlink too: writing would follow it
        raise UsageError(already_exists(path, command))
    folder = path.parent
    if not folder.exists():
        raise UsageError(
            f"no such folder: {shell_word(str(folder))} (create it first, or pick another path)"
        )
    if not folder.is_dir():
        raise UsageError(
            f"{shell_word(str(folder))} is not a folder, so {shell_word(str(path))} cannot be"
            " written"
        )


def already_exists(path: Path, command: str) -> str:
    return f"{shell_word(str(path))} already exists; {command} never overwrites: pick a new name"


def write_new_file(path: Path, text: str, command: str = "init", private: bool = False) -> None:
    """Write `text` to `path`, which must not exist, whole or not at all; `private`: for
    its owner only (mode 0600), as a plan holding copied secrets is.

    A temporary file in the same folder is written and flushed to disk, then hard-linked
    to `path`: unlike the rename that report/outputs.py's `write_with` uses, a link
    fails if `path` appeared meanwhile, so a file made by someone else is never replaced.
    """
    folder = path.parent
    temporary: str | None = None
    try:
        # A short name of its own: `.{path.name}...` would outgrow 255 bytes for a long
        # name that is itself valid.
        handle, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        mode = PRIVATE_FILE_MODE if private else _normal_file_mode()
        os.chmod(temporary, mode)  # mkstemp makes 0600
        _link_or_create(temporary, path, text, mode)
    except FileExistsError:
        raise UsageError(already_exists(path, command)) from None
    except OSError as exc:
        raise OutputError(
            f"could not write {shell_word(str(path))}: {exc.strerror or exc}"
        ) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _link_or_create(temporary: str, path: Path, text: str, mode: int) -> None:
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        # O_EXCL: fails if it exists; the mode is narrowed by the umask, never widened
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            try:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                os.unlink(path)  # ours, made just now: no half-written plan left
                raise


def _normal_file_mode() -> int:
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current
