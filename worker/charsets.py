"""Charset detection for bodies that declare none and are not UTF-8: the one detector
fetch (worker.fetch.charset) and extract (worker.extract.decode) share."""

from __future__ import annotations

from charset_normalizer import from_bytes

#: how much of the body the detector looks at; enough to decide, cheap on big pages
DETECT_SAMPLE = 64 * 1024


def detected_charset(body: bytes) -> str | None:
    """The charset label charset-normalizer finds for a sample of ``body``, or None when
    it cannot tell."""
    best = from_bytes(body[:DETECT_SAMPLE]).best()
    return best.encoding if best is not None else None
