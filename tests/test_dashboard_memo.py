"""live/memo.py: a mask remembered per text, masked once however often it is asked."""

from __future__ import annotations

from yamlload.live.memo import remembered


def test_each_text_is_masked_once_and_answered_alike() -> None:
    calls: list[str] = []

    def mask(text: str) -> str:
        calls.append(text)
        return text.replace("s3cret", "***")

    masked = remembered(mask)
    answers = [masked(t) for t in ("GET /a?k=s3cret", "GET /b", "GET /a?k=s3cret", "GET /b")]
    assert answers == ["GET /a?k=***", "GET /b", "GET /a?k=***", "GET /b"]
    assert calls == ["GET /a?k=s3cret", "GET /b"]
