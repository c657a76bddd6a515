"""The docs are true to the output they show (issue 21): every shell example in
README.md and docs/*.md that starts with `$ yamlload` and whose output does not depend
on timing (a `validate`, or options refused before any traffic) is run from the
repository's root and must print exactly what the docs show."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.helpers import REPO

BLOCK = re.compile(r"^```[a-z]*\n(\$ yamlload [^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str, str]]:
    """(where, command, shown output) of each example whose output is deterministic and
    whose files are in the repository."""
    found = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for match in BLOCK.finditer(doc.read_text(encoding="utf-8")):
            command, shown = match.group(1)[2:], match.group(2)
            args = shlex.split(command)[1:]
            paths = [a for a in args if a.endswith((".yml", ".yaml", ".json"))]
            if not paths or not all((REPO / p).is_file() for p in paths):
                continue  # an example about a file of the reader's (broken.yml, plan.yml)
            refused = all("ensure '" in line for line in shown.splitlines())
            if args[0] == "validate" or refused:
                found.append((f"{doc.name}: {command}", command, shown))
    return found


EXAMPLES = examples()


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLES) >= 2, EXAMPLES  # validate in cli.md, refused checks in ensure.md


@pytest.mark.parametrize(("where", "command", "shown"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_a_documented_example_prints_what_the_docs_show(
    where: str, command: str, shown: str
) -> None:
    args = [sys.executable, "-m", "yamlload", *shlex.split(command)[1:]]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
    printed = (done.stdout + done.stderr).strip().splitlines()
    assert printed == shown.strip().splitlines(), f"{where}\n{done.stdout}{done.stderr}"
