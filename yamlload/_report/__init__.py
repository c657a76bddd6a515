"""Reporters: each reads a Summary (or, while running, the engine's progress) and writes."""

from __future__ import annotations
