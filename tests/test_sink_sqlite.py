"""The SQLite/FTS5 sink: upsert by id and version, search by text, entity and country."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from tests.test_enrich_seed import seed_article
from worker.enrich import enrich
from worker.models import Article, DeadLetter
from worker.sink import SinkError, open_sink
from worker.sink.core import Message, PositionConflict, plan_batch


@pytest.fixture(scope="module")
def seed() -> dict:
    return enrich(seed_article()).to_dict()


def english(
    version: int = 1, body: str = "Chancellor Olaf Scholz met officials in Berlin."
) -> dict:
    article = Article(
        id="en1",
        url="https://example.org/en1",
        title="Berlin talks",
        body=body,
        paragraphs=[body],
        declared_language="en",
        version=version,
    )
    return enrich(article).to_dict()


@pytest.fixture()
def sink(tmp_path):
    with open_sink(tmp_path / "db" / "articles.sqlite") as s:
        yield s


def test_search_by_text_entity_and_country(sink, seed):
    sink.upsert(seed)
    sink.upsert(english())
    assert [r["id"] for r in sink.search(text="Karabakh")] == ["seed"]
    assert [r["id"] for r in sink.search(entity="Vladimir Putin")] == ["seed"]
    assert [r["id"] for r in sink.search(entity="olaf scholz")] == ["en1"]
    assert [r["id"] for r in sink.search(country="am")] == ["seed"]
    assert [r["id"] for r in sink.search(country="DE")] == ["en1"]
    assert sink.search(text="Karabakh", country="DE") == []
    assert {r["id"] for r in sink.search()} == {"seed", "en1"}


def test_entity_search_finds_aliases_and_ignores_accents(sink, seed):
    sink.upsert(seed)
    assert [r["id"] for r in sink.search(entity="Moskow")] == ["seed"]
    assert [r["id"] for r in sink.search(entity="SÉBASTIEN LECORNU")] == ["seed"]


def test_text_search_returns_a_snippet_and_handles_hyphens(sink, seed):
    sink.upsert(seed)
    [hit] = sink.search(text="Nagorno-Karabakh")
    assert "[" in hit["snippet"]


def test_replaying_the_same_version_is_harmless(sink, seed):
    assert sink.upsert(seed) == "inserted"
    assert sink.upsert(seed) == "replayed"
    assert sink.count() == 1
    assert len(sink.search(entity="Putin")) == 1


def test_newer_version_replaces_and_older_version_is_ignored(sink):
    sink.upsert(english(version=1))
    assert (
        sink.upsert(english(version=2, body="President Emmanuel Macron spoke in Paris."))
        == "updated"
    )
    assert sink.search(entity="Olaf Scholz") == []
    assert [r["version"] for r in sink.search(entity="Emmanuel Macron")] == [2]
    assert sink.upsert(english(version=1)) == "stale"
    assert sink.get("en1")["version"] == 2
    assert sink.search(entity="Olaf Scholz") == []


def test_an_article_without_id_is_refused_with_context(sink, seed):
    broken = dict(seed)
    del broken["id"]
    with pytest.raises(SinkError, match="without 'id'"):
        sink.upsert(broken)


def test_data_survives_reopening(tmp_path, seed):
    path = tmp_path / "a.sqlite"
    with open_sink(path) as s:
        s.upsert(seed)
    with open_sink(path) as s:
        assert s.get("seed") == seed
        assert dataclasses.asdict(Article.from_dict(s.get("seed")))["id"] == "seed"


def test_a_batch_commits_with_its_offsets_and_dead_letters(sink, seed):
    topic = "kabar.articles"
    messages = [Message(topic, 0, 0, b"seed", orjson.dumps(seed)),
                Message(topic, 0, 1, b"bad", b"{not json")]
    counts = sink.write(plan_batch(messages, {topic: "articles"}, {}))
    assert (counts["inserted"], counts["rejected"]) == (1, 1)
    assert sink.positions() == {(topic, 0): 2}
    [(_, key, letter)] = sink.pending_dead_letters()
    assert (key, DeadLetter.from_json(letter).reason) == (b"bad", "not_json")
    # the same messages again, by a sink that did not see the first batch stored
    with pytest.raises(PositionConflict):
        sink.write(plan_batch(messages, {topic: "articles"}, {}))
    assert sink.positions() == {(topic, 0): 2}
    assert len(sink.pending_dead_letters()) == 1


def test_a_database_path_under_a_file_is_a_sink_error_not_a_traceback(tmp_path):
    blocker = tmp_path / "articles"
    blocker.write_text("a file, not a directory")
    with pytest.raises(SinkError, match=r"sink .*articles/news\.db: cannot create its "
                       r"directory: File exists"):
        open_sink(str(blocker / "news.db"))
