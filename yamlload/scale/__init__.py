"""scale: see docs/design.md."""
