"""`kabar demo`: the pipeline against the local sample newsroom, then what came out.

Besides the sample stories, three live sites publish while the demo runs: one goes quiet,
one turns into a bot wall, one changes its layout; the source health table at the end
shows them quiet, failing and drifting next to the healthy sample sites."""

from __future__ import annotations

import collections
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from worker.fetch.sources import load_sources
from worker.health.status import health_table, read_source_health
from worker.kafka_io import read_all
from worker.metrics import PipelineStats
from worker.models import SourceHealth
from worker.newsroom import LIVE_SITES, Newsroom
from worker.runner import run_pipeline
from worker.settings import Settings

#: with --once, how long the live sites are polled before the pipeline drains: long enough
#: for each of them to reach its state (their rules in LIVE_SITES are short for this)
LIVE_SECONDS = 12.0


@dataclass(slots=True)
class DemoSummary:
    articles: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    health: list[SourceHealth] = field(default_factory=list)
    stats: PipelineStats | None = None
    seconds: float = 0.0


async def run_demo(
    settings: Settings, *, once: bool, timeout: float | None,
) -> DemoSummary:
    started = time.monotonic()
    async with Newsroom(live_sites=LIVE_SITES) as newsroom:
        with tempfile.TemporaryDirectory(prefix="kabar-demo-") as tmp:
            sources_file = Path(tmp) / "sources.toml"
            sources_file.write_text(newsroom.sources_toml(), encoding="utf-8")
            stats = await run_pipeline(settings, sources=load_sources(sources_file), once=once,
                                       timeout=timeout, poll_for=LIVE_SECONDS)
    summary = DemoSummary(stats=stats)
    summary.articles = await read_all(settings.broker.url, settings.topic_name("articles"))
    summary.duplicates = await read_all(settings.broker.url, settings.topic_name("duplicates"))
    summary.dead_letters = await read_all(settings.broker.url, settings.topic_name("deadletter"))
    summary.health = await read_source_health(settings.broker.url,
                                              settings.topic_name("source-health"))
    summary.seconds = time.monotonic() - started
    return summary


def _people(article: dict[str, Any], kind: str) -> str:
    entities = article.get("enrichment", {}).get("entities", [])
    return ", ".join(e["text"] for e in entities if e.get("type") == kind)


def repeated_dead_letters(letters: list[dict[str, Any]]
                          ) -> list[tuple[tuple[str, str, str, str], int]]:
    """Dead letters that say the same thing (URL, stage, reason and message), once each with
    how many times, in the order they first came: a listing polled again and refused again
    (a bot wall answering 403 to every poll) is one row, not one a poll."""
    return list(collections.Counter((str(letter.get("url")), letter["stage"], letter["reason"],
                                     letter["message"]) for letter in letters).items())


def print_summary(summary: DemoSummary, console: Console) -> None:
    live = {site.name for site in LIVE_SITES}
    for article in (a for a in summary.articles if a.get("source") not in live):
        table = Table(title=article.get("title") or article["url"], show_header=False,
                      title_justify="left", box=None)
        for name in ("id", "url", "canonical_url", "published_at", "published_at_utc",
                     "dateline", "language", "authors", "site_name", "word_count", "version"):
            table.add_row(name, str(article.get(name)))
        table.add_row("paragraphs", f"{len(article.get('paragraphs', []))} (first: "
                      f"{(article.get('paragraphs') or [''])[0][:70]}…)")
        for kind in ("person", "organization", "place"):
            table.add_row(f"{kind}s", _people(article, kind))
        table.add_row("keywords", ", ".join(article.get("enrichment", {}).get("keywords", [])[:8]))
        console.print(table)
        console.print()
    generated = Table("source", "title", "words", title="stories of the live sites",
                      title_justify="left")
    for article in (a for a in summary.articles if a.get("source") in live):
        generated.add_row(article["source"], article.get("title") or article["url"],
                          str(article.get("word_count")))
    console.print(generated)
    dupes = Table("duplicate url", "kind", "similarity", "original url", title="duplicates",
                  title_justify="left")
    for event in summary.duplicates:
        dupes.add_row(event["duplicate_url"], event["kind"], f"{event['similarity']:.2f}",
                      event["original_url"])
    console.print(dupes)
    dead = Table("url", "stage", "reason", "message", "times", title="dead letters",
                 title_justify="left")
    for (url, stage, reason, message), times in repeated_dead_letters(summary.dead_letters):
        dead.add_row(url, stage, reason, message, str(times))
    console.print(dead)
    console.print(health_table(summary.health))
    console.print(
        f"[bold]{len(summary.articles)} article(s), {len(summary.duplicates)} duplicate(s), "
        f"{len(summary.dead_letters)} dead letter(s) in {summary.seconds:.1f}s[/]"
    )
