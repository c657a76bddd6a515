"""results: see docs/design.md."""
