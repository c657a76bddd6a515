"""Counting each request's outcome into the current period: exactly one of a response,
a request error or an interruption, in the period where it ends."""

from __future__ import annotations

from ...metrics.names import (
    APDEX_FRUSTRATED,
    APDEX_SATISFIED,
    APDEX_TOLERATED,
    DOWNLOADED_BYTES,
    ERRORS,
    REQUESTS,
    REQUESTS_FAILED,
    REQUESTS_INTERRUPTED,
    REQUESTS_UNSENT,
    RESPONSE_TIME,
    RESPONSES,
    endpoint_key,
)
from ...metrics.periods import Recorder
from .facts import RequestFacts
from .transport import Answer


class Recording:
    """The outcome counters. A base of the HTTP client (send.py, client.py) rather than
    an object it holds, so that the hot path makes no call beyond the recording itself."""

    def __init__(self, recorder: Recorder, apdex_ms: float | None) -> None:
        self.rec = recorder
        self.apdex = apdex_ms

    def record_response(self, facts: RequestFacts, answer: Answer, accepted: bool) -> None:
        """One response's metrics: the hot path, kept cheap (every name is prebuilt)."""
        millis = answer.millis
        names = facts.by_status.get(answer.status) or facts.status_names(answer.status)
        metrics = self.rec.current()
        metrics.count(REQUESTS)
        metrics.count(facts.requests)
        metrics.count(RESPONSES)
        metrics.count(names[0])
        metrics.observe(RESPONSE_TIME, millis)
        metrics.observe(names[1], millis)
        metrics.count(DOWNLOADED_BYTES, answer.size)
        metrics.count(names[2])
        metrics.observe(facts.latency, millis)
        if not accepted:
            metrics.count(REQUESTS_FAILED)
            metrics.count(facts.failed)
        if self.apdex is not None:
            metrics.count(apdex_bucket(millis, self.apdex))

    def record_error(self, facts: RequestFacts, code: str) -> None:
        metrics = self.rec.current()
        for name in (
            REQUESTS,
            REQUESTS_FAILED,
            ERRORS + code,
            facts.requests,
            facts.failed,
            endpoint_key(facts.label, f"errors.{code}"),
        ):
            metrics.count(name)

    def record_unsent(self, facts: RequestFacts, code: str) -> None:
        """A request its user's values could not make: an error that never reached the
        wire (the run's validity tells these apart from a target that did not answer)."""
        self.record_error(facts, code)
        self.rec.count(REQUESTS_UNSENT)

    def record_interrupted(self, facts: RequestFacts) -> None:
        metrics = self.rec.current()
        for name in (REQUESTS, REQUESTS_INTERRUPTED, facts.requests, facts.interrupted):
            metrics.count(name)


def apdex_bucket(millis: float, threshold: float) -> str:
    if millis <= threshold:
        return APDEX_SATISFIED
    return APDEX_TOLERATED if millis <= 4 * threshold else APDEX_FRUSTRATED
