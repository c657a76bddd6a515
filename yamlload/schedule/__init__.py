"""schedule: see docs/design.md."""
