"""``published_at_utc`` from ``published_at``, honouring a source's time-zone hint."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def to_utc(value: str | None, timezone_hint: str | None = None) -> str | None:
    """ISO 8601 in UTC ("2023-10-07T01:48:00Z") or None when the instant is unknown.

    A value without an offset is local time: it is placed in ``timezone_hint`` (an IANA
    name such as "Asia/Jakarta", or a fixed offset such as "+07:00") when given, and left
    unconverted (None) otherwise — a guessed zone would be an invented fact.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        zone = _zone(timezone_hint)
        if zone is None:
            return None
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(hint: str | None):  # type: ignore[no-untyped-def]
    if not hint:
        return None
    hint = hint.strip()
    if hint[:1] in "+-":
        try:
            return datetime.fromisoformat(f"2000-01-01T00:00:00{hint}").tzinfo
        except ValueError:
            return None
    if hint.upper() in {"UTC", "GMT", "Z"}:
        return UTC
    try:
        return ZoneInfo(hint)
    except (ZoneInfoNotFoundError, ValueError):
        return None
