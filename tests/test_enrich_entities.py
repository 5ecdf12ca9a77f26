"""Entity rules, each pinned on a short text in the language it was written for."""

from __future__ import annotations

import pytest

from worker.enrich.entities import extract_entities


def found(text: str, lang: str, title: str | None = None) -> set[tuple[str, str]]:
    return {(e.type, e.text) for e in extract_entities([text], lang=lang, title=title)}


@pytest.mark.parametrize(
    ("text", "lang", "person"),
    [
        ("Kemarin Menteri Luar Negeri Retno Marsudi bertemu wartawan.", "id", "Retno Marsudi"),
        (
            "Gestern sagte Bundeskanzler Olaf Scholz in der Pressekonferenz etwas.",
            "de",
            "Olaf Scholz",
        ),
        ("On Monday Foreign Minister Penny Wong arrived.", "en", "Penny Wong"),
        ("Hier, la ministre Rachida Dati a parlé.", "fr", "Rachida Dati"),
        ("Ulaştırma ve Altyapı Bakanı Abdulkadir Uraloğlu açıkladı.", "tr", "Abdulkadir Uraloğlu"),
        ("Ayer el presidente Pedro Sánchez habló.", "es", "Pedro Sánchez"),
    ],
)
def test_a_title_introduces_a_persons_name(text, lang, person):
    assert ("person", person) in found(text, lang)


def test_the_office_complement_is_not_a_name():
    got = found(
        "Abdullah bin Zayed, Außenminister der Vereinigten Arabischen Emirate, sprach.", "de"
    )
    assert ("person", "Abdullah bin Zayed") in got
    assert ("place", "United Arab Emirates") in got
    assert not any(t == "person" and "Emirate" in n for t, n in got)


def test_a_later_surname_is_the_earlier_full_name():
    ents = extract_entities(
        ["Presiden Rusia Vladimir Putin tiba.", "Menurut Putin, situasi membaik."], lang="id"
    )
    putin = next(e for e in ents if e.text == "Vladimir Putin")
    assert putin.count == 2 and putin.aliases == {"Putin"}


def test_inflected_and_middle_name_mentions_are_one_person():
    cs = extract_entities(["Soud propustil Michala Redla.", "Michal Redl mlčel."], lang="cs")
    assert [e.text for e in cs if e.type == "person"] == ["Michal Redl"]
    da = extract_entities(["Stine Ilona Eilertzen åbner.", "Stine Eilertzen smiler."], lang="da")
    assert [e.text for e in da if e.type == "person"] == ["Stine Ilona Eilertzen"]


def test_a_given_name_starts_a_person_and_hides_the_place_in_a_surname():
    got = found("The plaque names publisher Harry Chandler and nobody else.", "en")
    assert ("person", "Harry Chandler") in got
    assert not any(t == "place" for t, _ in got)


def test_a_place_inside_an_unknown_name_is_not_a_place():
    got = found("Fans filled the Los Angeles Coliseum on Sunday.", "en")
    assert not any(t == "place" for t, _ in got)


def test_german_nouns_after_a_place_do_not_hide_it():
    assert ("place", "Germany") in found("Samsung drohen in Deutschland Probleme.", "de")


def test_country_names_in_other_languages_resolve_to_one_place():
    got = found("Delegasi dari Prancis, Jerman dan Rusia tiba di Moskow.", "id")
    assert {
        ("place", "France"),
        ("place", "Germany"),
        ("place", "Russia"),
        ("place", "Moscow"),
    } <= got


def test_accents_the_text_writes_must_be_the_names_own():
    assert not any(t == "place" for t, _ in found("Die Länder stimmten zu.", "de"))


def test_turkish_case_endings_end_a_name():
    got = found("İzmir'in Bornova ilçesinde ve Samsun'un Kavak ilçesinde yangın çıktı.", "tr")
    assert {("place", "İzmir"), ("place", "Samsun")} <= got


def test_organisation_words_make_one_name_and_split_off_a_person():
    got = found("El juez del Tribunal Supremo Ángel Hurtado ha citado al fiscal.", "es")
    assert {("organization", "Tribunal Supremo"), ("person", "Ángel Hurtado")} <= got
    got = found("Geografen der Universität Kiel warnen.", "de")
    assert ("organization", "Universität Kiel") in got and ("place", "Kiel") not in got


def test_a_cue_word_makes_an_organisation_even_with_a_number():
    assert ("organization", "France 2") in found("Muncul di saluran TV France 2 pada Kamis.", "id")


def test_acronyms_are_organisations_unless_units_or_titles():
    got = found("Die CGT und die CFDT protestieren gegen die KI und den CEO.", "de")
    assert {("organization", "CGT"), ("organization", "CFDT")} <= got
    assert not {n for t, n in got if n in {"KI", "CEO"}}


def test_acronym_aliases_match_only_in_capitals():
    assert ("organization", "United Nations") not in found("Un nuevo caso de abuso.", "es")
    assert ("organization", "United Nations") in found("Los expertos de la ONU hablan.", "es")


def test_a_bracketed_acronym_is_the_same_organisation():
    ents = extract_entities(
        ["The Office for Budget Responsibility (OBR) monitors spending.", "The OBR said no."],
        lang="en",
    )
    obr = next(e for e in ents if e.type == "organization")
    assert obr.text == "Office for Budget Responsibility" and obr.count == 3


def test_compounds_name_their_party_and_country():
    got = found("Der AfD-Spitzenkandidat traf US-Streitkräfte.", "de")
    assert {("organization", "AfD"), ("place", "United States")} <= got


def test_romance_names_continue_in_lower_case():
    assert ("organization", "European Union") in found(
        "En 2001, l'Union européenne a mis en place des mesures.", "fr"
    )


def test_headline_case_alone_makes_no_person():
    got = found("Nothing here.", "en", title="Markets Rally As Investors Cheer Rate Cut")
    assert not any(t == "person" for t, _ in got)


def test_a_sentence_initial_noun_does_not_hide_the_place_after_it():
    assert ("place", "Baku") in found("Pasukan Baku merebut kembali wilayah tersebut.", "id")


def test_headline_places_count_although_every_headline_word_is_capitalised():
    ents = extract_entities(
        ["Rusia membantah."], lang="id", title="Sekutu Rusia Ancam Membelot ke Prancis"
    )
    russia = next(e for e in ents if e.text == "Russia")
    assert russia.count == 2 and russia.in_headline


def places(text: str, lang: str) -> dict[str, str | None]:
    return {e.text: e.country for e in extract_entities([text], lang=lang) if e.type == "place"}


def test_a_turkish_provinces_genitive_introduces_its_district():
    got = places(
        "İzmir'in Bornova, Balıkesir'in Kepsut ve Sivas'ın Şarkışla ilçelerinde yangın çıktı.",
        "tr",
    )
    assert got["Bornova"] == "TR" and got["Kepsut"] == "TR" and got["Şarkışla"] == "TR"
    assert "İzmir" in got and "Sivas" in got


@pytest.mark.parametrize(
    ("text", "lang", "place"),
    [
        ("Banjir melanda Kabupaten Bogor pada Senin pagi.", "id", "Bogor"),
        ("The fire spread across Orange County on Monday.", "en", "Orange County"),
        ("Räddningstjänsten larmades till Uddevalla kommun under natten.", "sv", "Uddevalla"),
    ],
)
def test_an_administrative_unit_word_makes_a_place(text, lang, place):
    assert place in places(text, lang)


def test_a_small_town_counts_only_after_a_locative_preposition():
    assert places("18-åriga Hanna försvann i Uddevalla i tisdags.", "sv") == {"Uddevalla": "SE"}
    assert "Uddevalla" not in places("Uddevalla Hockey vann matchen.", "sv")
    # a source, not a location
    assert not places("Links to content from Paradise resources help consumers.", "en")


def test_a_word_after_a_possessive_title_is_not_a_person():
    got = found("We work closely with the Mayor's Office on that.", "en")
    assert not any(t == "person" for t, _n in got)


@pytest.mark.parametrize(
    ("text", "lang", "org"),
    [
        ("Patrick Martin, le nouveau président du Medef, a parlé hier.", "fr", "Medef"),
        ("says Lauren Slayton, dietitian and founder of Foodtrainers.", "en", "Foodtrainers"),
    ],
)
def test_the_name_after_a_role_in_an_organisation_is_the_organisation(text, lang, org):
    assert ("organization", org) in found(text, lang)


def test_a_role_does_not_make_places_or_ordinary_words_organisations():
    got = found("The head of state met the president of Ukraine and the head of State.", "en")
    assert not any(t == "organization" for t, _n in got)
    assert ("place", "Ukraine") in got


def test_club_words_make_a_football_club():
    assert ("organization", "Eintracht Braunschweig") in found(
        "Am Sonntag verlor Eintracht Braunschweig das Heimspiel.", "de"
    )
