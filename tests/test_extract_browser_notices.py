"""Lines about the reader's browser (JavaScript turned off, a browser to refresh or replace,
a newsletter's 'view it in your browser') are page furniture, not story, in the languages
the sets hold; a story that talks about browsers or JavaScript keeps those lines (issue 13)."""

import orjson
import pytest

from worker.extract import extract_article
from worker.extract.boilerplate import is_notice_text

from .story_pages import STORY, URL, paragraphs


@pytest.mark.parametrize("line", [
    "Try refreshing your browser, or tap here to see other videos from our team.",
    "Lade für ein besseres Erlebnis einen neueren Browser kostenfrei herunter. Klicke dafür "
    "einfach auf das Symbol!",
    "Aktivieren Sie JavaScript um das Video zu sehen.",
    "Dieser Shop setzt voraus, dass Sie JavaScript aktivieren haben. Bitte aktivieren Sie "
    "JavaScript und laden Sie die Seite erneut.",
    "This slideshow requires JavaScript.",
    "Please enable JavaScript to view the comments powered by Disqus.",
    "JavaScript must be enabled to use this site.",
    "Your browser is out of date. Please update it for the best experience.",
    "Votre navigateur n'est plus supporté.",
    "Is this email not displaying correctly? View it in your browser.",
])
def test_a_line_about_the_readers_browser_is_a_notice(line: str) -> None:
    assert is_notice_text(line)


@pytest.mark.parametrize("line", [
    "See how it looks in the browser:",
    "Keep your browser updated.",
    "Newer browsers support WebGPU out of the box.",
    "Install the VPN's browser extension for Chrome.",
    "Refresh the browser tab to see the change.",
    "JavaScript was required knowledge for the role, he said.",
    "Hybrid apps are created using HTML, CSS, and JavaScript.",
])
def test_a_story_line_that_names_a_browser_or_javascript_stays(line: str) -> None:
    assert not is_notice_text(line)


def test_browser_notices_inside_the_story_container_are_dropped() -> None:
    html = ("<html><body><article><h1>Water board to replace old pipes</h1>"
            f"<p>{STORY[0]}</p><p>Please enable JavaScript to watch this video.</p>"
            f"<p>{STORY[1]}</p><p>Try refreshing your browser, or tap here to see other "
            f"videos from our team.</p>{paragraphs(STORY[2:])}</article></body></html>")
    article = extract_article(html.encode(), URL)
    assert article.paragraphs == STORY


def test_a_page_showing_only_a_browser_notice_is_read_from_its_page_state() -> None:
    # The visible page is the notice; the story is in the state a script renders it from.
    state = orjson.dumps({"article": {"body": paragraphs(STORY * 2)}})
    html = ("<html><body><div id='app'><p>Lade für ein besseres Erlebnis einen neueren "
            "Browser kostenfrei herunter. Klicke dafür einfach auf das Symbol!</p></div>"
            "<script>window.__STATE__ = " + state.decode() + ";</script></body></html>")
    article = extract_article(html.encode(), URL)
    assert article.paragraphs[:4] == STORY
