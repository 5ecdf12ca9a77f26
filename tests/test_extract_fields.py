"""Dates in many languages and zones, datelines, bylines and boilerplate texts."""

import time
from datetime import UTC, datetime

import pytest

from worker.extract import extract_article
from worker.extract.boilerplate import is_boilerplate_text, is_notice_text, strip_signoff
from worker.extract.dateline import split_dateline
from worker.extract.dates import parse_iso, parse_relative, parse_text_date, parse_url_date
from worker.extract.metadata import clean_authors

NOW = datetime(2023, 10, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "iso"), [
    ("Sabtu, 07 Oktober 2023 - 08:48 WIB", "2023-10-07T08:48:00+07:00"),  # id
    ("Selasa, 3 Januari 2023 | 14:20 WITA", "2023-01-03T14:20:00+08:00"),
    ("Rabu, 15 Mac 2023 10:30", "2023-03-15T10:30:00"),  # ms
    ("October 7, 2023 at 8:48 pm EDT", "2023-10-07T20:48:00-04:00"),  # en
    ("7 March 2024, 18:05 GMT", "2024-03-07T18:05:00+00:00"),
    ("7. Oktober 2023, 14:05 Uhr MESZ", "2023-10-07T14:05:00+02:00"),  # de
    ("Publié le 7 octobre 2023 à 08h48", "2023-10-07T08:48:00"),  # fr
    ("7 de octubre de 2023 a las 10:30 CET", "2023-10-07T10:30:00+01:00"),  # es
    ("7 de outubro de 2023 às 10:30", "2023-10-07T10:30:00"),  # pt
    ("7 ottobre 2023 alle 10:30", "2023-10-07T10:30:00"),  # it
    ("7 oktober 2023 om 10:30", "2023-10-07T10:30:00"),  # nl
    ("14:05 Uhr, 12.03.2024", "2024-03-12T14:05:00"),
    ("2023/10/07", "2023-10-07"),
])
def test_visible_dates_in_many_languages(text, iso):
    assert parse_text_date(text).iso() == iso


def test_ambiguous_numeric_dates_follow_the_page_convention():
    assert parse_text_date("03/04/2024").iso() == "2024-04-03"
    assert parse_text_date("03/04/2024", month_first=True).iso() == "2024-03-04"
    assert parse_text_date("25/12/2023", month_first=True).iso() == "2023-12-25"


def test_structured_dates_keep_their_offset_and_convert_to_utc():
    date = parse_iso("2023-10-07T08:48:00.000+0700")
    assert date.iso() == "2023-10-07T08:48:00+07:00"
    assert date.iso_utc() == "2023-10-07T01:48:00+00:00"
    assert parse_iso("2023-10-07").iso() == "2023-10-07"
    assert parse_iso("not a date") is None


def test_unpadded_structured_dates_are_read():
    # A CMS writing JSON-LD '"datePublished": "2022-5-5 22:17:36"' lost its date, and a
    # relative "hace 3 horas" in a sidebar then dated a 2022 story to the fetch day.
    assert parse_iso("2022-5-5 22:17:36").iso() == "2022-05-05T22:17:36"
    assert parse_iso("2024-1-9").iso() == "2024-01-09"
    assert parse_iso("20231007T0848").iso() == "2023-10-07T08:48:00"
    assert parse_iso("2022-13-5") is None


@pytest.mark.parametrize(("text", "hours"), [("2 jam yang lalu", 2), ("3 hours ago", 3),
                                             ("vor 5 Stunden", 5), ("il y a 1 heure", 1),
                                             ("hace 4 horas", 4)])
def test_relative_dates_count_back_from_fetch_time(text, hours):
    date = parse_relative(text, NOW)
    assert (date.hour, date.offset) == (12 - hours, 0)


def test_url_dates_are_date_only():
    assert parse_url_date("https://x.org/news/2023/10/07/story").iso() == "2023-10-07"
    assert parse_url_date("https://x.org/news/story-1234") is None


def test_future_dates_are_dropped_and_timezone_hint_fills_offset():
    page = ("<html><body><h1>Budget vote</h1><div class='date'>7 October 2023 08:48</div>"
            "<article>" + "".join(f"<p>The council voted {n} times to approve the new budget, "
                                  "raising spending on schools and roads.</p>" for n in range(4))
            + "</article></body></html>")
    article = extract_article(page, "https://example.org/a", hints={"timezone": "Asia/Jakarta"})
    assert article.published_at == "2023-10-07T08:48:00+07:00"
    early = extract_article(page, "https://example.org/a", fetched_at="2023-01-01T00:00:00Z")
    assert early.published_at is None


@pytest.mark.parametrize(("paragraph", "dateline", "rest"), [
    ("YEREVAN - Presiden Armenia menyatakan", "YEREVAN", "Presiden Armenia menyatakan"),
    ("JAKARTA, KOMPAS.com - Pemerintah akan", "JAKARTA, KOMPAS.com", "Pemerintah akan"),
    ("LONDON (Reuters) - Britain's economy", "LONDON (Reuters)", "Britain's economy"),
    ("NEW YORK, Oct 7 (Reuters) — Stocks rose", "NEW YORK, Oct 7 (Reuters)", "Stocks rose"),
    ("Jakarta, CNN Indonesia -- Presiden Joko", "Jakarta, CNN Indonesia", "Presiden Joko"),
    ("The UN said on Monday - in a statement", None, "The UN said on Monday - in a statement"),
    ("A - B testing is popular among marketers", None,
     "A - B testing is popular among marketers"),
])
def test_datelines(paragraph, dateline, rest):
    assert split_dateline(paragraph) == (dateline, rest)


@pytest.mark.parametrize(("raw", "names"), [
    (["By Jane Doe and John Smith"], ["Jane Doe", "John Smith"]),
    (["Oleh: Sri Wahyuni"], ["Sri Wahyuni"]),
    (["Von Anna Müller und Jan Marchart"], ["Anna Müller", "Jan Marchart"]),
    (["Reporter: Budi Santoso | Editor: Rina Dewi"], ["Budi Santoso", "Rina Dewi"]),
    (["By Eleanor Whitcombe, Local Democracy Reporter"], ["Eleanor Whitcombe"]),
    (["Jane Doe, 7 October 2023 10:00"], ["Jane Doe"]),
    (["https://facebook.com/someone"], []),
    (["Dylan Bailey, MS, RD, FAND"], ["Dylan Bailey"]),
    (["Genevieve Carlton, Ph.D.", "Rebecca Lake, CEPF®"], ["Genevieve Carlton", "Rebecca Lake"]),
    (["Reuters, AFP"], ["Reuters", "AFP"]),  # after an agency, capitals are another agency
    (["Alle Artikel von Tanja Karrasch", "View all posts by Evan Symon"],
     ["Tanja Karrasch", "Evan Symon"]),
    (["Written by", "Latest Posts", "Foto: Mads Claus Rasmussen"], []),
    (["Center for Drug Evaluation and Research"], ["Center for Drug Evaluation and Research"]),
    (["Bundesministerium für Wirtschaft und Klimaschutz"],
     ["Bundesministerium für Wirtschaft und Klimaschutz"]),
])
def test_author_bylines_are_cleaned(raw, names):
    assert clean_authors(raw) == names


@pytest.mark.parametrize("text", ["Baca Juga", "Baca juga: Rusia Tuding Barat", "(sya)",
                                  "(nug/ega)", "tulis komentar anda", "Lihat Juga:",
                                  "Read more: Quayside residents warned", "Lesen Sie auch",
                                  "Lire aussi : la réforme", "Leer más", "ADVERTISEMENT",
                                  "War der Artikel nützlich?", "Was this article helpful?",
                                  "To view the full story, please subscribe.",
                                  "Pour lire la suite, créez votre compte",
                                  "Sie müssen sich einloggen, um zu kommentieren.",
                                  "Posted by K A at 12:11 PM", "Eingestellt von Michel um 21:11",
                                  "Written by Jane Doe", "Tags: Harbour, Ferries",
                                  "Themen:", "Schlagwörter zu diesem Artikel"])
def test_boilerplate_texts_in_many_languages(text):
    assert is_boilerplate_text(text)


@pytest.mark.parametrize("text", [
    "Got a story? Get in touch with our news team by emailing us at news@example.co.uk.",
    "Get in touch with our news team by emailing us at news@example.co.uk.",
    "For more stories like this, check our news page.",
    "Follow The Gleaner on Twitter and Instagram @Gleaner and on Facebook @GleanerPage. Send us "
    "a message on WhatsApp and tell us what you think of this story, in a line or two, today.",
    "*** Follow me on Instagram, YouTube, X (Twitter) or Facebook for a daily moment of travel "
    "inspiration ***",
])
def test_a_newsrooms_call_for_tips_and_follows_is_boilerplate(text):
    assert is_boilerplate_text(text)


@pytest.mark.parametrize("text", [
    "Follow these steps shared on Twitter to safely apprehend a train groper in Japan.",
    "Have a story to tell about the flood, the mayor asked residents at the meeting.",
    "Get in touch with the past at the new museum, which opens on Friday.",
])
def test_story_lines_about_following_or_stories_stay(text):
    assert not is_boilerplate_text(text)


@pytest.mark.parametrize("text", ["Table of Contents", "Contents hide", "Inhaltsverzeichnis",
                                  "Jump to:", "In This Article", "By", "Edited by",
                                  "Fact-checked by", "About the Author:", "Über die Autorin:",
                                  "Up Next", "Czytaj więcej", "6 minute read",
                                  "3 Min Lesezeit", "Reading Time: 8 minutes",
                                  "Lesezeit: 2 Minuten",
                                  "Über dieses Thema berichtete DLF am 24. März 2023 um 05:20 "
                                  "Uhr.",
                                  "Mit meiner Anmeldung zum Newsletter stimme ich der "
                                  "Werbevereinbarung zu."])
def test_a_label_alone_on_its_line_is_boilerplate(text):
    assert is_boilerplate_text(text) or is_notice_text(text)


@pytest.mark.parametrize("text", ["Contents of the report were leaked on Friday.",
                                  "By the time the ferry came, the pier was closed.",
                                  "Up next for the council is the harbour budget.",
                                  "6 minute reads a day add up, the study found."])
def test_a_sentence_opening_with_a_labels_words_stays(text):
    assert not is_boilerplate_text(text)


def test_a_forms_recaptcha_notice_is_a_notice():
    assert is_notice_text("This site is protected by reCAPTCHA and the Google Privacy Policy "
                          "and Terms of Service apply.")
    assert not is_notice_text("Google bought reCAPTCHA in 2009 to digitise books.")


def test_story_text_is_not_boilerplate():
    assert not is_boilerplate_text("Read the full report, the minister said, before voting.")
    assert not is_boilerplate_text("Written by hand over forty years, the letters now fill "
                                   "six boxes in the city archive, the historian said.")
    assert strip_signoff("Dia menyimpulkan dengan menyatakan Armenia tetap sekutu. (sya)") == \
        "Dia menyimpulkan dengan menyatakan Armenia tetap sekutu."


def test_date_patterns_do_not_backtrack_on_long_whitespace():
    text = ("12:30 " + " \n\t" * 3000 + "uhr 14.05 " * 200) * 2
    start = time.perf_counter()
    parse_text_date(text, limit=len(text))
    assert time.perf_counter() - start < 0.5
