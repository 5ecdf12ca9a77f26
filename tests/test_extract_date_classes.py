"""Date classes from the misses on the shared sets (issue 13), each on a page written as a
common blog template lays it out."""

from worker.extract import extract_article

#: A long guide: the first date printed after the headline is more than 6,000 characters
#: further on.
GUIDE = "".join(
    f"<h2>Step {n}</h2><p>Step {n} of building a mobile app is to write down what the app must "
    "do for its users, which screens it needs, which data it keeps and where, and what it "
    "must never do, before anyone opens a design tool or writes a line of code.</p>"
    for n in range(1, 40))
URL = "https://agency.example.com/blog/how-apps-are-made"


def _page(after_story: str, head: str = "") -> str:
    return (f"<html><head><title>How apps are made</title>{head}</head><body>"
            "<div class='flex flex-col'><h1>How Are Mobile Apps Created? A Complete Guide</h1>"
            f"<div class='prose'>{GUIDE}</div>{after_story}</div></body></html>")


def _credit(line: str) -> str:
    return ("<div class='flex flex-col items-center'><div class='mb-10 flex'>"
            "<a href='/blog/tag/apps'>apps</a><a href='/blog/tag/development'>development</a>"
            "</div><div><p class='text-t600'>Written by <a class='text-t900' "
            "href='/blog/author/moses-kim'>Moses Kim and Kate Shokurova</a></p>"
            f"<p class='text-t600'>{line}</p></div></div>")


def test_a_date_beside_the_author_credit_under_the_story_dates_the_page():
    article = extract_article(_page(_credit("April 8, 2024")), URL)
    assert article.published_at == "2024-04-08"


def test_an_update_line_beside_the_author_credit_is_not_the_publish_date():
    article = extract_article(_page(_credit("Updated April 8, 2024")), URL)
    assert article.published_at is None


def test_a_structured_date_still_beats_the_author_credits_date():
    head = '<meta property="article:published_time" content="2020-04-02T09:00:00+00:00">'
    article = extract_article(_page(_credit("April 8, 2024"), head), URL)
    assert article.published_at == "2020-04-02T09:00:00+00:00"
