"""yamlload: load testing from a declarative YAML plan.

The public API is small: load and compile a plan, inspect what it would do.
Everything else lives in private modules and may change.
"""

from __future__ import annotations

from ._version import __version__
from .errors import InternalError, PlanError, Pos, Problem, UsageError, YamlloadError
from .plan.compile import load_plan
from .plan.ir import Phase, Plan, Scenario
from .plan.schema import build_schema
from .plan.source import PlanOptions
from .schedule.arrivals import arrival_count, arrival_offsets, schedule
from .units import parse_duration

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
