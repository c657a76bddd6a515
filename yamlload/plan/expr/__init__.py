"""Everything a plan computes: `{{ }}` templates, `ifTrue`/`ensure` conditions and
capture paths. Each is parsed once, at compile time, into a small tree that is
evaluated per virtual user. Nothing is ever passed to `eval`.

Parse errors raise `ExprError` with an offset into the source text; the compiler turns
that into a positioned plan problem.

    tokens.py     the lexer both languages share, and ExprError
    values.py     undefined values, text as JavaScript writes it, paths into data
    template.py   `{{ }}` templates and the built-in functions
    condition.py  ifTrue/ensure expressions
    paths.py      JSONPath/JMESPath captures and regexps
"""

from __future__ import annotations

from .condition import Condition, parse_condition
from .paths import CompiledPath, compile_jmespath, compile_regexp, jsonpath_to_jmespath
from .template import (
    BARE_FUNCTIONS,
    BUILTIN_FUNCTIONS,
    BUILTIN_VARIABLES,
    Call,
    Node,
    Template,
    Var,
    evaluate_node,
    parse_template,
)
from .tokens import ExprError
from .values import MISSING, UNDEFINED_TEXT, Lookup, get_path, interpolated_text, to_text

__all__ = [
    "BARE_FUNCTIONS",
    "BUILTIN_FUNCTIONS",
    "BUILTIN_VARIABLES",
    "MISSING",
    "UNDEFINED_TEXT",
    "Call",
    "CompiledPath",
    "Condition",
    "ExprError",
    "Lookup",
    "Node",
    "Template",
    "Var",
    "compile_jmespath",
    "compile_regexp",
    "evaluate_node",
    "get_path",
    "interpolated_text",
    "jsonpath_to_jmespath",
    "parse_condition",
    "parse_template",
    "to_text",
]
