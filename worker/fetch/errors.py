"""The one error type of the fetch stage, with a machine-readable reason."""

from __future__ import annotations

#: reasons worth trying again later (the server or the network may recover)
RETRYABLE = frozenset(
    {"timeout", "connect_timeout", "read_timeout", "connect_error", "truncated", "http_429",
     "http_500", "http_502", "http_503", "http_504", "http_520", "http_521", "http_522",
     "http_523", "http_524"}
)


class FetchError(Exception):
    """A fetch that did not produce a usable body.

    ``reason`` is a short code for metrics and dead letters (timeout, too_large,
    decompression_bomb, redirect_loop, too_many_redirects, private_address, not_html,
    http_<status>, robots_disallowed, connect_error, tls_error, circuit_open, ...);
    ``message`` says what happened in words, ``url`` is the URL that failed (the hop, for
    redirects)."""

    def __init__(self, reason: str, message: str, url: str, *, retry_after: float | None = None):
        super().__init__(f"{reason}: {message} ({url})")
        self.reason = reason
        self.message = message
        self.url = url
        #: seconds the server asked us to wait (Retry-After), when it said so
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.reason in RETRYABLE
