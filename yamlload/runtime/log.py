"""Every line a run prints: plan `log:` steps, --debug lines and the first failures of
each kind, masked of secrets and of a server's control characters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..plan.ir import Request
from ..plan.secrets import Redactor
from ..text import one_line

if TYPE_CHECKING:
    from .options import Observer
    from .vuser import User

# The first failures of each kind are printed in full (scenario, step, endpoint,
# expression, body); after that they are only counted.
FAILURE_EXAMPLES = 3
SNIPPET_BYTES = 200
# A failure's body is masked before it is cut to SNIPPET_BYTES, so a little more is kept.
HEAD_BYTES = 1024


def printable(text: object) -> str:
    return one_line(text)[:SNIPPET_BYTES]


def exception_text(exc: BaseException) -> str:
    said = one_line(exc)[:SNIPPET_BYTES]
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


class RunLog:
    def __init__(
        self,
        observer: Observer | None,
        redactor: Redactor,
        secret_names: Iterable[str],
        debug: bool,
    ) -> None:
        self.observer = observer
        self.redactor = redactor
        self.secret_names = tuple(secret_names)
        self.debug = debug
        # Secrets met while running: the Basic token made from a secret password.
        self.runtime_secrets: set[str] = set()
        self._failures: dict[str, int] = {}

    def log(self, message: str, secrets: Iterable[str] = ()) -> None:
        """Every line the run prints goes through here, and out with its secrets masked."""
        if self.observer is not None:
            # A plan's log: step may print what a server sent: no terminal escapes.
            text = one_line(message)
            self.observer.log(self.redactor.text(text, [*secrets, *self.runtime_secrets]))

    def secret_derived(self, source: str, derived: str) -> None:
        """`derived` (a Basic token) is made from `source`: mask it too if that is a
        secret, since a server may echo it."""
        if self.redactor.is_secret(source):
            self.runtime_secrets.add(derived)

    def user_secrets(self, user: User) -> list[str]:
        """The values of this user's variables that config.secrets names."""
        return [str(user.vars[n]) for n in self.secret_names if n in user.vars]

    def failure(
        self,
        kind: str,
        user: User,
        where: Request | str,
        detail: str,
        body: bytes | None = None,
    ) -> None:
        """Print the first few failures of each kind whole (every one under --debug),
        so a failed run can be debugged from its output alone. `where` is the request
        that failed, or a description of the place (a hook)."""
        seen = self._failures.get(kind, 0) + 1
        self._failures[kind] = seen
        if seen > FAILURE_EXAMPLES and not self.debug:
            return
        secrets = self.user_secrets(user)
        more = (
            f" (further '{kind}' failures are counted, not printed)"
            if seen == FAILURE_EXAMPLES and not self.debug
            else ""
        )
        place = f"step {where.pos}, {where.label}" if isinstance(where, Request) else where
        if body is not None:
            detail = f"{detail}; body: {self.snippet(body, secrets)}".lstrip("; ")
        self.log(f"{kind}: scenario {user.scenario.name!r}, {place}: {detail}{more}", secrets)

    def snippet(self, body: bytes, secrets: Iterable[str]) -> str:
        """A body's first bytes as one printable line, masked before it is cut (so a
        secret across the cut is masked whole), with a server's control characters
        (line breaks, terminal escapes) blanked."""
        if not body:
            return "(empty)"
        text = self.redactor.text(
            body[:HEAD_BYTES].decode("utf-8", "replace"), [*secrets, *self.runtime_secrets]
        )
        text = one_line(text)
        cut = len(text) > SNIPPET_BYTES or len(body) > HEAD_BYTES
        return text[:SNIPPET_BYTES] + ("…" if cut else "")
