"""The duplicate index: versions, URL variants, exact and near copies, the winner rule,
corrections, retention, and state that survives a JSON round trip (a changelog replay)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from worker.dedupe.fingerprints import fingerprints
from worker.dedupe.index import (
    DEFAULT_RETENTION,
    BandIndex,
    Decision,
    audit,
    check_content,
    check_version,
    correction_events,
    decide,
    duplicate_event,
    expire,
    expire_bands,
    record,
    resolve_originals,
)
from worker.models import Article
from worker.urls import article_id, canonical_url

DAY = 86_400.0
NOW = 1_700_000_000.0


def story(seed: int, paragraphs: int = 8, words: int = 50) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{rng.randrange(5000)}" for _ in range(3000)]
    return [
        " ".join(rng.choice(vocab) for _ in range(words)).capitalize() + "."
        for _ in range(paragraphs)
    ]


def article(
    url: str,
    paragraphs: list[str],
    published: str | None = "2024-05-01T10:00:00+00:00",
    canonical: str | None = None,
) -> Article:
    owner = canonical or canonical_url(url)
    return Article(
        id=article_id(owner), url=url, canonical_url=owner,
        body="\n\n".join(paragraphs), paragraphs=paragraphs, published_at_utc=published,
    )


class Tables:
    """The four index tables of one process."""

    def __init__(self, factory: type = dict) -> None:
        self.urls, self.contents, self.sigs, self.bands = (factory() for _ in range(4))

    def decide(self, art: Article, now: float = NOW, **kw: Any) -> Decision:
        return decide(
            art, fingerprints(art), urls=self.urls, contents=self.contents,
            sigs=self.sigs, bands=self.bands, now=now, **kw,
        )


class Replayed(MutableMapping[str, Any]):
    """A table whose values go through JSON on every write and read, like a Faust table
    restored from its changelog: in-place mutation of a read value changes nothing."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> Any:
        return orjson.loads(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_first_article_is_new():
    assert Tables().decide(article("https://a.test/1", story(1))).kind == "new"


def test_same_url_same_content_is_unchanged():
    tables = Tables()
    tables.decide(article("https://a.test/1", story(1)))
    again = tables.decide(article("https://a.test/1?utm_source=x", story(1)), now=NOW + 60)
    assert (again.kind, again.emit, again.version) == ("unchanged", False, 1)


def test_same_url_changed_content_is_a_new_version_of_the_same_id():
    tables = Tables()
    first = story(1)
    tables.decide(article("https://a.test/1", first))
    second = tables.decide(article("https://a.test/1", [*first, "An update paragraph."]))
    third = tables.decide(article("https://a.test/1", [*first, "A second update."]))
    assert (second.kind, second.version, third.kind, third.version) == (
        "version", 2, "version", 3,
    )
    assert tables.decide(article("https://a.test/1", [*first, "A second update."])).kind == (
        "unchanged"
    )


def test_variant_url_naming_the_original_as_canonical_is_a_url_duplicate():
    tables = Tables()
    original = article("https://a.test/story", story(1))
    tables.decide(original)
    amp = article("https://a.test/amp/story", story(1), canonical="https://a.test/story")
    decision = tables.decide(amp)
    assert (decision.kind, decision.dup_kind, decision.original_id) == (
        "duplicate", "url", original.id,
    )
    event = duplicate_event(amp, decision, "2024-05-01T10:00:00+00:00")
    assert event.duplicate_id == article_id("https://a.test/amp/story")
    assert (event.original_id, event.original_url, event.kind) == (
        original.id, "https://a.test/story", "url",
    )


def test_same_content_at_another_url_is_an_exact_duplicate():
    tables = Tables()
    original = article("https://a.test/1", story(1))
    tables.decide(original)
    copy = article(
        "https://b.test/syndicated", [p.upper() for p in story(1)],
        published="2024-05-01T11:00:00+00:00",
    )
    decision = tables.decide(copy)
    assert (decision.kind, decision.dup_kind, decision.original_id, decision.similarity) == (
        "duplicate", "exact", original.id, 1.0,
    )
    event = duplicate_event(copy, decision, "2024-05-01T10:00:00+00:00")
    assert (event.duplicate_id, event.original_url, event.correction) == (
        copy.id, original.url, False,
    )


def test_edited_copy_is_a_near_duplicate():
    tables = Tables()
    paragraphs = story(2, paragraphs=10)
    original = article("https://a.test/2", paragraphs)
    tables.decide(original)
    edited = [
        "Jakarta - " + paragraphs[0],
        *paragraphs[1:6],
        "Baca Juga: Harga emas naik lagi hari ini",
        *paragraphs[6:9],
        "(sya)",
    ]
    decision = tables.decide(
        article("https://b.test/copy", edited, published="2024-05-01T19:00:00+07:00")
    )
    assert (decision.kind, decision.dup_kind, decision.original_id) == (
        "duplicate", "near", original.id,
    )
    assert 0.8 <= decision.similarity < 1.0


def test_different_story_sharing_a_background_paragraph_is_new():
    tables = Tables()
    first = story(3)
    tables.decide(article("https://a.test/3", first))
    follow_up = [*story(4, paragraphs=6), first[-1]]
    assert tables.decide(article("https://a.test/4", follow_up)).kind == "new"


def test_short_bodies_are_never_content_duplicates():
    tables = Tables()
    stub = ["Subscribe to read this article."]
    tables.decide(article("https://a.test/paywalled-1", stub))
    assert tables.decide(article("https://a.test/paywalled-2", stub)).kind == "new"


def test_copies_published_at_the_same_time_keep_the_smallest_id():
    tables = Tables()
    one, two = (article(f"https://{h}.test/same", story(13)) for h in "ab")
    first, second = sorted((one, two), key=lambda a: a.id, reverse=True)
    tables.decide(first)
    decision = tables.decide(second)
    assert decision.kind == "new"
    assert [(f.duplicate_id, f.original_id) for f in decision.corrections] == [
        (first.id, second.id)
    ]


def test_earlier_published_copy_arriving_later_wins_with_a_correction():
    tables = Tables()
    late = article("https://a.test/1", story(5), published="2024-05-02T08:00:00+00:00")
    early = article("https://b.test/1", story(5), published="2024-05-01T08:00:00+00:00")
    assert tables.decide(late).kind == "new"
    decision = tables.decide(early)
    assert decision.kind == "new"
    [event] = correction_events(decision, "2024-05-02T09:00:00+00:00")
    assert (event.duplicate_id, event.original_id, event.correction) == (
        late.id, early.id, True,
    )
    third = tables.decide(article("https://c.test/1", story(5), published=None))
    assert (third.kind, third.original_id) == ("duplicate", early.id)


def test_final_originals_do_not_depend_on_arrival_order():
    base = story(6, paragraphs=10)
    copies = [
        article("https://a.test/x", base, published="2024-05-01T09:00:00+00:00"),
        article("https://b.test/x", base[1:], published="2024-05-01T07:00:00+00:00"),
        article("https://c.test/x", [*base, "Read more: other news"], published=None),
        article("https://d.test/x", base, published="2024-05-01T08:00:00+00:00"),
    ]
    outcomes = set()
    for order in itertools.permutations(copies):
        tables, events = Tables(), []
        for art in order:
            decision = tables.decide(art)
            events.extend(correction_events(decision, "t"))
            if decision.kind == "duplicate":
                events.append(duplicate_event(art, decision, "t"))
        outcomes.add(tuple(sorted(resolve_originals(events).items())))
    assert len(outcomes) == 1
    [resolved] = outcomes
    winner = copies[1].id
    assert dict(resolved) == {c.id: winner for c in copies if c.id != winner}


def test_copies_older_than_the_retention_window_are_forgotten():
    tables = Tables()
    tables.decide(article("https://a.test/1", story(7)))
    later = NOW + DEFAULT_RETENTION + DAY
    assert tables.decide(article("https://b.test/1", story(7)), now=later).kind == "new"


def test_expire_removes_only_stale_records_of_the_given_partition():
    urls: dict[str, Any] = {}
    for i, (seen, partition) in enumerate([(NOW - 20 * DAY, 0), (NOW - 20 * DAY, 1), (NOW, 0)]):
        art = article(f"https://a.test/{i}", story(i))
        check_version(art, fingerprints(art), urls=urls, now=seen, partition=partition)
    assert expire(urls, now=NOW, partition=0) == 1
    assert sorted(r["p"] for r in urls.values()) == [0, 1]
    assert expire(urls, now=NOW) == 1


def test_expire_bands_drops_members_whose_signature_expired():
    tables = Tables()
    old = article("https://a.test/old", story(8))
    tables.decide(old, now=NOW - 20 * DAY)
    tables.decide(article("https://a.test/new", story(9)))
    expire(tables.sigs, now=NOW)
    assert expire_bands(tables.bands, sigs=tables.sigs) > 0
    assert all(old.id not in bucket for bucket in tables.bands.values())


def test_decisions_survive_a_changelog_replay_of_the_tables():
    plain, replayed = Tables(), Tables(Replayed)
    base = story(10, paragraphs=10)
    stream = [
        article("https://a.test/1", base),
        article("https://a.test/1", [*base, "Update."]),
        article("https://b.test/1", base[:-1]),
        article("https://c.test/1", story(11)),
        article("https://c.test/1", story(11)),
        article("https://d.test/1", [*base, "Update."]),
    ]
    assert [plain.decide(a) for a in stream] == [replayed.decide(a) for a in stream]


def test_racing_near_copies_on_two_workers_converge_after_audit():
    base = story(12, paragraphs=10)
    a = article("https://a.test/r", base, published="2024-05-01T10:00:00+00:00")
    b = article("https://b.test/r", base[:-1], published="2024-05-01T09:00:00+00:00")
    shared_contents: dict[str, Any] = {}
    # Each worker's view of the global tables lacks the other's write (replication lag).
    views = []
    for art in (a, b):
        urls: dict[str, Any] = {}
        sigs: dict[str, Any] = {}
        bands: dict[str, Any] = {}
        fps = fingerprints(art)
        prior = check_version(art, fps, urls=urls, now=NOW)
        decision = check_content(
            art, fps, prior, contents=shared_contents, sigs=sigs, bands=bands, now=NOW
        )
        assert decision.kind == "new" and not decision.corrections
        record(art, fps, decision, contents=shared_contents, sigs=sigs, bands=bands, now=NOW)
        views.append((sigs, bands))
    # Replication: the global tables converge to the log order (b's bucket writes last, so
    # the shared buckets lost a: a concurrent read-modify-write).
    sigs = {**views[0][0], **views[1][0]}
    bands = {**views[0][1], **views[1][1]}
    fixes_a = audit(a.id, sigs=sigs, bands=bands, now=NOW + 5)
    fixes_b = audit(b.id, sigs=sigs, bands=bands, now=NOW + 5)
    assert [(f.duplicate_id, f.original_id) for f in fixes_a] == [(a.id, b.id)]
    # b's audit reports the same correction again: events are idempotent, never lost
    assert fixes_b == fixes_a
    assert sigs[a.id]["d"] == b.id
    # One worker, same input: the same final answer.
    single, events = Tables(), []
    for art in (a, b):
        decision = single.decide(art)
        events.extend(correction_events(decision, "t"))
    assert resolve_originals(events) == {a.id: b.id}


def test_a_redelivered_message_gets_its_first_decision_again():
    """At-least-once delivery: the first pass recorded the fetch, its output may be lost."""
    urls: dict[str, Any] = {}
    first = article("https://a.test/1", story(20))
    first.fetched_at = "2024-05-01T10:05:00+00:00"
    fps = fingerprints(first)
    assert check_version(first, fps, urls=urls, now=NOW).kind == "new"
    assert check_version(first, fps, urls=urls, now=NOW + 1).kind == "new"
    edited = article("https://a.test/1", [*story(20), "Update."])
    edited.fetched_at = "2024-05-01T12:05:00+00:00"
    edited_fps = fingerprints(edited)
    assert check_version(edited, edited_fps, urls=urls, now=NOW + 2).version == 2
    again = check_version(edited, edited_fps, urls=urls, now=NOW + 3)
    assert (again.kind, again.version) == ("version", 2)
    refetch = article("https://a.test/1", [*story(20), "Update."])
    refetch.fetched_at = "2024-05-01T14:05:00+00:00"
    assert check_version(refetch, edited_fps, urls=urls, now=NOW + 4).kind == "unchanged"
    assert check_version(refetch, edited_fps, urls=urls, now=NOW + 5).kind == "unchanged"


def test_a_redelivered_winner_reports_its_corrections_again():
    tables = Tables()
    late = article("https://a.test/9", story(21), published="2024-05-02T08:00:00+00:00")
    early = article("https://b.test/9", story(21)[:-1], published="2024-05-01T08:00:00+00:00")
    tables.decide(late)
    first = tables.decide(early)
    fps = fingerprints(early)
    again = check_content(
        early, fps, Decision("new"), contents=tables.contents, sigs=tables.sigs,
        bands=tables.bands, now=NOW,
    )
    assert [(f.duplicate_id, f.original_id) for f in first.corrections] == [(late.id, early.id)]
    assert again.corrections == first.corrections


def test_a_band_index_derived_from_the_signatures_finds_the_same_near_copies() -> None:
    """A worker fills its band index from the signature records it reads (its own and
    other workers'), not from band records: the decisions are the ones of a process that
    wrote its bands itself."""
    paragraphs = story(30, paragraphs=10)
    original = article("https://a.test/o", paragraphs)
    unrelated = article("https://c.test/u", story(31, paragraphs=10))
    copy = article("https://b.test/copy", ["Jakarta - " + paragraphs[0], *paragraphs[1:9]],
                   published="2024-05-01T19:00:00+00:00")
    written = Tables()
    for art in (original, unrelated):
        written.decide(art)
    derived = Tables()
    derived.sigs = dict(written.sigs)  # another worker's records, as the changelog brings them
    derived.contents = dict(written.contents)
    derived.bands = BandIndex()
    for id_, sig in derived.sigs.items():
        derived.bands.add(id_, sig)
    assert dict(derived.bands) == written.bands
    by_written, by_derived = written.decide(copy), derived.decide(copy)
    assert (by_derived.kind, by_derived.original_id) == ("duplicate", original.id)
    assert by_derived == by_written


def test_a_band_index_refills_for_a_new_version_and_sweeps_expired_signatures() -> None:
    index, sigs = BandIndex(), {}
    first, second = (fingerprints(article("https://a.test/v", story(seed)))
                     for seed in (40, 41))
    sigs["v"] = {"m": first["minhash"]}
    index.add("v", sigs["v"])
    buckets = dict(index)
    index.add("v", {**sigs["v"], "d": "other"})  # retired: the same minhash, nothing to do
    assert dict(index) == buckets
    sigs["v"] = {"m": second["minhash"]}  # a new version's text
    index.add("v", sigs["v"])
    assert all(index.get(key) == "v" for key in second["bands"])
    del sigs["v"]  # expired
    assert index.sweep(sigs) > 0
    assert dict(index) == {} and index.indexed == {}
