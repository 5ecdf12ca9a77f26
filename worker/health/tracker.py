"""One source's health state, folded from the HealthEvents the stages send, and the facts
the rules judge (``rules.evaluate``).

The state is plain JSON-able data, kept in a table by the worker that owns the source's
host and bounded whatever the source's volume: the last ``drift_window`` pages as one
character each, the last RECENT_ARTICLES article times, one counter per day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from worker.health.rules import HealthFacts, HealthRules, error_class
from worker.models import HealthEvent, Record

#: new-article times kept to learn a source's usual interval
RECENT_ARTICLES = 20
#: a page whose fetch failed: dead-lettered, and no extraction to judge
FETCH_FAILED = "x"
#: a page that was extracted: one hex digit of these bits
NO_BODY, NO_DATE, SHORT, DEAD = 1, 2, 4, 8
DRIFT_BITS = NO_BODY | NO_DATE | SHORT
#: the drift baseline is the running mean of the pages leaving the window, over at most
#: this many windows (old layouts fade out), and it learns nothing while the source drifts:
#: a layout change would otherwise become the norm within a window or two, and the alarm
#: stop while every body is still empty. Raising the source's drift_margin accepts it.
BASELINE_WINDOWS = 10


@dataclass(slots=True)
class SourceState(Record):
    """A table value (``to_dict`` / ``from_dict``), never a message of its own."""

    schema_name: ClassVar[str] = "health-state"

    source: str
    #: the key its events travel under (the source's host): its partition owns the state
    key: str
    tracked_since: float
    last_poll_at: float | None = None
    last_poll_outcome: str | None = None
    last_new_article_at: float | None = None
    recent_articles: list[float] = field(default_factory=list)
    #: Unix day → new articles that day, for the days of the rolling window
    daily: dict[str, int] = field(default_factory=dict)
    #: errors in a row since the last success, by class
    errors: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    #: the recent pages, oldest first: FETCH_FAILED or a hex digit of page bits
    pages: str = ""
    baseline: float = 0.0
    baseline_pages: int = 0


def observe(state: SourceState, event: HealthEvent, rules: HealthRules, *,
            rate_window_days: int) -> None:
    """Fold one event into ``state`` (in place). Events of one source come from several
    stages and partitions, so they may arrive a little out of order: times only grow."""
    at = event.at
    if event.kind == "poll" and (state.last_poll_at is None or at >= state.last_poll_at):
        state.last_poll_at = at
        state.last_poll_outcome = event.error or "ok"
    if event.kind in ("poll", "fetch"):
        if event.error is None:
            state.errors.clear()
        else:
            cls = error_class(event.error)
            state.errors[cls] = state.errors.get(cls, 0) + 1
            state.last_error = f"{event.error} on {event.url}" if event.url else event.error
    if event.kind == "fetch" and event.dead:
        _add_page(state, FETCH_FAILED, rules)
    elif event.kind == "page":
        state.errors.clear()  # the page was fetched: the source answers
        bits = ((NO_BODY if event.no_body else 0) | (NO_DATE if event.no_date else 0)
                | (SHORT if event.short else 0) | (DEAD if event.dead else 0))
        _add_page(state, format(bits, "x"), rules)
    elif event.kind == "article":
        state.last_new_article_at = max(at, state.last_new_article_at or at)
        state.recent_articles = sorted([*state.recent_articles, at])[-RECENT_ARTICLES:]
        day = int(at // 86_400)
        state.daily[str(day)] = state.daily.get(str(day), 0) + 1
        for old in [d for d in state.daily if int(d) <= day - rate_window_days]:
            del state.daily[old]


def _drift_share(pages: str) -> float | None:
    extracted = [int(code, 16) for code in pages if code != FETCH_FAILED]
    return sum(1 for bits in extracted if bits & DRIFT_BITS) / len(extracted) if extracted \
        else None


def _add_page(state: SourceState, code: str, rules: HealthRules) -> None:
    pages = state.pages + code
    share = _drift_share(pages[-rules.drift_window:])
    learning = not (state.baseline_pages >= rules.drift_min_baseline and share is not None
                    and share - state.baseline > rules.drift_margin)
    while len(pages) > rules.drift_window:
        left, pages = pages[0], pages[1:]
        if left != FETCH_FAILED and learning:
            bad = 1.0 if int(left, 16) & DRIFT_BITS else 0.0
            state.baseline_pages += 1
            weight = min(state.baseline_pages, BASELINE_WINDOWS * rules.drift_window)
            state.baseline += (bad - state.baseline) / weight
    state.pages = pages


def facts(state: SourceState, now: float, *, rate_window_days: int) -> HealthFacts:
    """What the rules judge, derived from ``state`` at ``now``."""
    recent = state.recent_articles
    interval = (recent[-1] - recent[0]) / (len(recent) - 1) if len(recent) >= 2 else None
    today = int(now // 86_400)
    in_window = sum(n for day, n in state.daily.items() if today - int(day) < rate_window_days)
    days = min(float(rate_window_days), max(1.0, (now - state.tracked_since) / 86_400))
    pages = state.pages
    extracted = [int(code, 16) for code in pages if code != FETCH_FAILED]
    dead = sum(1 for code in pages if code == FETCH_FAILED or int(code, 16) & DEAD)
    return HealthFacts(
        tracked_since=state.tracked_since,
        last_poll_at=state.last_poll_at,
        last_poll_outcome=state.last_poll_outcome,
        last_new_article_at=state.last_new_article_at,
        usual_interval=interval,
        articles_per_day=in_window / days,
        consecutive_errors=dict(state.errors),
        last_error=state.last_error,
        pages=len(pages),
        dead_letter_share=dead / len(pages) if pages else 0.0,
        extracted_pages=len(extracted),
        drift_share=_drift_share(pages),
        drift_by_kind={kind: sum(1 for bits in extracted if bits & bit)
                       for kind, bit in (("no_body", NO_BODY), ("no_date", NO_DATE),
                                         ("short", SHORT))},
        drift_baseline=state.baseline if state.baseline_pages else None,
        drift_baseline_pages=state.baseline_pages,
    )
