"""The health rules and their evaluation: facts about a source in, a state and its reason out.

``evaluate`` is pure: the worker runs it on every change and the status command runs it
again on the published facts at read time, so a source whose events stopped altogether (a
dead poller, a stuck partition) still turns ``quiet`` for whoever looks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: every state, worst first (the order of `kabar sources status`)
STATES = ("failing", "drifting", "quiet", "healthy")

#: a body shorter than this counts towards extraction drift
SHORT_BODY_WORDS = 80

#: the reasons of consecutive errors, as operators group them
ERROR_CLASSES = ("bot_wall", "robots", "http_4xx", "http_5xx", "timeout", "network", "other")

_TIMEOUTS = frozenset({"timeout", "connect_timeout", "read_timeout"})
_NETWORK = frozenset({"connect_error", "dns_error", "tls_error", "truncated", "bad_response",
                      "circuit_open"})


def error_class(reason: str) -> str:
    """The class of a fetch error reason (``http_403``, ``timeout``, ``robots_disallowed``…).

    A 403 to a well-behaved crawler that obeys robots.txt is almost always a bot wall (a
    CDN's challenge page or a user-agent block), so it has a class of its own."""
    if reason.startswith("robots_"):
        return "robots"
    if reason in ("http_403", "bot_wall"):
        return "bot_wall"
    if reason.startswith("http_4"):
        return "http_4xx"
    if reason.startswith("http_5"):
        return "http_5xx"
    if reason in _TIMEOUTS:
        return "timeout"
    if reason in _NETWORK:
        return "network"
    return "other"


@dataclass(frozen=True, slots=True)
class HealthRules:
    """When a source stops being healthy; defaults in settings ``[health]``, any of them
    overridden per source in its ``[source.health]`` table."""

    #: quiet: no new article for quiet_factor × its usual interval between new articles …
    quiet_factor: float
    #: … and never sooner than this many seconds (also the limit while the interval is unknown)
    quiet_min: float
    #: failing: this many errors in a row (polls and page fetches), whatever their reasons
    failing_errors: int
    #: drifting: the drift share of the recent pages above the source's baseline by this much
    drift_margin: float
    #: how many recent pages the drift and dead-letter shares are taken over
    drift_window: int
    #: pages that must have left the window (the baseline) before drift is judged
    drift_min_baseline: int


RULE_NAMES = tuple(f.name for f in dataclasses.fields(HealthRules))


def rules_for(defaults: Any, overrides: Mapping[str, Any] | None = None) -> HealthRules:
    """The effective rules of a source: ``defaults`` (an object with one attribute per rule,
    such as ``Settings.health``) with its ``overrides`` applied."""
    overrides = overrides or {}
    return HealthRules(**{name: overrides.get(name, getattr(defaults, name))
                          for name in RULE_NAMES})


def check_overrides(raw: Any, duration: Callable[[Any], float]
                    ) -> tuple[dict[str, Any], list[str]]:
    """A source's ``health`` table checked and converted: (overrides, problems).

    ``duration`` parses ``quiet_min`` ("90s", "2h", 3600)."""
    if not isinstance(raw, dict):
        return {}, ["health must be a table, such as health = { failing_errors = 5 }"]
    overrides: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key not in RULE_NAMES:
            problems.append(f"health: unknown rule {key!r} (known: {', '.join(RULE_NAMES)})")
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key == "quiet_min":
            try:
                overrides[key] = duration(value)
            except ValueError as exc:
                problems.append(f"health.quiet_min: {exc}")
        elif key in ("failing_errors", "drift_window", "drift_min_baseline"):
            if not number or not isinstance(value, int) or value < 1:
                problems.append(f"health.{key} must be an integer >= 1, got {value!r}")
            else:
                overrides[key] = value
        elif key == "quiet_factor":
            if not number or not 0 < value < math.inf:  # nan fails this too
                problems.append(f"health.quiet_factor must be a number > 0, got {value!r}")
            else:
                overrides[key] = float(value)
        elif not number or not 0 <= value <= 1:  # drift_margin
            problems.append(f"health.drift_margin must be a share from 0 to 1, got {value!r}")
        else:
            overrides[key] = float(value)
    return overrides, problems


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """What is known about one source at one moment (times are Unix seconds)."""

    tracked_since: float
    last_poll_at: float | None = None
    #: ok | not_modified | the error reason of the last poll of the source's listings
    last_poll_outcome: str | None = None
    last_new_article_at: float | None = None
    #: mean time between the source's recent new articles; None until there are two
    usual_interval: float | None = None
    articles_per_day: float = 0.0
    #: errors in a row since the last success, by class (ERROR_CLASSES)
    consecutive_errors: dict[str, int] = field(default_factory=dict)
    #: the last error's reason and URL
    last_error: str | None = None
    #: pages in the window (fetched or dead-lettered on the way)
    pages: int = 0
    dead_letter_share: float = 0.0
    #: pages of the window that reached extraction (the others failed to fetch)
    extracted_pages: int = 0
    #: share of those with no body, no date or a short body
    drift_share: float | None = None
    #: of those pages: how many had no body, no date, a short body
    drift_by_kind: dict[str, int] = field(default_factory=dict)
    #: the same share over the pages before the window
    drift_baseline: float | None = None
    drift_baseline_pages: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str
    reason: str


def evaluate(facts: HealthFacts, rules: HealthRules, now: float) -> Verdict:
    """The state of a source at ``now``, with a one-line reason: failing, drifting, quiet
    or healthy, the first whose rule holds."""
    errors = sum(facts.consecutive_errors.values())
    if errors >= rules.failing_errors:
        by_class = ", ".join(f"{name} ×{n}" for name, n in sorted(
            facts.consecutive_errors.items(), key=lambda item: (-item[1], item[0])))
        return Verdict("failing", f"{errors} errors in a row ({by_class}; failing after "
                                  f"{rules.failing_errors}); last: {facts.last_error}")
    drift = _drift(facts, rules)
    if drift is not None:
        return Verdict("drifting", drift)
    silent_since = facts.last_new_article_at or facts.tracked_since
    silent = now - silent_since
    interval = facts.usual_interval
    limit = max(rules.quiet_factor * interval, rules.quiet_min) if interval else rules.quiet_min
    poll = _poll_note(facts, now)
    if silent > limit:
        if facts.last_new_article_at is None:
            return Verdict("quiet", f"no new article since tracking began {human(silent)} ago "
                                    f"(quiet after {human(limit)}); {poll}")
        usual = f"usually one every {human(interval)}; " if interval else ""
        return Verdict("quiet", f"no new article for {human(silent)} ({usual}quiet after "
                                f"{human(limit)}); {poll}")
    if facts.last_new_article_at is None:
        return Verdict("healthy", f"no new article yet (tracked {human(silent)}); {poll}")
    return Verdict("healthy", f"{facts.articles_per_day:.1f} new articles/day, last "
                              f"{human(silent)} ago; {poll}")


def _drift(facts: HealthFacts, rules: HealthRules) -> str | None:
    if (facts.drift_share is None or facts.drift_baseline is None
            or facts.drift_baseline_pages < rules.drift_min_baseline):
        return None
    if facts.drift_share - facts.drift_baseline <= rules.drift_margin:
        return None
    kinds = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in facts.drift_by_kind.items()
                      if n)
    return (f"{facts.drift_share:.0%} of the last {facts.extracted_pages} pages have no body, "
            f"no date or under {SHORT_BODY_WORDS} words ({kinds}); baseline "
            f"{facts.drift_baseline:.0%}, drifting above +{rules.drift_margin:.0%}")


def _poll_note(facts: HealthFacts, now: float) -> str:
    if facts.last_poll_at is None:
        return "never polled"
    return f"last poll {facts.last_poll_outcome} {human(now - facts.last_poll_at)} ago"


def human(seconds: float) -> str:
    """A duration for people: 45s, 12m, 3h20m, 2d4h."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s".replace(".0s", "s")
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"
