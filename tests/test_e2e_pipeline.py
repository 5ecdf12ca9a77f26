"""End to end on a real broker: the local newsroom → fetch → clean → dedupe → enrich → topics.

The worker runs in this process exactly as `kabar up --once` runs it; the outcome is read
back from the broker's topics with a plain consumer, as a downstream service would.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from worker.fetch.sources import load_sources
from worker.kafka_io import read_all
from worker.models import SCHEMA_VERSION
from worker.newsroom import Newsroom
from worker.runner import run_pipeline
from worker.settings import Settings

pytestmark = pytest.mark.broker

SEED_URL_PART = "/international/1211457/"
BOILERPLATE = ("Baca Juga", "tulis komentar", "(sya)", "WIB")


def schema(suffix: str) -> dict:
    path = resources.files("worker").joinpath("schemas", f"{suffix}.v{SCHEMA_VERSION}.json")
    return json.loads(path.read_text())


async def run_newsroom(settings: Settings, tmp_path: Path, newsroom: Newsroom | None = None
                       ) -> tuple[Newsroom, dict[str, list[dict]]]:
    async with newsroom or Newsroom() as newsroom:
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(newsroom.sources_toml())
        await run_pipeline(settings, sources=load_sources(sources_file), once=True,
                           progress=False, timeout=150)
    topics = {
        suffix: await read_all(settings.broker.url, settings.topic_name(suffix))
        for suffix in ("articles", "duplicates", "deadletter")
    }
    return newsroom, topics


async def test_newsroom_flows_through_the_pipeline_into_exact_topics(
    pipeline_settings: Settings, tmp_path: Path
) -> None:

    newsroom, topics = await run_newsroom(pipeline_settings, tmp_path)
    articles, duplicates, dead = topics["articles"], topics["duplicates"], topics["deadletter"]

    # every message a consumer sees matches the published contract
    for suffix, messages in topics.items():
        for message in messages:
            jsonschema.validate(message, schema(suffix))

    # the seed story: once, each paragraph once, no boilerplate, its date and dateline
    seeds = [a for a in articles if SEED_URL_PART in a["url"]]
    assert len(seeds) == 1, [a["url"] for a in articles]
    seed = seeds[0]
    assert seed["title"] == "Kalah Lawan Azerbaijan, Sekutu Rusia Ancam Membelot ke Prancis"
    assert seed["published_at"] == "2023-10-07T08:48:00+07:00"
    assert seed["dateline"] == "YEREVAN"
    assert seed["language"] == "id"
    assert seed["paragraphs"][0].startswith("Presiden Armenia Vahagn Khachaturyan")
    assert len(seed["paragraphs"]) == len(set(seed["paragraphs"])) == 16
    for marker in BOILERPLATE:
        assert marker not in seed["body"], marker
    people = {e["text"] for e in seed["enrichment"]["entities"] if e["type"] == "person"}
    assert {"Vladimir Putin", "Nikol Pashinyan", "Vahagn Khachaturyan"} <= people

    # the English story comes through too; the syndicated copy does not
    assert any("harbour-city" in a["url"] for a in articles)
    assert len(articles) == 2, [a["url"] for a in articles]

    # the syndicated copy is reported as a duplicate of the first
    assert len(duplicates) == 1, duplicates
    assert duplicates[0]["original_id"] == seed["id"]
    assert "127.0.0.2" in duplicates[0]["duplicate_url"]
    assert duplicates[0]["kind"] == "exact"

    # the broken page is a dead letter with its reason and the original page
    assert len(dead) == 1, dead
    assert dead[0]["stage"] == "clean"
    assert dead[0]["reason"] == "no_article_body"
    assert "halaman-hilang" in dead[0]["url"]
    assert dead[0]["payload"]["html"]

    # every request carried Kabar's User-Agent; robots.txt was asked before the articles
    assert newsroom.requests and all("KabarBot" in r.user_agent for r in newsroom.requests)
    for address in {r.host for r in newsroom.requests}:
        paths = [r.path for r in newsroom.requests if r.host == address]
        assert paths[0] == "/robots.txt", paths


async def test_restarted_worker_recovers_its_tables_from_the_changelog(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    """A second run under the same prefix starts with empty memory and rebuilds its tables
    from their changelog topics: the feeds' known items are not fetched again, and the one
    story the publisher edited (announced as updated) comes out as version 2 of its id."""
    from worker.newsroom import page_html

    newsroom, first = await run_newsroom(pipeline_settings, tmp_path)
    assert len(first["articles"]) == 2
    assert len(first["deadletter"]) == 1

    edited = page_html("english_article.html").replace(
        b"</article>",
        b"<p>Update: the council confirmed on Friday that the first tidal basin will open "
        b"to swimmers next summer, after water quality tests by the harbour authority.</p>"
        b"</article>", 1,
    )
    assert edited != page_html("english_article.html")
    # the same sites at the same addresses, one story edited
    edited_newsroom = Newsroom(port=newsroom.port, revisions={"english_article.html": edited})
    _, second = await run_newsroom(pipeline_settings, tmp_path, edited_newsroom)
    articles, duplicates = second["articles"], second["duplicates"]
    assert len(articles) == 3, [(a["url"], a["version"]) for a in articles]
    assert len(second["deadletter"]) == 1  # the broken page is not fetched again
    english = [a for a in articles if "harbour-city" in a["url"]]
    assert [a["version"] for a in english] == [1, 2]
    assert english[0]["id"] == english[1]["id"]
    assert "first tidal basin will open" in english[1]["body"]
    assert len(duplicates) == 1
