"""`yamlload convert`: a HAR recording or an OpenAPI description into a plan.

Pure functions, data in and a plan dict out (`har.convert_har`, `openapi.convert_openapi`),
plus `read_input` (the file, read like a plan: bounded, errors with their position) and
`plan_text` (the plan as commented YAML). The command line is cli/convert.py.
"""

from __future__ import annotations

from .emit import plan_text
from .load import Converted, convert_document, read_input

__all__ = ["Converted", "convert_document", "plan_text", "read_input"]
