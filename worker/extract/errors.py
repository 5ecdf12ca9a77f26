"""The one error type extraction raises, with a machine-readable reason."""

from __future__ import annotations


class ExtractionError(Exception):
    """A page that cannot become an article.

    ``reason`` is a stable code the dead-letter topic carries (``not_html``, ``binary``,
    ``empty``, ``no_article_body``, ``too_large``, ``too_nested``, ``invalid_url``); the
    message says what was expected.
    """

    def __init__(self, reason: str, message: str, url: str | None = None) -> None:
        self.reason = reason
        self.url = url
        where = f" ({url})" if url else ""
        super().__init__(f"extract: {reason}: {message}{where}")
