"""A converted plan as YAML text: the `$schema` line, the notes as comments, then the plan."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..text import one_line

SCHEMA_LINE = "# yaml-language-server: $schema=plan.schema.json"


def plan_text(
    plan: dict[str, Any], notes: list[str], source: str, phases_comment: str, name: str = "PLAN"
) -> str:
    header = [
        SCHEMA_LINE,
        "#",
        f"# Made by `yamlload convert {one_line(source)}`. Check it, then try:",
        f"#   yamlload validate {name} && yamlload run {name}",
        *(f"# {one_line(note)}" for note in notes),
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


def _commented(data: Any) -> Any:
    if isinstance(data, dict):
        return CommentedMap((str(k), _commented(v)) for k, v in data.items())
    if isinstance(data, list):
        return CommentedSeq(_commented(v) for v in data)
    return data
