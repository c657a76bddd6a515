"""runtime: see docs/design.md."""
