"""The chaos suite's own yardsticks: the table check must see a table behind or ahead of
the output (tests/test_chaos.py relies on it to prove the tables match a replay)."""

from __future__ import annotations

import copy

import pytest

from tests.chaos import table_mismatches, tally


def article(id_: str, version: int, content: str, url: str | None = None) -> dict:
    return {"id": id_, "version": version, "url": url or f"http://s/{id_}",
            "fingerprints": {"content_hash": content}}


ARTICLES = [article("a", 1, "h1"), article("b", 1, "h2"), article("a", 2, "h3")]
DUPLICATES = [{"duplicate_id": "c", "duplicate_url": "http://s/c", "original_id": "b"}]
TABLES = {
    "dedupe-emitted": {"h1": {"a": "new:a:1"}, "h2": {"a": "new:b:1"},
                       "h3": {"a": "version:a:2"}, "h2c": {"a": "duplicate:c:1"}},
    "dedupe-urls": {"a": {"v": 2, "h": "h3"}, "b": {"v": 1, "h": "h2"},
                    "c": {"v": 1, "h": "h2c"}},
    "fetch-seen": {"http://s/a": {}, "http://s/b": {}, "http://s/c": {}},
}


def test_tables_that_match_the_output_pass():
    assert table_mismatches(TABLES, ARTICLES, DUPLICATES) == []


@pytest.mark.parametrize("change", [
    lambda t: t["dedupe-emitted"].pop("h3"),                       # behind: would emit again
    lambda t: t["dedupe-emitted"].update(h9={"a": "new:z:1"}),     # ahead: never came out
    lambda t: t["dedupe-emitted"].pop("h2c"),                      # a copy not recorded
    lambda t: t["dedupe-urls"].update(a={"v": 1, "h": "h1"}),      # version behind
    lambda t: t["dedupe-urls"].update(a={"v": 3, "h": "h4"}),      # version never emitted
    lambda t: t["fetch-seen"].pop("http://s/b"),                   # fetched page forgotten
])
def test_a_table_behind_or_ahead_of_the_output_is_reported(change):
    tables = copy.deepcopy(TABLES)
    change(tables)
    assert len(table_mismatches(tables, ARTICLES, DUPLICATES)) == 1


def test_tally_counts_lost_doubled_and_versions_going_backwards():
    articles = [article("a", 2, "h2"), article("a", 1, "h1"), article("b", 1, "h3"),
                article("b", 1, "h3")]
    found = tally(["http://s/a", "http://s/b", "http://s/c"], articles, [], [])
    assert found.lost == ["http://s/c"]
    assert found.doubled == 1
    assert found.versions_backwards == ["a"]
