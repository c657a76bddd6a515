"""A masking function remembered per text, shared by the live outputs and the board:
the same few endpoint labels are masked every second, and they come from the plan, so
the memo stays small."""

from __future__ import annotations

from collections.abc import Callable


def remembered(mask: Callable[[str], str]) -> Callable[[str], str]:
    """`mask`, each answer kept (Redactor.text is pure: the same text masks alike)."""
    seen: dict[str, str] = {}

    def masked(text: str) -> str:
        found = seen.get(text)
        if found is None:
            found = seen[text] = mask(text)
        return found

    return masked
