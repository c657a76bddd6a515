"""A converted plan as YAML text: the `$schema` line, the notes as comments, then the plan."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .common import Noted

SCHEMA_LINE = "# yaml-language-server: $schema=plan.schema.json"


def plan_text(
    plan: dict[str, Any], notes: list[str], source: str, phases_comment: str, name: str = "PLAN"
) -> str:
    header = [
        SCHEMA_LINE,
        "#",
        f"# Made by `yamlload convert {escaped(source)}`. Check it, then try:",
        f"#   yamlload validate {escaped(name)} && yamlload run {escaped(name)}",
        *(f"# {escaped(note)}" for note in notes),
    ]
    tree = _commented(plan)
    config = tree["config"]
    if "phases" in config:
        config.yaml_set_comment_before_after_key("phases", before=phases_comment, indent=2)
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(tree, out)
    return "\n".join(header) + "\n" + out.getvalue()


def escaped(text: object) -> str:
    """`text` fit for one comment line: a newline or other control character is written
    as its escape (`\\n`, `\\x1b`), so a file name cannot end the comment."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _commented(data: Any) -> Any:
    if isinstance(data, dict):
        tree = CommentedMap((str(k), _commented(v)) for k, v in data.items())
        for key, note in (data.notes if isinstance(data, Noted) else {}).items():
            if key in tree:
                tree.yaml_add_eol_comment(escaped(note), key)
        return tree
    if isinstance(data, list):
        return CommentedSeq(_commented(v) for v in data)
    return data
