"""Routing rules from TOML: which topics an enriched article goes to, and why."""

from __future__ import annotations

import pytest

from tests.test_enrich_seed import seed_article
from worker.enrich import enrich
from worker.routing import RoutingError, explain, load_rules, parse_rules, route

RULES = """
[[route]]
name = "indonesian"
topic = "articles.lang.id"
language = ["id"]

[[route]]
name = "english"
topic = "articles.lang.en"
language = "en"

[[route]]
name = "armenia-desk"
topic = "alerts.armenia"
country = ["AM"]
entity = ["person:Pashinyan"]

[[route]]
name = "karabakh-or-baku"
topic = "alerts.caucasus"
keyword = ["Nagorno-Karabakh", "pipeline"]
source = ["sindo*"]
match = "any"

[[route]]
name = "sports"
topic = "articles.sport"
section = ["Sport", "Olahraga"]
"""


@pytest.fixture(scope="module")
def article():
    return enrich(seed_article())


@pytest.fixture()
def rules(tmp_path):
    path = tmp_path / "routes.toml"
    path.write_text(RULES, encoding="utf-8")
    return load_rules(path)


def test_seed_goes_to_language_country_and_keyword_topics(rules, article):
    assert route(rules, article) == ["articles.lang.id", "alerts.armenia", "alerts.caucasus"]


def test_routing_reads_the_json_form_as_well(rules, article):
    assert route(rules, article.to_dict()) == route(rules, article)


def test_entity_condition_matches_an_alias_and_respects_the_type(article):
    by_alias = parse_rules({"route": [{"name": "p", "topic": "t", "entity": "person:Putin"}]})
    wrong_type = parse_rules({"route": [{"name": "p", "topic": "t", "entity": "place:Putin"}]})
    place_alias = parse_rules({"route": [{"name": "p", "topic": "t", "entity": "Moskow"}]})
    assert route(by_alias, article) == ["t"]
    assert route(wrong_type, article) == []
    assert route(place_alias, article) == ["t"]


def test_explain_says_which_values_matched_and_which_field_failed(rules, article):
    report = {rule.name: (fired, why) for rule, fired, why in explain(rules, article)}
    assert report["armenia-desk"][0] is True
    assert "country matched AM" in report["armenia-desk"][1]
    assert "Nikol Pashinyan" in report["armenia-desk"][1]
    assert report["english"] == (False, "all of: language wanted ['en'], article has id")
    assert report["sports"][0] is False and "section wanted" in report["sports"][1]


def test_all_requires_every_field_any_requires_one(article):
    both = {"name": "x", "topic": "t", "country": "AM", "language": "en"}
    assert route(parse_rules({"route": [both]}), article) == []
    assert route(parse_rules({"route": [{**both, "match": "any"}]}), article) == ["t"]


def test_keyword_matches_whole_words_only(article):
    rule = parse_rules({"route": [{"name": "x", "topic": "t", "keyword": ["Arm"]}]})
    assert route(rule, article) == []


def test_match_all_routes_everything_and_topics_are_listed_once(article):
    rules = parse_rules(
        {
            "route": [
                {"name": "a", "topic": "all", "match_all": True},
                {"name": "b", "topic": "all", "language": "id"},
            ]
        }
    )
    assert route(rules, article) == ["all"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "x", "topic": "t"}, "no condition"),
        ({"topic": "t", "language": "id"}, "'name'"),
        ({"name": "x", "topic": "bad topic!", "language": "id"}, "'topic'"),
        ({"name": "x", "topic": "t", "langauge": "id"}, "unknown key(s) ['langauge']"),
        ({"name": "x", "topic": "t", "language": []}, "non-empty list"),
        ({"name": "x", "topic": "t", "entity": "people:X"}, "type must be one of"),
        ({"name": "x", "topic": "t", "language": "id", "match": "some"}, "'match'"),
    ],
)
def test_bad_rules_are_refused_with_the_rule_and_field_named(table, message):
    with pytest.raises(RoutingError) as err:
        parse_rules({"route": [table]}, origin="routes.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("routes.toml: route")


def test_load_rules_names_the_file_on_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[route]\nname=", encoding="utf-8")
    with pytest.raises(RoutingError, match=r"bad\.toml: not valid TOML"):
        load_rules(path)
    with pytest.raises(RoutingError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")
