"""The optional spaCy extra: a pipeline named by enrich.spacy_model adds its entities to the
rule-based ones. Built here from spacy.blank + an entity_ruler and saved to a temporary
directory, so nothing is downloaded."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from worker.enrich import enrich, spacy_ner
from worker.models import Article

spacy = pytest.importorskip("spacy")

TEXT = [
    "Zorblax Quintero of Acme Widgets told reporters in Frobnia that Moskow had called.",
    "Later Quintero said Acme Widgets would stay. Vladimir Putin did not comment.",
]


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "Zorblax Quintero"},
            {"label": "PERSON", "pattern": "Quintero"},
            {"label": "ORG", "pattern": "Acme Widgets"},
            {"label": "GPE", "pattern": "Frobnia"},
            # a place the gazetteer knows: resolved to Moscow, RU
            {"label": "GPE", "pattern": "Moskow"},
            # a name the rules already found keeps the rules' reading and count
            {"label": "ORG", "pattern": "Vladimir Putin"},
            {"label": "NORP", "pattern": "reporters"},
        ]
    )
    path = tmp_path_factory.mktemp("pipeline") / "ruler"
    nlp.to_disk(path)
    return str(path)


def article() -> Article:
    return Article(
        id="a",
        url="https://example.org/a",
        paragraphs=TEXT,
        body="\n\n".join(TEXT),
        declared_language="en",
    )


def entities(result: Article) -> dict[str, dict]:
    return {e["text"]: e for e in result.enrichment["entities"]}


def test_pipeline_entities_join_the_rule_based_ones(pipeline_dir: str):
    found = entities(enrich(article(), spacy_model=pipeline_dir))
    assert found["Zorblax Quintero"]["type"] == "person"
    assert found["Zorblax Quintero"]["count"] == 2  # the later "Quintero" is linked
    assert found["Acme Widgets"] == {"text": "Acme Widgets", "type": "organization", "count": 2}
    assert found["Frobnia"]["type"] == "place"
    assert found["Moscow"]["type"] == "place" and found["Moscow"]["country"] == "RU"
    assert found["Vladimir Putin"]["type"] == "person" and found["Vladimir Putin"]["count"] == 1
    assert "reporters" not in found  # NORP is not a person, organisation or place
    places = {
        p["name"]: p for p in enrich(article(), spacy_model=pipeline_dir).enrichment["places"]
    }
    assert places["Frobnia"]["country"] is None and places["Moscow"]["country"] == "RU"


def test_without_the_setting_the_pipeline_is_not_used(pipeline_dir: str):
    found = entities(enrich(article()))
    assert not {"Zorblax Quintero", "Acme Widgets", "Frobnia"} & set(found)
    assert found["Vladimir Putin"]["type"] == "person"


def test_pipeline_is_loaded_once(pipeline_dir: str):
    assert spacy_ner.pipeline(pipeline_dir) is spacy_ner.pipeline(pipeline_dir)


def test_a_missing_pipeline_warns_once_and_enrichment_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    missing = str(tmp_path / "no-such-pipeline")
    with pytest.raises(spacy_ner.SpacyUnavailable, match="KABAR_ENRICH_SPACY_MODEL"):
        spacy_ner.load_pipeline(missing)
    with caplog.at_level(logging.WARNING, logger="worker.enrich.spacy_ner"):
        first = enrich(article(), spacy_model=missing)
        enrich(article(), spacy_model=missing)
    warnings = [r for r in caplog.records if "enrich.spacy_model" in r.getMessage()]
    assert len(warnings) == 1
    assert first.enrichment["entities"] == enrich(article()).enrichment["entities"]


def test_spacy_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    import builtins

    real_import = builtins.__import__

    def no_spacy(name: str, *args, **kwargs):
        if name == "spacy":
            raise ImportError("No module named 'spacy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_spacy)
    with pytest.raises(spacy_ner.SpacyUnavailable, match=r"kabar\[spacy\]"):
        spacy_ner.load_pipeline("en_core_web_sm")


def test_kabar_extract_uses_the_pipeline_named_in_the_environment(
    pipeline_dir: str, tmp_path: Path
):
    from click.testing import CliRunner

    from worker.cli import main

    body = "".join(f"<p>{p} It was a long day in the capital and nobody slept.</p>" for p in TEXT)
    page = tmp_path / "story.html"
    page.write_text(f"<html><body><article><h1>Frobnia news</h1>{body}</article></body></html>")
    with_model = CliRunner().invoke(main, ["extract", str(page)],
                                    env={"KABAR_ENRICH_SPACY_MODEL": pipeline_dir})
    without = CliRunner().invoke(main, ["extract", str(page)],
                                 env={"KABAR_ENRICH_SPACY_MODEL": ""})
    assert with_model.exit_code == 0, with_model.output

    def names(output: str) -> set[str]:
        return {e["text"] for e in json.loads(output)["enrichment"]["entities"]}

    assert "Acme Widgets" in names(with_model.output)
    assert "Acme Widgets" not in names(without.output)
