"""The published form of a source's health (``SourceHealth`` on kabar.source-health) and
back: the status command re-evaluates the published facts at the moment it reads them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from worker.health.rules import HealthFacts, HealthRules, evaluate
from worker.models import SourceHealth


def _iso(when: float | None) -> str | None:
    return None if when is None else datetime.fromtimestamp(when, UTC).isoformat(
        timespec="seconds")


def _epoch(when: str | None) -> float | None:
    return None if when is None else datetime.fromisoformat(when).timestamp()


def health_record(source: str, facts: HealthFacts, rules: HealthRules, now: float
                  ) -> SourceHealth:
    """The record for ``source``: its facts, its rules and their verdict at ``now``."""
    verdict = evaluate(facts, rules, now)
    return SourceHealth(
        source=source, state=verdict.state, reason=verdict.reason, evaluated_at=_iso(now) or "",
        tracked_since=_iso(facts.tracked_since) or "", last_poll_at=_iso(facts.last_poll_at),
        last_poll_outcome=facts.last_poll_outcome,
        last_new_article_at=_iso(facts.last_new_article_at),
        usual_interval_s=None if facts.usual_interval is None else round(facts.usual_interval,
                                                                           1),
        articles_per_day=round(facts.articles_per_day, 2),
        consecutive_errors=sum(facts.consecutive_errors.values()),
        errors_by_reason=dict(facts.consecutive_errors), last_error=facts.last_error,
        pages=facts.pages, dead_letter_share=round(facts.dead_letter_share, 3),
        extracted_pages=facts.extracted_pages,
        drift_share=None if facts.drift_share is None else round(facts.drift_share, 3),
        drift_by_kind=dict(facts.drift_by_kind),
        drift_baseline=None if facts.drift_baseline is None else round(facts.drift_baseline, 3),
        drift_baseline_pages=facts.drift_baseline_pages, rules=dataclasses.asdict(rules),
    )


def reevaluate(record: SourceHealth, now: float) -> SourceHealth:
    """``record`` judged again at ``now`` by its own rules: time has passed since the
    worker published it (a source that went silent, or whose worker stopped, turns quiet)."""
    facts = HealthFacts(
        tracked_since=_epoch(record.tracked_since) or now,
        last_poll_at=_epoch(record.last_poll_at), last_poll_outcome=record.last_poll_outcome,
        last_new_article_at=_epoch(record.last_new_article_at),
        usual_interval=record.usual_interval_s, articles_per_day=record.articles_per_day,
        consecutive_errors=dict(record.errors_by_reason), last_error=record.last_error,
        pages=record.pages, dead_letter_share=record.dead_letter_share,
        extracted_pages=record.extracted_pages, drift_share=record.drift_share,
        drift_by_kind=dict(record.drift_by_kind), drift_baseline=record.drift_baseline,
        drift_baseline_pages=record.drift_baseline_pages,
    )
    return health_record(record.source, facts, HealthRules(**record.rules), now)


def as_json_line(record: SourceHealth) -> dict[str, Any]:
    """A record for scripts: source, state and reason first, then the rest."""
    data = record.to_dict()
    return {key: data.pop(key) for key in ("source", "state", "reason")} | data
