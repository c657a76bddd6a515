"""yamlload: load testing from a declarative YAML plan.

The public API is small: load and compile a plan, inspect what it would do.
Everything else lives in private modules and may change.
"""

from __future__ import annotations

from ._compile import load_plan, parse_duration
from ._errors import InternalError, PlanError, Pos, Problem, UsageError, YamlloadError
from ._load import PlanOptions
from ._plan import Phase, Plan, Scenario
from ._schedule import arrival_count, arrival_offsets, schedule
from ._schema import build_schema
from ._version import __version__

__all__ = [
    "InternalError",
    "Phase",
    "Plan",
    "PlanError",
    "PlanOptions",
    "Pos",
    "Problem",
    "Scenario",
    "UsageError",
    "YamlloadError",
    "__version__",
    "arrival_count",
    "arrival_offsets",
    "build_schema",
    "load_plan",
    "parse_duration",
    "schedule",
]
