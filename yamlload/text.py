"""Text from outside yamlload (a server's body or header, an exception's words, a name
in a plan) made safe for one line of a terminal: every control character, a line break
or a terminal's escape sequence included, becomes a space, so a hostile target cannot
rewrite what the console shows."""

from __future__ import annotations

import re

# C0 and C1 control characters, and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: object) -> str:
    """`text` on one line, every control character a space."""
    return _CONTROL.sub(" ", str(text))
