"""The build a run tested (issue 18), recorded in the report as `run.revision` so that
`trend` can tell runs of different builds apart: the CI's commit variable, else
`git describe` of HEAD in the plan's folder (`-dirty` when its working tree has changes),
else nothing. git is the one on PATH, found by an absolute path before it runs in the
plan's folder: with `.` on PATH, a `git` beside the plan would have run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

# GitHub Actions, then GitLab CI: each names the commit the job runs.
REVISION_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA")
# git answers in milliseconds; a hung one (a network file system, a lock) must not hold
# the run up for longer than this.
GIT_TIMEOUT_SECONDS = 2.0
# A revision is a commit id; a variable longer than this is cut, not trusted whole.
MAX_REVISION_CHARS = 64
_COMMIT = re.compile(r"^[0-9a-f]{4,64}(-dirty)?$")
# What a CI's revision may hold: a commit id, a tag, a branch (no control, bidi or
# other characters that would reach every report).
_NOT_REVISION = re.compile(r"[^A-Za-z0-9._/+-]")


def build_revision(plan_path: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The CI's commit, else git's short revision of the plan's folder (the current one
    without a plan file), else None: quietly, whether git is missing or it is no repo."""
    environ = os.environ if environ is None else environ
    for name in REVISION_VARIABLES:
        value = _NOT_REVISION.sub("", environ.get(name, ""))
        if value:
            return value[:MAX_REVISION_CHARS]
    folder = Path(plan_path).parent if plan_path else Path.cwd()
    return git_revision(folder if folder.is_dir() else Path.cwd())


def git_revision(folder: Path) -> str | None:
    git = shutil.which("git")
    if git is None or not os.path.isabs(git):  # a relative PATH entry: not trusted
        return None
    try:
        done = subprocess.run(
            [git, "describe", "--always", "--dirty", "--abbrev=7", "--exclude=*"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it took too long
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and _COMMIT.match(revision) else None
