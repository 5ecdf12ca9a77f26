"""The seed article (shared/seeds/000_…txt) enriched end to end: the issue's expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.enrich import enrich
from worker.models import Article

SEED_TEXT = """\
Kalah Lawan Azerbaijan, Sekutu Rusia Ancam Membelot ke Prancis
YEREVAN - Presiden Armenia Vahagn Khachaturyan menyatakan negaranya mengincar kerja sama militer yang lebih dalam dengan Prancis.
Armenia saat ini menjadi anggota beberapa blok ekonomi dan militer yang dipimpin Rusia.
Kepemimpinan Armenia menyalahkan Rusia setelah wilayah separatis Nagorno-Karabakh yang dipimpin etnis Armenia direbut kembali oleh Azerbaijan bulan lalu.
Moskow bersikeras pekan ini bahwa mereka melakukan segala yang mereka bisa, dengan menunjukkan Armenia sendiri telah mengakui kedaulatan Azerbaijan atas wilayah tersebut.
Muncul di saluran TV France 2 pada Kamis (5/10/2023), Khachaturyan mengatakan Armenia membutuhkan “mitra militer baru”.
Dia menambahkan, “Prancis telah menyatakan kesediaannya membantu kami, mendukung kami untuk memperkuat kemampuan pertahanan kami.”
Dia mencatat negosiasi mengenai kerja sama yang lebih erat sudah berlangsung, dengan tujuan “menghentikan ambisi Azerbaijan.”
Menteri Luar Negeri Prancis Catherine Colonna juga mengonfirmasi kepada outlet tersebut bahwa dia telah meminta Menteri Pertahanan Sebastien Lecornu menilai kemampuan Paris dalam memberikan bantuan militer ke Yerevan.
Diplomat tersebut menambahkan upaya tersebut dimaksudkan untuk menghindari “situasi yang lebih rumit” di wilayah tersebut. Namun dia menolak menjelaskan lebih jauh.
Pada tanggal 19 September, Baku melancarkan apa yang disebutnya operasi kontra-teroris di Nagorno-Karabakh, yang memisahkan diri dari Azerbaijan pada awal tahun 1990-an.
Pasukan Baku merebut kembali wilayah tersebut dalam hitungan hari dan pemerintah daerah kantong tersebut membubarkan diri pada tanggal 28 September sebagai bagian dari gencatan senjata.
Hal ini diikuti eksodus lebih dari 100.000 warga sipil Armenia atau hampir 90% dari perkiraan populasi Karabakh, menurut sumber-sumber Armenia.
Yerevan berdiri di pinggir lapangan selama pertempuran, dan pemerintahan Perdana Menteri Nikol Pashinyan menuduh Moskow gagal menyelamatkan Nagorno-Karabakh.
Mengomentari perkembangan pada pertemuan ke-20 Klub Diskusi Internasional Valdai di Sochi pada hari Kamis, Presiden Rusia Vladimir Putin mengungkapkan Moskow telah mengusulkan kompromi kepada Armenia mengenai Nagorno-Karabakh, tetapi Yerevan memilih “mengambil jalannya sendiri.”
Pemimpin Rusia tersebut kemudian menekankan Perdana Menteri Pashinyan telah secara eksplisit mengakui kedaulatan Azerbaijan atas wilayah tersebut selama pertemuan yang diselenggarakan oleh Uni Eropa pada Oktober 2022 di Praha.
Hal ini secara efektif membuka jalan bagi operasi Baku setahun kemudian, menurut Putin. Dia menyimpulkan dengan menyatakan Armenia “tetap menjadi sekutu kami.”
"""  # noqa: E501  (the seed's unique paragraphs, as the extractor is to produce them)

SEED_FILE = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_11e1ebe3f3952f2a.txt"


def seed_article() -> Article:
    title, *paragraphs = SEED_TEXT.splitlines()
    paragraphs[0] = paragraphs[0].removeprefix("YEREVAN - ")
    return Article(
        id="seed",
        url="https://example.org/seed",
        title=title,
        paragraphs=paragraphs,
        body="\n\n".join(paragraphs),
        dateline="YEREVAN",
        published_at="2023-10-07T08:48:00+07:00",
        declared_language="id",
    )


@pytest.fixture(scope="module")
def enriched() -> Article:
    return enrich(seed_article())


def names(article: Article, type_: str) -> set[str]:
    return {e["text"] for e in article.enrichment["entities"] if e["type"] == type_}


def test_seed_paragraphs_are_the_shared_seed_text():
    if not SEED_FILE.exists():
        pytest.skip("shared/ is not beside the checkout")
    seed = SEED_FILE.read_text(encoding="utf-8")
    for line in SEED_TEXT.splitlines():
        assert line in seed


def test_seed_is_indonesian(enriched):
    assert enriched.language == "id"
    assert enriched.enrichment["language_confidence"] > 0.9


def test_seed_places_resolve_indonesian_spellings(enriched):
    expected = {
        "Armenia",
        "Azerbaijan",
        "Russia",
        "France",
        "Nagorno-Karabakh",
        "Yerevan",
        "Baku",
        "Moscow",
        "Sochi",
        "Prague",
    }
    assert expected <= names(enriched, "place")
    aliases = {a for e in enriched.enrichment["entities"] for a in e.get("aliases", ())}
    assert {"Prancis", "Rusia", "Moskow", "Praha"} <= aliases


def test_seed_people_are_found_and_surnames_linked(enriched):
    people = names(enriched, "person")
    assert {
        "Vahagn Khachaturyan",
        "Nikol Pashinyan",
        "Vladimir Putin",
        "Catherine Colonna",
        "Sebastien Lecornu",
    } == people
    putin = next(e for e in enriched.enrichment["entities"] if e["text"] == "Vladimir Putin")
    assert putin["count"] == 2 and putin["aliases"] == ["Putin"]


def test_seed_organisations(enriched):
    assert {"European Union", "France 2", "Valdai Discussion Club"} <= names(
        enriched, "organization"
    )


def test_seed_countries_and_primary_place(enriched):
    block = enriched.enrichment
    assert {"AM", "AZ", "RU", "FR", "CZ"} <= set(block["countries"])
    assert block["primary_place"] == {"name": "Yerevan", "country": "AM", "source": "dateline"}


def test_seed_dates_summary_and_reading_time(enriched):
    assert enriched.published_at_utc == "2023-10-07T01:48:00Z"
    assert enriched.enrichment["summary"].startswith("Presiden Armenia Vahagn Khachaturyan")
    assert enriched.word_count > 300
    assert enriched.enrichment["reading_time_minutes"] == 2
    assert enriched.enrichment["keywords"]
