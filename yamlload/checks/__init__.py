"""checks: see docs/design.md."""
