"""When to poll a feed, sitemap or section page next: pure functions over plain data.

The fetch stage keeps a ``Rhythm`` per listing in its seen-table entry (as JSON) and, after
every poll, asks ``next_poll`` when to come back. The answer follows the source's rhythm:

* the rate of new items expected now, from the recent arrival times (two kernels: half an
  hour, so a burst quickens polling at once, and an hour, the level) and from the time of day
  (a histogram of arrivals per UTC hour that forgets over a week; as it gathers hours of
  observation it replaces the level, so polling slows at night and quickens before the
  morning rush);
* an active source (an item an hour or more) is polled at the pace of its budget; below
  that the interval grows with the cube of the rate. The target is the tail of the delay
  (p95), and for a tail a poll is worth most where the stories are: a story that waits
  minutes in a quiet hour is in the tail whether it waits four or twenty, so the best spend
  is a uniform pace while they come and almost nothing in between; the cube keeps a little
  in between for a rate learnt wrong (the square-root rule of Cho & Garcia-Molina minimises
  the mean instead, and spends more on quiet hours);
* what the publisher says: RSS ``<ttl>`` and ``Cache-Control: max-age`` / ``Expires`` are
  floors, ``sy:updatePeriod`` / ``sy:updateFrequency`` is the rate before anything is
  learnt, ``<skipHours>`` / ``<skipDays>`` are hours not to poll at all;
* the source's bounds (``min_poll_interval`` … ``max_poll_interval``; the publisher's floors
  stop at the upper bound) and a request budget (``max_polls_per_hour``), kept with a token
  bucket that refills at the budget's pace and holds BUCKET polls for the start of a burst.

Conditional GET and sitemap ``lastmod`` feed in through the stage: a 304 is a poll that found
nothing, and the arrival time of an item is its own date (feed ``published``/``updated``,
sitemap ``lastmod``) when that falls between two polls.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HOUR = 3600.0
DAY = 86_400.0
#: items per hour from which a source counts as active: polled as often as its budget allows
ACTIVE_RATE = 1.0
#: below ACTIVE_RATE the interval grows with (ACTIVE_RATE / rate) ** FALL_OFF (the upper
#: bound of 40 min is reached at 0.29 items an hour; 2 spent a fifth more on quiet hours
#: for the same p95 in bench/freshness.py --simulate, a step spent nothing there but lost
#: the hours whose rate was learnt too low)
FALL_OFF = 3.0
#: time constant of the recent-rate kernel: a new item counts fully for about this long
RECENT_SPAN = 1800.0
#: time constant of the level kernel, which the time-of-day rate replaces once trusted
LONG_SPAN = HOUR
#: the time-of-day histogram forgets with this time constant
HISTOGRAM_MEMORY = 7 * DAY
#: hours of observation of an hour-of-day bin before its rate is fully trusted
TRUSTED_EXPOSURE = 3 * HOUR
#: how far ahead the time-of-day rate looks (to be ready when a busy hour starts)
LOOKAHEAD = 1800.0
#: arrival times kept for the recent rate (older ones weigh nothing after a few spans)
MAX_ARRIVALS = 64
#: polls a quiet source may save up and spend when a burst starts
BUCKET = 2
#: rate assumed when there is no evidence of any activity at all
MIN_RATE = 1e-3
#: the poller's longest tick: a listing is polled at most this long after it is due
TICK = 15.0

_SY_PERIODS = {"hourly": HOUR, "daily": DAY, "weekly": 7 * DAY, "monthly": 30 * DAY,
               "yearly": 365 * DAY}
_DAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
         "saturday": 5, "sunday": 6}
# Channel-level elements, matched on the local name (the prefix of sy: varies).
_TTL = re.compile(rb"<(?:\w+:)?ttl\s*>\s*(\d+)\s*<", re.IGNORECASE)
_SY_PERIOD = re.compile(rb"<(?:\w+:)?updatePeriod\s*>\s*(\w+)\s*<", re.IGNORECASE)
_SY_FREQUENCY = re.compile(rb"<(?:\w+:)?updateFrequency\s*>\s*(\d+)\s*<", re.IGNORECASE)
_SKIP_HOURS = re.compile(rb"<skipHours\s*>(.*?)</skipHours\s*>", re.IGNORECASE | re.DOTALL)
_SKIP_DAYS = re.compile(rb"<skipDays\s*>(.*?)</skipDays\s*>", re.IGNORECASE | re.DOTALL)
_HOUR = re.compile(rb"<hour\s*>\s*(\d+)\s*<", re.IGNORECASE)
_DAY = re.compile(rb"<day\s*>\s*(\w+)\s*<", re.IGNORECASE)
_MAX_AGE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(slots=True)
class Bounds:
    """A source's polling bounds, in seconds (``per_hour``: requests an hour at most)."""

    base: float = 300.0
    low: float = 15.0
    high: float = 2400.0
    per_hour: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high:
            raise ValueError(f"poll bounds need 0 < low <= high, got {self.low}, {self.high}")
        if self.per_hour <= BUCKET:
            raise ValueError(f"max_polls_per_hour must exceed {BUCKET}, got {self.per_hour}")

    @property
    def budget(self) -> float:
        """Polls an hour allowed: ``per_hour``, or more when the upper bound asks for more
        (a source told to be polled every 20 s at least is polled so, whatever the budget)."""
        return max(self.per_hour, HOUR / self.high)


@dataclass(slots=True)
class Signals:
    """What the last answer said about when to come back."""

    ttl: float | None = None  #: RSS <ttl>, in seconds
    update_period: float | None = None  #: sy:updatePeriod / sy:updateFrequency, seconds
    skip_hours: list[int] = field(default_factory=list)  #: UTC hours (RSS 2.0)
    skip_days: list[int] = field(default_factory=list)  #: 0 = Monday
    expires_at: float | None = None  #: Unix seconds, from Cache-Control max-age / Expires

    def to_dict(self) -> dict[str, Any]:
        return {"ttl": self.ttl, "update_period": self.update_period,
                "skip_hours": self.skip_hours, "skip_days": self.skip_days,
                "expires_at": self.expires_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Signals:
        data = data or {}
        return cls(ttl=data.get("ttl"), update_period=data.get("update_period"),
                   skip_hours=list(data.get("skip_hours") or []),
                   skip_days=list(data.get("skip_days") or []),
                   expires_at=data.get("expires_at"))


@dataclass(slots=True)
class Rhythm:
    """What was learnt of a listing's publishing: plain data, stored as JSON."""

    arrivals: list[float] = field(default_factory=list)  #: Unix seconds, oldest first
    counts: list[float] = field(default_factory=lambda: [0.0] * 24)  #: arrivals per UTC hour
    exposure: list[float] = field(default_factory=lambda: [0.0] * 24)  #: seconds observed
    observed_until: float | None = None
    tokens: float = float(BUCKET)
    tokens_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"arrivals": self.arrivals, "counts": self.counts, "exposure": self.exposure,
                "observed_until": self.observed_until, "tokens": self.tokens,
                "tokens_at": self.tokens_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Rhythm:
        if not data:
            return cls()
        return cls(arrivals=list(data.get("arrivals") or []),
                   counts=list(data.get("counts") or [0.0] * 24),
                   exposure=list(data.get("exposure") or [0.0] * 24),
                   observed_until=data.get("observed_until"),
                   tokens=float(data.get("tokens", BUCKET)), tokens_at=data.get("tokens_at"))

    @property
    def learnt(self) -> bool:
        return bool(self.arrivals) or any(self.exposure)


@dataclass(slots=True)
class Decision:
    at: float  #: Unix seconds of the next poll
    interval: float
    reason: str  #: rhythm | base | ttl | cache | min | max | budget | skip


def _hour(at: float) -> int:
    return int(at // HOUR) % 24


def observe(rhythm: Rhythm, arrivals: Iterable[float], now: float,
            since: float | None = None) -> Rhythm:
    """The rhythm after a poll at ``now`` that found items which arrived at ``arrivals``.

    The span from the previous poll (or ``since``, the oldest item of a first poll: a feed
    lists everything newer than its oldest item) to ``now`` counts as observed time."""
    counts, exposure = list(rhythm.counts), list(rhythm.exposure)
    start = rhythm.observed_until if rhythm.observed_until is not None else since
    if rhythm.observed_until is not None:
        keep = math.exp(-max(0.0, now - rhythm.observed_until) / HISTOGRAM_MEMORY)
        counts = [c * keep for c in counts]
        exposure = [e * keep for e in exposure]
    if start is not None:
        cursor = max(start, now - 7 * DAY)
        while cursor < now:
            step = min(now, (cursor // HOUR + 1) * HOUR)
            exposure[_hour(cursor)] += step - cursor
            cursor = step
    times = sorted(rhythm.arrivals)
    for at in arrivals:
        counts[_hour(at)] += 1.0
        times.append(at)
    times.sort()
    return Rhythm(arrivals=times[-MAX_ARRIVALS:], counts=counts, exposure=exposure,
                  observed_until=now, tokens=rhythm.tokens, tokens_at=rhythm.tokens_at)


def spend_poll(rhythm: Rhythm, bounds: Bounds, now: float) -> Rhythm:
    """The rhythm after one request at ``now``: the token bucket refilled, one token spent."""
    tokens = _tokens(rhythm, bounds, now) - 1.0
    return Rhythm(arrivals=rhythm.arrivals, counts=rhythm.counts, exposure=rhythm.exposure,
                  observed_until=rhythm.observed_until, tokens=tokens, tokens_at=now)


def _refill_rate(bounds: Bounds) -> float:
    return bounds.budget / HOUR


def _tokens(rhythm: Rhythm, bounds: Bounds, now: float) -> float:
    if rhythm.tokens_at is None:
        return float(BUCKET)
    elapsed = max(0.0, now - rhythm.tokens_at)
    return min(float(BUCKET), rhythm.tokens + elapsed * _refill_rate(bounds))


def recent_rate(rhythm: Rhythm, now: float, span: float = RECENT_SPAN) -> float:
    """Items per hour lately: each arrival weighs exp(-age / span)."""
    weight = sum(math.exp(-(now - at) / span) for at in rhythm.arrivals if at <= now)
    return weight * HOUR / span


def hourly_rate(rhythm: Rhythm, at: float) -> tuple[float, float]:
    """(items per hour usually seen at the UTC hour of ``at``, trust in it from 0 to 1);
    neighbouring hours are blended in, so a day or two of history is not too spiky."""
    hour = _hour(at)
    parts = ((hour - 1) % 24, hour, (hour + 1) % 24)
    weights = (1.0, 2.0, 1.0)
    count = sum(w * rhythm.counts[h] for w, h in zip(weights, parts, strict=True))
    seen = sum(w * rhythm.exposure[h] for w, h in zip(weights, parts, strict=True))
    if seen <= 0:
        return 0.0, 0.0
    return count / (seen / HOUR), min(1.0, rhythm.exposure[hour] / TRUSTED_EXPOSURE)


def expected_rate(rhythm: Rhythm, now: float) -> float:
    """Items per hour expected in the coming minutes. The level is the slow recent rate,
    replaced by the usual rate of this time of day (now, or half an hour on) as far as that
    is trusted; a burst (the fast recent rate) raises it whatever the hour."""
    level = recent_rate(rhythm, now, LONG_SPAN)
    usual = 0.0
    for at in (now, now + LOOKAHEAD):
        rate, trust = hourly_rate(rhythm, at)
        usual = max(usual, trust * rate + (1 - trust) * level)
    return max(recent_rate(rhythm, now), usual)


def interval_for(rate: float, bounds: Bounds) -> float:
    """Seconds between polls for ``rate`` items an hour: at ACTIVE_RATE the pace of the
    budget, and with the cube of the rate below and above it. Above it the budget binds
    (an active source is polled as often as it allows, and a late poll is made up by the
    bucket); below it the steep fall-off spends the budget on the hours that publish: for
    the tail of the delay, polls are worth most where the stories are."""
    return HOUR / bounds.budget * (ACTIVE_RATE / max(MIN_RATE, rate)) ** FALL_OFF


def _skipped(at: float, signals: Signals) -> bool:
    when = datetime.fromtimestamp(at, UTC)
    return when.hour in signals.skip_hours or when.weekday() in signals.skip_days


def next_poll(rhythm: Rhythm, signals: Signals, bounds: Bounds, now: float) -> Decision:
    """When to poll next, after a poll at ``now`` (already counted in ``rhythm``)."""
    if rhythm.learnt:
        interval, reason = interval_for(expected_rate(rhythm, now), bounds), "rhythm"
    elif signals.update_period:
        interval, reason = interval_for(HOUR / signals.update_period, bounds), "rhythm"
    else:
        interval, reason = bounds.base, "base"
    for floor, why in ((signals.ttl, "ttl"),
                       (signals.expires_at - now if signals.expires_at else None, "cache")):
        if floor is not None and floor > interval:
            interval, reason = floor, why
    if interval > bounds.high:
        interval, reason = bounds.high, "max"
    if interval < bounds.low:
        interval, reason = bounds.low, "min"
    wait = (1.0 - _tokens(rhythm, bounds, now)) / _refill_rate(bounds)
    if wait > interval:
        interval, reason = wait, "budget"
    at = now + interval
    # skipHours/skipDays: the publisher says nothing changes then; come back after
    for _ in range(24 * 8):
        if not _skipped(at, signals):
            break
        at, reason = (at // HOUR + 1) * HOUR, "skip"
    return Decision(at=at, interval=at - now, reason=reason)


def poll_tick(lows: Iterable[float]) -> float:
    """How often the poller sends every source's poll request (the stage decides which
    are due): at most TICK, and dividing the shortest lower bound evenly, so a source kept
    at its lower bound is polled right on it."""
    low = max(1.0, min(lows, default=TICK))
    return low / math.ceil(low / TICK)


def is_due(next_at: float | None, low: float, now: float) -> bool:
    """Whether a poll request at ``now`` should poll. Requests come on the poller's tick,
    so a poll due within half a tick is made now rather than a whole tick late."""
    return next_at is None or now >= next_at - min(low, TICK) / 2


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def cache_expiry(headers: Mapping[str, str], now: float) -> float | None:
    """Unix seconds until which the answer is fresh (``Cache-Control: max-age`` first, then
    ``Expires``, as RFC 9111 orders them); None without either or with ``no-cache``."""
    control = headers.get("cache-control", "")
    if "no-cache" in control.lower() or "no-store" in control.lower():
        return None
    if match := _MAX_AGE.search(control):
        return now + int(match.group(2))
    expires = _http_date(headers.get("expires"))
    if expires is None:
        return None
    served = _http_date(headers.get("date"))
    # Expires is on the server's clock: measure it from the server's Date when given
    return now + (expires - served if served is not None else expires - now)


def parse_signals(body: bytes | None, headers: Mapping[str, str], now: float,
                  previous: Signals | None = None) -> Signals:
    """The signals of an answer: HTTP caching headers always, and the feed's channel
    elements from a body (a 304 has none: those of ``previous`` stay)."""
    signals = Signals.from_dict(previous.to_dict()) if previous else Signals()
    signals.expires_at = cache_expiry(headers, now)
    if body is None:
        return signals
    head = body[:200_000]
    ttl = _TTL.search(head)
    signals.ttl = int(ttl.group(1)) * 60.0 if ttl and int(ttl.group(1)) > 0 else None
    period = _SY_PERIOD.search(head)
    signals.update_period = None
    if period and (seconds := _SY_PERIODS.get(period.group(1).decode().lower())):
        frequency = _SY_FREQUENCY.search(head)
        times = max(1, int(frequency.group(1))) if frequency else 1
        signals.update_period = seconds / times
    hours = _SKIP_HOURS.search(head)
    signals.skip_hours = sorted({int(h) % 24 for h in _HOUR.findall(hours.group(1))}) \
        if hours else []
    days = _SKIP_DAYS.search(head)
    signals.skip_days = sorted({_DAYS[d.decode().lower()] for d in _DAY.findall(days.group(1))
                                if d.decode().lower() in _DAYS}) if days else []
    if len(signals.skip_hours) == 24 or len(signals.skip_days) == 7:
        # "never poll" is no schedule; ignore it rather than stop watching the source
        signals.skip_hours, signals.skip_days = [], []
    return signals
