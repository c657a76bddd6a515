"""A converted plan as YAML text: the `$schema` line, the notes as comments, then the plan."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .common import Noted

SCHEMA_LINE = "# yaml-language-server: $schema=plan.schema.json"


def plan_text(
    plan: dict[str, Any], notes: list[str], source: str, phases_comment: str, name: str = "PLAN"
) -> str:
    header = [
        SCHEMA_LINE,
        "# (an editor reads the plan's schema from there: yamlload schema > plan.schema.json)",
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
    yaml.width = 2**30  # never folded: a folded string can read back changed
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(tree, out)
    return "\n".join(header) + "\n" + out.getvalue()


def escaped(text: object) -> str:
    """`text` fit for one comment line: a newline or other control character is written
    as its escape (`\\n`, `\\x1b`), so a file name cannot end the comment."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _commented(data: Any) -> Any:
    if isinstance(data, str):
        return _quoted(data)
    if isinstance(data, dict):
        tree = CommentedMap((_quoted(str(k)), _commented(v)) for k, v in data.items())
        for key, note in (data.notes if isinstance(data, Noted) else {}).items():
            if key in tree:
                tree.yaml_add_eol_comment(escaped(note), key)
        return tree
    if isinstance(data, list):
        return CommentedSeq(_commented(v) for v in data)
    return data


def _quoted(text: str) -> str:
    """A string with a character YAML would fold or drop in plain or single quotes (a
    control character, NEL U+0085, U+2028/U+2029, a lone CR, NUL, a BOM) written
    double-quoted, with escapes: it reads back exactly as it was."""
    return text if text.isprintable() else DoubleQuotedScalarString(text)
