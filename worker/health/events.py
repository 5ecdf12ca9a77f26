"""What each stage reports of a source: its outcomes turned into HealthEvents."""

from __future__ import annotations

from worker.fetch.stage import LISTING_KINDS, FetchOutcome
from worker.health.rules import SHORT_BODY_WORDS
from worker.models import Article, FetchRequest, HealthEvent


def fetch_events(request: FetchRequest, outcome: FetchOutcome, at: float) -> list[HealthEvent]:
    """A poll of one of the source's listings (ok or its error), or an article fetch that
    failed. A fetched article says nothing yet: the clean stage reports the page."""
    if not request.source:
        return []
    # the stage's own outcome for this request's URL (a listing's items are skipped or
    # announced under their own URLs; every dead letter of a request is about the request)
    skip = dict(outcome.skipped).get(request.url, "")
    # a refusal repeated from the previous poll fails this poll too, dead-lettered or not
    letters = outcome.dead_letters or outcome.repeated
    dead = letters[0].reason if letters else None
    error = dead or (skip if skip.startswith("robots_") else None)
    if request.kind in LISTING_KINDS:
        if skip == "not_due":
            return []
        return [HealthEvent(request.source, "poll", at, url=request.url, error=error)]
    if error is None:
        return []
    return [HealthEvent(request.source, "fetch", at, url=request.url, error=error,
                        dead=dead is not None)]


def page_event(source: str, url: str, article: Article | None, at: float) -> HealthEvent:
    """A page through the clean stage: an article (with what it lacks) or, for None, a page
    that could not be extracted and went to the dead-letter topic."""
    if article is None:
        return HealthEvent(source, "page", at, url=url, no_body=True, dead=True)
    return HealthEvent(source, "page", at, url=url, no_body=not article.body.strip(),
                       no_date=article.published_at is None,
                       short=0 < article.word_count < SHORT_BODY_WORDS)


def article_event(source: str, url: str, at: float) -> HealthEvent:
    """A new article (not a version, not a duplicate) went out."""
    return HealthEvent(source, "article", at, url=url)
