"""The PostgreSQL sink on a real server (tests/postgres.py): upsert by id and version, search
in the article's language, migrations from the first layout, bad rows to dead letters, and
offsets that commit with the rows. The end-to-end test with a broker and SIGKILL is in
tests/test_sink_exactly_once.py."""

from __future__ import annotations

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from tests.test_enrich_seed import seed_article
from worker.cli import main
from worker.enrich import enrich
from worker.models import Article, DeadLetter
from worker.sink import SinkError, open_sink
from worker.sink.core import Message, PositionConflict, entity_forms, plan_batch
from worker.sink.postgres import PostgresSink, migrate, migrations, open_postgres

ARTICLES, DUPLICATES = "kabar.articles", "kabar.duplicates"
KINDS = {ARTICLES: "articles", DUPLICATES: "duplicates"}


@pytest.fixture(scope="module")
def seed() -> dict:
    return enrich(seed_article()).to_dict()


def english(version: int = 1, body: str = "Chancellor Olaf Scholz met officials in Berlin.",
            article_id: str = "en1") -> dict:
    article = Article(id=article_id, url=f"https://example.org/{article_id}",
                      title="Berlin talks", body=body, paragraphs=[body],
                      declared_language="en", version=version,
                      published_at_utc="2026-12-01T10:00:00+00:00")
    return enrich(article).to_dict()


@pytest.fixture
def sink(postgres_url):
    with open_sink(postgres_url) as store:
        assert isinstance(store, PostgresSink)
        yield store


class Feed:
    """Messages as the sink consumes them: offsets counted per topic (one partition)."""

    def __init__(self) -> None:
        self.offsets = {ARTICLES: 0, DUPLICATES: 0}

    def message(self, value: dict | bytes, topic: str = ARTICLES) -> Message:
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        offset = self.offsets[topic]
        self.offsets[topic] += 1
        key = value.get("id") if isinstance(value, dict) else None
        return Message(topic, 0, offset, key.encode() if key else None, raw)


def write(store: PostgresSink, *messages: Message):
    batch = plan_batch(messages, KINDS, store.positions())
    return store.write(batch)


def test_search_by_text_entity_and_country(sink, seed):
    feed = Feed()
    write(sink, feed.message(seed), feed.message(english()))
    assert [r["id"] for r in sink.search(text="Karabakh")] == ["seed"]
    assert [r["id"] for r in sink.search(entity="Vladimir Putin")] == ["seed"]
    assert [r["id"] for r in sink.search(entity="olaf scholz")] == ["en1"]
    assert [r["id"] for r in sink.search(entity="Moskow")] == ["seed"]  # an alias
    assert [r["id"] for r in sink.search(entity="SÉBASTIEN LECORNU")] == ["seed"]
    assert [r["id"] for r in sink.search(country="am")] == ["seed"]
    assert [r["id"] for r in sink.search(country="DE")] == ["en1"]
    assert sink.search(text="Karabakh", country="DE") == []
    [hit] = sink.search(text="Nagorno-Karabakh")
    assert "[" in hit["snippet"]
    assert {r["id"] for r in sink.search()} == {"seed", "en1"}


def test_search_answers_like_the_sqlite_sink(sink, seed, tmp_path):
    feed = Feed()
    write(sink, feed.message(seed), feed.message(english()))
    with open_sink(tmp_path / "a.sqlite") as lite:
        lite.upsert(seed)
        lite.upsert(english())
        for query in ({"text": "Karabakh"}, {"entity": "Putin"}, {"country": "DE"},
                      {"entity": "Olaf Scholz", "country": "DE"}):
            on_lite = [{k: v for k, v in r.items() if k != "snippet"}
                       for r in lite.search(**query)]
            on_pg = [{k: v for k, v in r.items() if k != "snippet"} for r in sink.search(**query)]
            assert on_pg == on_lite, query


def test_full_text_search_stems_in_the_article_language(sink):
    feed = Feed()
    write(sink, feed.message(english(body="The ministers were negotiating budgets.")))
    # english stemming: "negotiate" and "budget" match "negotiating budgets"
    assert [r["id"] for r in sink.search(text="negotiate budget")] == ["en1"]
    [config] = sink.conn.execute("SELECT ts_config::text FROM articles").fetchone()
    assert config == "english"


def test_a_language_without_configuration_is_searched_with_simple(sink):
    article = english(body="Ua hānau ʻia ke keiki ma Honolulu.")
    article["language"] = "haw"
    write(sink, Feed().message(article))
    [config] = sink.conn.execute("SELECT ts_config::text FROM articles").fetchone()
    assert config == "simple"
    assert [r["id"] for r in sink.search(text="Honolulu")] == ["en1"]


def test_newer_version_replaces_and_an_older_one_arriving_late_never_overwrites(sink):
    feed = Feed()
    macron = "President Emmanuel Macron spoke in Paris."
    assert write(sink, feed.message(english(version=2, body=macron)))["inserted"] == 1
    # v1 arrives after v2, in a later batch
    assert write(sink, feed.message(english(version=1)))["not_newer"] == 1
    assert sink.get("en1")["version"] == 2
    assert sink.search(entity="Olaf Scholz") == []
    # v4 and v3 out of order within one batch: v4 wins
    counts = write(sink, feed.message(english(version=4)), feed.message(english(version=3)))
    assert counts["updated"] == 1
    assert sink.get("en1")["version"] == 4
    assert [r["version"] for r in sink.search(entity="Olaf Scholz")] == [4]
    assert sink.count() == 1


def test_the_stored_article_round_trips_with_enrichment_as_jsonb(sink, seed):
    write(sink, Feed().message(seed))
    assert sink.get("seed") == seed
    [kind] = sink.conn.execute(
        "SELECT jsonb_typeof(enrichment -> 'entities') FROM articles").fetchone()
    assert kind == "array"


def duplicate_event(original: dict, duplicate_id: str = "copy1",
                    detected_at: str = "2026-12-01T10:00:00+00:00") -> dict:
    return {"duplicate_id": duplicate_id, "duplicate_url": f"https://mirror.example/{duplicate_id}",
            "original_id": original["id"], "original_url": original["url"], "kind": "near",
            "similarity": 0.93, "detected_at": detected_at, "correction": False,
            "schema_version": 1}


def test_duplicates_are_recorded_as_links_to_their_original(sink, seed):
    feed = Feed()
    write(sink, feed.message(seed), feed.message(duplicate_event(seed), DUPLICATES))
    rows = sink.conn.execute(
        "SELECT d.duplicate_id, a.id, d.kind FROM duplicates d "
        "JOIN articles a ON a.id = d.original_id").fetchall()
    assert rows == [("copy1", "seed", "near")]


def test_offsets_commit_with_the_rows(sink):
    feed = Feed()
    write(sink, feed.message(english(article_id="a")), feed.message(english(article_id="b")))
    assert sink.positions() == {(ARTICLES, 0): 2}
    write(sink, feed.message(english(article_id="c")))
    assert sink.positions() == {(ARTICLES, 0): 3}


def test_a_sink_at_a_stale_position_writes_nothing(sink):
    feed = Feed()
    first = feed.message(english(article_id="a"))
    write(sink, first)
    # a second sink that read the same message before the first stored it
    stale = plan_batch([first, feed.message(english(article_id="b"))], KINDS, {})
    with pytest.raises(PositionConflict, match=r"kabar.articles\[0\]"):
        sink.write(stale)
    assert sink.count() == 1
    assert sink.positions() == {(ARTICLES, 0): 1}


def letters(store: PostgresSink) -> list[DeadLetter]:
    return [DeadLetter.from_json(raw) for _, _, raw in store.pending_dead_letters()]


def test_rows_postgres_refuses_become_dead_letters_and_the_rest_commit(sink):
    feed = Feed()
    nul = english(article_id="nul", body="a NUL \x00 inside")
    bad_date = english(article_id="date")
    bad_date["published_at_utc"] = "the day after tomorrow"
    counts = write(sink, feed.message(english(article_id="good")), feed.message(nul),
                   feed.message(bad_date))
    assert counts["inserted"] == 1
    assert counts["rejected"] == 2
    assert sink.count() == 1
    assert sink.positions() == {(ARTICLES, 0): 3}
    by_key = {letter.key: letter for letter in letters(sink)}
    assert set(by_key) == {"nul", "date"}
    assert all(letter.reason == "rejected_by_database" for letter in by_key.values())
    assert all(letter.stage == "sink" and letter.topic == ARTICLES
               for letter in by_key.values())
    assert "timestamp" in by_key["date"].message
    assert "the day after tomorrow" in by_key["date"].payload
    assert by_key["nul"].url == "https://example.org/nul"
    sink.forget_dead_letters([row_id for row_id, _, _ in sink.pending_dead_letters()])
    assert sink.pending_dead_letters() == []


def test_a_duplicate_event_postgres_refuses_is_dead_lettered(sink, seed):
    feed = Feed()
    bad = duplicate_event(seed, "copy2", detected_at="soon")
    counts = write(sink, feed.message(seed), feed.message(duplicate_event(seed), DUPLICATES),
                   feed.message(bad, DUPLICATES))
    assert (counts["inserted"], counts["rejected"]) == (1, 1)
    assert [d for (d,) in sink.conn.execute("SELECT duplicate_id FROM duplicates")] == ["copy1"]
    [letter] = letters(sink)
    assert (letter.reason, letter.topic, letter.url) == (
        "rejected_by_database", DUPLICATES, "https://mirror.example/copy2")
    assert sink.positions() == {(ARTICLES, 0): 1, (DUPLICATES, 0): 2}


def test_unparsable_and_schema_invalid_messages_become_dead_letters(sink):
    feed = Feed()
    no_url = english(article_id="nourl")
    del no_url["url"]
    wrong_type = english(article_id="wrongtype")
    wrong_type["version"] = "two"
    counts = write(sink, feed.message(b"{not json"), feed.message(no_url),
                   feed.message(wrong_type), feed.message(english(article_id="ok")))
    assert +counts == {"inserted": 1, "rejected": 3}
    reasons = sorted((letter.reason, letter.key) for letter in letters(sink))
    assert reasons == [("not_json", None), ("schema_invalid", "nourl"),
                       ("schema_invalid", "wrongtype")]
    assert any("url" in letter.message for letter in letters(sink))
    assert sink.positions() == {(ARTICLES, 0): 4}


def test_migrates_a_database_in_the_first_layout_with_rows_in_it(postgres_url, seed):
    """0001 is the layout of the first PostgreSQL sink; opening the database with today's
    Kabar migrates its rows to the current layout."""
    with psycopg.connect(postgres_url) as conn:
        assert migrate(conn, target=1) == [1]
        conn.execute(
            "INSERT INTO articles VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (seed["id"], 3, seed["url"], seed["title"], seed["language"],
             seed["published_at_utc"], seed["source"], seed["section"], None,
             orjson.dumps(seed).decode()))
        for ent in seed["enrichment"]["entities"]:
            for form in entity_forms(ent):
                conn.execute("INSERT INTO entities VALUES (%s, %s, %s, %s, %s)",
                             (seed["id"], ent["text"], form, ent["type"], ent["count"]))
        for code, n in seed["enrichment"]["countries"].items():
            conn.execute("INSERT INTO countries VALUES (%s, %s, %s)", (seed["id"], code, n))
        conn.commit()
    with open_postgres(postgres_url) as store:
        applied = store.conn.execute(
            "SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert [v for (v,) in applied] == [v for v, _, _ in migrations()]
        assert store.get("seed") == seed
        assert [r["id"] for r in store.search(entity="Moskow")] == ["seed"]
        assert [r["id"] for r in store.search(country="AM")] == ["seed"]
        assert [(r["id"], r["version"]) for r in store.search(text="Karabakh")] == [("seed", 3)]
        [(config, published)] = store.conn.execute(
            "SELECT ts_config::text, published_at IS NOT NULL FROM articles").fetchall()
        assert (config, published) == ("indonesian", True)
        # the migrated row takes part in the version guard like any other
        stale = dict(seed, version=2)
        assert write(store, Feed().message(stale))["not_newer"] == 1


def test_opening_twice_applies_nothing_more(postgres_url):
    with open_postgres(postgres_url):
        pass
    with psycopg.connect(postgres_url) as conn:
        assert migrate(conn) == []


def test_a_database_from_a_newer_kabar_is_refused(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        migrate(conn)
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
        conn.commit()
    with pytest.raises(SinkError, match=r"migration\(s\) \[9999\].*upgrade Kabar"):
        open_postgres(postgres_url)


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(SinkError, match="cannot connect to PostgreSQL"):
        open_sink("postgresql://kabar:secret@127.0.0.1:1/none")


def test_kabar_search_takes_a_postgres_url(sink, seed, postgres_url):
    write(sink, Feed().message(seed))
    result = CliRunner().invoke(main, ["search", postgres_url, "--entity", "Putin"])
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert orjson.loads(line)["id"] == "seed"
    missing = CliRunner().invoke(main, ["search", "no/such.sqlite", "--text", "x"])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
