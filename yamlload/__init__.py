"""yamlload: load testing from a declarative YAML plan.

The public API is small: load and compile a plan, inspect what it would do.
Everything else lives in private modules and may change.

The names are imported when first used (PEP 562): `import yamlload` itself is cheap,
so the command line can take Ctrl-C before it loads the rest (see `_entry`).
"""

from __future__ import annotations

from ._version import __version__

# typing's TYPE_CHECKING without importing typing (a few ms before Ctrl-C is handled).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .errors import InternalError, PlanError, Pos, Problem, UsageError, YamlloadError
    from .plan.compile import load_plan
    from .plan.ir import Phase, Plan, Scenario
    from .plan.schema import build_schema
    from .plan.source import PlanOptions
    from .schedule.arrivals import arrival_count, arrival_offsets, schedule
    from .units import parse_duration

# Each public name and the private module it lives in.
_HOMES = {
    "InternalError": ".errors",
    "PlanError": ".errors",
    "Pos": ".errors",
    "Problem": ".errors",
    "UsageError": ".errors",
    "YamlloadError": ".errors",
    "load_plan": ".plan.compile",
    "Phase": ".plan.ir",
    "Plan": ".plan.ir",
    "Scenario": ".plan.ir",
    "build_schema": ".plan.schema",
    "PlanOptions": ".plan.source",
    "arrival_count": ".schedule.arrivals",
    "arrival_offsets": ".schedule.arrivals",
    "schedule": ".schedule.arrivals",
    "parse_duration": ".units",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'yamlload' has no attribute {name!r}")
    import importlib  # here, not at the top: see the module's doc

    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
