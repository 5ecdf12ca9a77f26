"""The demo's closing summary: what a new user reads first."""

from __future__ import annotations

import io

from rich.console import Console

from worker.demo import DemoSummary, print_summary, repeated_dead_letters


def _letter(url: str, reason: str, message: str, stage: str = "fetch") -> dict:
    return {"url": url, "stage": stage, "reason": reason, "message": message}


def test_repeated_dead_letters_are_one_row_with_their_count_in_first_seen_order() -> None:
    wall = _letter("http://a.test/rss.xml", "http_403", "server answered 403 Forbidden")
    empty = _letter("http://b.test/news/1", "no_article_body", "found 0", stage="clean")
    rows = repeated_dead_letters([wall, empty, dict(wall), dict(wall)])
    assert rows == [
        (("http://a.test/rss.xml", "fetch", "http_403", "server answered 403 Forbidden"), 3),
        (("http://b.test/news/1", "clean", "no_article_body", "found 0"), 1),
    ]


def test_dead_letters_differing_in_message_stay_apart() -> None:
    first = _letter("http://a.test/x", "timeout", "read timed out after 20 s")
    second = _letter("http://a.test/x", "timeout", "connect timed out after 10 s")
    assert [times for _, times in repeated_dead_letters([first, second])] == [1, 1]


def test_summary_prints_a_repeated_refusal_once_and_counts_every_dead_letter() -> None:
    wall = _letter("http://a.test/rss.xml", "http_403", "server answered 403 Forbidden")
    summary = DemoSummary(dead_letters=[dict(wall) for _ in range(9)], seconds=1.0)
    out = io.StringIO()
    print_summary(summary, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    rows = [line for line in text.splitlines() if "http://a.test/rss.xml" in line]
    assert len(rows) == 1
    assert rows[0].split("│")[-2].strip() == "9"  # the "times" column
    assert "9 dead letter(s)" in text
