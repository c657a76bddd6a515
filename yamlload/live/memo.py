"""A masking function remembered per text, shared by the live outputs and the board:
every metric name of each second is masked (an endpoint's label, a scenario's name),
the same few every second."""

from __future__ import annotations

from collections.abc import Callable

# The most texts kept: the plan's names are few, but a processor may count under names
# of its own; past this the memo starts again, so memory stays flat.
MAX_REMEMBERED = 10_000


def remembered(mask: Callable[[str], str]) -> Callable[[str], str]:
    """`mask`, each answer kept (Redactor.text is pure: the same text masks alike)."""
    seen: dict[str, str] = {}

    def masked(text: str) -> str:
        found = seen.get(text)
        if found is None:
            if len(seen) >= MAX_REMEMBERED:
                seen.clear()
            found = seen[text] = mask(text)
        return found

    return masked
