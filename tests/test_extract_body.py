"""Body rules that decide which blocks are the story, each pinned on a small page."""

import json

import pytest
from selectolax.lexbor import LexborHTMLParser

from worker.extract import ExtractionError, extract_article
from worker.models import Article

_SENTENCES = [
    "The council voted on Tuesday to extend the river walk by two kilometres, officials said.",
    "Work on the new section will begin in spring, and the route will link both old bridges.",
    "Residents asked for more benches, lighting and shade, which the plan now includes as well.",
    "The project is paid for by a regional grant, with the city covering maintenance costs.",
]


def _paragraphs(sentences: list[str]) -> str:
    return "".join(f"<p>{s} {s}</p>" for s in sentences)


def _page(body: str, head: str = "") -> str:
    return (f"<html><head><title>River walk</title>{head}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>{body}"
            "<footer>Contact us</footer></body></html>")


def _story_with(middle: str, before: str = "") -> Article:
    """The river-walk story in an <article>, ``middle`` between its second and third
    paragraphs and ``before`` ahead of them."""
    return extract_article(
        _page("<article>" + before + _paragraphs(_SENTENCES[:2]) + middle
              + _paragraphs(_SENTENCES[2:]) + "</article>"),
        "https://example.org/news/river-walk")


def test_story_printed_inside_noscript_is_kept():
    body = "<noscript><div class='page'>" + _paragraphs(_SENTENCES) + "</div></noscript>"
    article = extract_article(_page(body), "https://example.org/news/river-walk")
    assert _SENTENCES[0] in article.body and _SENTENCES[3] in article.body


def test_tracking_noscript_is_dropped():
    body = ("<article>" + _paragraphs(_SENTENCES)
            + "<noscript>Please enable JavaScript to comment.</noscript></article>")
    article = extract_article(_page(body), "https://example.org/news/river-walk")
    assert "enable JavaScript" not in article.body


def test_page_builder_widgets_holding_paragraphs_are_story():
    widgets = "".join(
        f"<div class='elementor-widget elementor-widget-text-editor'>"
        f"<div class='elementor-widget-container'><p>{s} {s}</p></div></div>"
        for s in _SENTENCES)
    share = ("<div class='elementor-widget elementor-widget-share'><a href='/x'>Facebook</a> "
             "<a href='/y'>Twitter</a> <a href='/z'>Share by email</a></div>")
    body = f"<div class='elementor elementor-42'>{widgets}{share}</div>"
    article = extract_article(_page(body), "https://example.org/news/river-walk")
    assert all(s in article.body for s in _SENTENCES)
    assert "Facebook" not in article.body


def test_entity_escaped_json_ld_body_does_not_replace_an_equal_page_body():
    escaped = " ".join(s.replace("a", "&amp;#97;") for s in _SENTENCES * 2)
    data = {"@context": "https://schema.org", "@type": "NewsArticle",
            "headline": "River walk", "articleBody": escaped}
    head = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + "</article>", head),
                              "https://example.org/news/river-walk")
    assert "&amp;" not in article.body and "&#97;" not in article.body
    assert len(article.paragraphs) == len(_SENTENCES)


def test_json_ld_body_holding_the_story_twice_does_not_replace_the_page_body():
    story = " ".join(f"{s} {s}" for s in _SENTENCES)
    data = {"@context": "https://schema.org", "@type": "NewsArticle",
            "headline": "River walk", "articleBody": f"{story} {story}"}
    head = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + "</article>", head),
                              "https://example.org/news/river-walk")
    assert article.paragraphs == [f"{s} {s}" for s in _SENTENCES]


def test_long_comment_inside_a_comment_thread_does_not_win():
    story = "<div class='entry'>" + _paragraphs(_SENTENCES) + "</div>"
    reader = ("Great news, finally, after years of waiting, we, the neighbours, get our walk, "
              "our benches, our lights, and, yes, our shade, thank you all, really, truly. ")
    thread = ("<div id='comments'><ol>" + "".join(
        f"<li><div class='comment-body'><div class='text'><p>{reader * 2}</p><p>{reader}</p>"
        "</div></div></li>" for _ in range(3)) + "</ol></div>")
    article = extract_article(_page(story + thread), "https://example.org/news/river-walk")
    assert _SENTENCES[0] in article.body and "neighbours" not in article.body


def test_a_very_short_blog_post_is_still_an_article():
    post = ("<article><div class='entry-content'><p>Rain again today, so the garden waits.</p>"
            "<p>Tomorrow, maybe, the roses.</p></div></article>")
    article = extract_article(_page(post), "https://example.org/2024/05/rain")
    assert "garden waits" in article.body and "roses" in article.body


def test_story_told_in_lists_across_sections_is_taken_whole():
    tips = [f"Tip {n}: {s}" for n, s in enumerate(_SENTENCES * 2)]
    sections = "".join(
        f"<section class='block'><div class='inner'><h2>Part {i}</h2><ul>"
        + "".join(f"<li>{t}</li>" for t in tips[i * 2:i * 2 + 2]) + "</ul></div></section>"
        for i in range(4))
    intro = "<section class='block'><div class='inner'><p>" + _SENTENCES[0] + "</p></div></section>"
    article = extract_article(_page("<div class='page'>" + intro + sections + "</div>"),
                              "https://example.org/guides/river-walk")
    assert tips[0] in article.body and tips[-1] in article.body


def test_photo_caption_ending_in_its_credit_is_dropped():
    caption = "<p>The old bridge at dusk, seen from the north bank (Image: Getty)</p>"
    article = _story_with(caption)
    assert "old bridge at dusk" not in article.body and _SENTENCES[3] in article.body


def test_consent_placeholder_of_an_embedded_video_is_dropped():
    placeholder = (
        "<div class='embed'><p>Empfohlener redaktioneller Inhalt</p>"
        "<p>An dieser Stelle finden Sie einen von unseren Redakteuren ausgewählten, externen"
        " Inhalt, der den Artikel für Sie mit zusätzlichen Informationen anreichert.</p>"
        "<p>Ich bin damit einverstanden, dass mir der externe Inhalt angezeigt wird. Damit"
        " können personenbezogene Daten an Drittplattformen übermittelt werden.</p>"
        "<p>We need your consent to load this YouTube video.</p></div>")
    article = _story_with(placeholder)
    assert _SENTENCES[0] in article.body and _SENTENCES[3] in article.body
    for words in ("redaktioneller", "externen", "einverstanden", "consent"):
        assert words not in article.body


def test_a_paragraph_that_is_only_a_byline_is_dropped_but_a_sentence_starting_alike_stays():
    bylines = ("<p>Von Nina Magoley</p>"
               "<p>By STEVE PEOPLES, THOMAS BEAUMONT and AMELIA THOMSON-DEVEAUX</p>"
               "<p>By Nada Tawfik, BBC News, New York</p>")
    story = "<p>By the time the council met, most residents had already signed the petition.</p>"
    article = _story_with(story, before=bylines)
    assert "Magoley" not in article.body and "PEOPLES" not in article.body
    assert "Tawfik" not in article.body
    assert "By the time the council met" in article.body and _SENTENCES[3] in article.body


def test_teasers_after_a_related_stories_heading_are_dropped():
    teasers = ("<div class='box'><h3>You may also like</h3>"
               + "".join(f"<p>{s}</p>" for s in ("A long summary of another story about the "
                                                 "harbour ferries, their timetables and fares.",
                                                 "Another summary, of a story about the market "
                                                 "hall, its stalls and its opening hours."))
               + "</div>")
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + teasers
                                    + "</article>"), "https://example.org/news/river-walk")
    assert _SENTENCES[3] in article.body
    assert "harbour ferries" not in article.body and "market hall" not in article.body


def test_inline_linked_read_more_does_not_end_the_story():
    inline = "<p>Weiterlesen: <a href='/other'>Die Fähre fährt wieder</a></p>"
    article = _story_with(inline)
    assert _SENTENCES[3] in article.body


def test_numbered_figure_caption_is_dropped():
    caption = "<p>Abbildung 4: Der Flussweg im Winter.</p>"
    article = _story_with(caption)
    assert "Abbildung" not in article.body and _SENTENCES[3] in article.body


def test_subheadline_beside_the_headline_opens_the_body():
    header = ("<header><h1>River walk to grow</h1><h2 class='article-subheadline'>The city "
              "adds two kilometres of path, benches and lights along the river by next spring."
              "</h2></header>")
    article = extract_article(_page("<article>" + header + "<div class='text'>"
                                    + _paragraphs(_SENTENCES) + "</div></article>"),
                              "https://example.org/news/river-walk")
    assert article.body.startswith("The city adds two kilometres")


def test_standfirst_is_found_beside_the_story_headline_not_the_logo():
    top = "<div class='brand'><h1><img src='/logo.png' alt=''></h1></div>"
    header = ("<div class='entry-header'><h1>River walk to grow</h1><p class='excerpt'>The city "
              "adds two kilometres of path, benches and lights along the river by next spring."
              "</p></div>")
    story = "<div class='text'>" + _paragraphs(_SENTENCES) + "</div>"
    nested = "<div><div><div><div>" + header + story + "</div></div></div></div>"
    article = extract_article(_page(top + nested), "https://example.org/news/river-walk")
    assert article.body.startswith("The city adds two kilometres")


def test_author_bio_box_is_not_story():
    bio = ("<section class='author-bio'><p>Jane Doe has covered city hall for the paper since "
           "2009, and before that wrote about transport, parks and the harbour for ten years.</p>"
           "</section>")
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + bio + "</article>"),
                              "https://example.org/news/river-walk")
    assert _SENTENCES[3] in article.body and "Jane Doe" not in article.body


def test_lead_block_printed_before_the_story_block_is_kept():
    lead = ("<div class='teaser-text'><p>The city adds two kilometres of path, benches and "
            "lights along the river by next spring.</p></div>")
    story = "<div class='news-text-wrap'>" + _paragraphs(_SENTENCES) + "</div>"
    page = "<div><div><div><div class='news'>" + lead + story + "</div></div></div></div>"
    article = extract_article(_page(page), "https://example.org/news/river-walk")
    assert article.body.startswith("The city adds two kilometres")


def test_recipe_without_paragraphs_falls_back_to_the_main_element():
    steps = "".join(f"<div class='step'>Step {n}: stir the batter well.</div>" for n in range(10))
    ingredients = "".join(f"<li>{n}00 g wheat flour</li>" for n in range(1, 9))
    review = ("<div class='review'><p>Lovely cake, baked it twice, my family, friends and "
              "neighbours, all of them, loved it, thank you!</p></div>")
    page = "<main><ul class='ing'>" + ingredients + "</ul>" + steps + "</main>" + review
    article = extract_article(_page(page), "https://example.org/recipes/cake")
    assert "800 g wheat flour" in article.body and "Step 9" in article.body


def test_rights_notice_is_dropped_but_a_sentence_about_copyright_stays():
    notice = "<p>© 2020 River Times Media. All Rights Reserved</p>"
    topic = ("<p>The council also asked whether the copyright of the old maps had expired, "
             "so that they could be printed on the new signs.</p>")
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + topic + notice
                                    + "</article>"), "https://example.org/news/river-walk")
    assert "old maps" in article.body and "Rights Reserved" not in article.body


def test_camel_case_cookie_content_blocker_is_dropped():
    blocker = ("<div class='BorlabsCookie'><p>Klicken Sie auf den unteren Button, um den Inhalt "
               "von maps.example.org zu laden, und stimmen Sie der Übertragung zu.</p></div>")
    article = _story_with(blocker)
    assert "Button" not in article.body and _SENTENCES[3] in article.body


def test_standfirst_beside_a_headline_wrapped_in_spans_is_found():
    header = ("<header class='entry-header'><div class='wrapper'><span><span><span><h1>River "
              "walk to grow</h1></span></span></span></div><div class='lead'><p>The city adds "
              "two kilometres of path, benches and lights along the river by next spring.</p>"
              "</div></header>")
    story = ("<div><div><div><div><div class='text'>" + _paragraphs(_SENTENCES)
             + "</div></div></div></div></div>")
    article = extract_article(_page(header + story), "https://example.org/news/river-walk")
    assert article.body.startswith("The city adds two kilometres")


def test_hidden_sign_in_wall_is_dropped_but_a_collapsed_story_part_is_kept():
    wall = ("<div class='intro-body__premium hidden'><div class='h2'>This content is reserved "
            "for subscribers only</div><ul><li>Unlimited digital access to the River Times.</li>"
            "<li>Daily puzzles, including the crossword.</li></ul></div>")
    faq = ("<div class='accordion-content hidden'><p>The walk is open from dawn to dusk, every "
           "day of the year, and dogs on a lead are welcome along the whole route from the old "
           "bridge to the harbour.</p></div>")
    article = extract_article(_page("<article>" + wall + _paragraphs(_SENTENCES) + faq
                                    + "</article>"), "https://example.org/news/river-walk")
    assert "subscribers only" not in article.body and "puzzles" not in article.body
    assert "dawn to dusk" in article.body


def test_data_table_is_read_row_by_row_with_its_short_cells():
    table = ("<figure class='wp-block-table'><table><caption>Walk sections</caption>"
             "<thead><tr><th>Section</th><th>Length</th><th>Open</th></tr></thead><tbody>"
             "<tr><td>Old bridge</td><td>1.2 km</td><td>2025</td></tr>"
             "<tr><td>Harbour</td><td>0.8 km</td><td>2025</td></tr></tbody></table></figure>")
    article = _story_with(table)
    rows = ["Walk sections", "Section | Length | Open", "Old bridge | 1.2 km | 2025",
            "Harbour | 0.8 km | 2025"]
    assert all(row in article.paragraphs for row in rows)
    assert article.body.index(_SENTENCES[1]) < article.body.index("Harbour") < article.body.index(
        _SENTENCES[2])


def test_layout_table_holding_paragraphs_is_walked_as_blocks():
    layout = ("<table><tr><td>" + _paragraphs(_SENTENCES) + "</td><td><p>Side note</p></td>"
              "</tr></table>")
    article = extract_article(_page(layout), "https://example.org/news/river-walk")
    assert article.paragraphs[0] == f"{_SENTENCES[0]} {_SENTENCES[0]}"
    assert not any(" | " in p for p in article.paragraphs)


def test_image_figure_is_dropped():
    figure = ("<figure><img src='/walk.jpg'><p>The river walk at dusk, seen from the old "
              "bridge, with the new lights switched on for the first time.</p></figure>")
    article = _story_with(figure)
    assert "dusk" not in article.body and _SENTENCES[3] in article.body


def test_wordpress_query_loop_of_other_posts_after_the_story_is_dropped():
    teasers = "".join(
        f"<div class='wp-block-post'><h3><a href='/p{i}'>Other story {i}</a></h3>"
        f"<p class='wp-block-post-excerpt__excerpt'>The harbour market reopens with new stalls, "
        f"longer hours and a weekend programme of music for families, number {i}.</p></div>"
        for i in range(4))
    page = _page("<div class='post-content'>" + _paragraphs(_SENTENCES)
                 + "<div class='wp-block-query is-layout-flow'>" + teasers + "</div></div>")
    article = extract_article(page, "https://example.org/news/river-walk")
    assert _SENTENCES[3] in article.body and "harbour market" not in article.body


def test_heading_whose_anchor_slug_names_sharing_is_kept():
    heading = "<h2 id='what-are-shared-paths'>What are shared paths?</h2>"
    article = _story_with(heading)
    assert "What are shared paths?" in article.paragraphs


def test_block_whose_id_is_a_slug_of_its_own_title_is_judged_by_its_text():
    slide = ("<div class='slide' id='city-promoted-the-walk-with-new-lights-1'><h2>City promoted "
             "the walk with new lights</h2><p>The mayor switched on the first lamps on Friday, "
             "and crowds walked the new section from the old bridge to the harbour.</p></div>")
    article = _story_with(slide)
    assert "The mayor switched on the first lamps" in article.body


def test_block_named_as_a_promotion_by_its_id_is_dropped():
    promo = ("<div id='sidebar-promoted-offers-box-1'><p>Save on season tickets for the river "
             "boat this month only.</p></div>")
    article = _story_with(promo)
    assert "season tickets" not in article.body


def test_photo_carousel_captions_are_not_story():
    carousel = ("<div class='Carousel'><div class='CarouselSlide'><span>1 of 2 |</span><p>Crowds "
                "walk along the river on the first evening of the new lights, Friday, May 3, 2024."
                "</p></div><div class='CarouselSlide'><span>2 of 2 |</span><p>The old bridge seen "
                "from the harbour, where the new section of the walk will begin next spring.</p>"
                "</div></div>")
    article = _story_with("", before=carousel)
    assert "Crowds walk along" not in article.body and _SENTENCES[0] in article.body


def test_forum_form_under_the_story_is_dropped():
    form = ("<div class='formulaire_spip formulaire_forum'><form><fieldset><legend>Qui êtes-vous ?"
            "</legend><p>Pour créer des paragraphes, laissez simplement des lignes vides.</p>"
            "</fieldset></form></div>")
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + form + "</article>"),
                              "https://example.org/news/river-walk")
    assert "Qui êtes-vous" not in article.body and _SENTENCES[3] in article.body


def test_parts_a_react_server_streamed_late_are_read_in_place():
    page = ("<html><head><title>River walk</title><script src='/_next/static/app.js'></script>"
            "</head><body><article><h1>River walk to grow</h1>"
            + _paragraphs(_SENTENCES[:1])
            + "<!--$?--><template id='B:0'></template><div>Loading paragraph...</div><!--/$-->"
            + _paragraphs(_SENTENCES[3:]) + "</article><footer>Contact us</footer>"
            "<div hidden id='S:0'>" + _paragraphs(_SENTENCES[1:3]) + "</div></body></html>")
    article = extract_article(page, "https://example.org/news/river-walk")
    assert article.paragraphs == [f"{s} {s}" for s in _SENTENCES]
    assert "Loading" not in article.body


def test_a_streamed_part_without_a_closed_boundary_keeps_the_text_around_it():
    page = ("<html><head><script src='/_next/static/app.js'></script></head><body>"
            "<template id='B:0'></template><main><article>" + _paragraphs(_SENTENCES[:2])
            + "</article></main><div hidden id='S:0'>" + _paragraphs(_SENTENCES[2:])
            + "</div></body></html>")
    article = extract_article(page, "https://example.org/news/river-walk")
    assert all(s in article.body for s in _SENTENCES)


def test_table_with_one_paragraph_a_cell_is_still_data():
    table = ("<table><tr><th>Section</th><th>Open</th></tr><tr><td><p>Old bridge</p></td>"
             "<td><p>2025</p></td></tr><tr><td><p>Harbour</p></td><td><p>2025</p></td></tr>"
             "</table>")
    article = _story_with(table)
    assert "Old bridge | 2025" in article.paragraphs and "Harbour | 2025" in article.paragraphs


def test_caption_between_the_headline_and_the_story_is_not_an_intro():
    header = ("<div class='headline-box'><h1>River walk to grow</h1></div><div class='media'>"
              "<div class='count-caption'>Walkers on the old bridge at dusk, Friday, May 3, "
              "2024, where the new section of the river walk will begin.</div></div>")
    article = extract_article(_page("<main>" + header + "<div class='story'>"
                                    + _paragraphs(_SENTENCES) + "</div></main>"),
                              "https://example.org/news/river-walk")
    assert "Walkers on the old bridge" not in article.body
    assert article.body.startswith(_SENTENCES[0])


def test_a_story_shipped_only_as_page_state_is_read_from_its_script():
    # The markup is a shell; a script carries the story's HTML as a JSON string (React
    # Query, Next.js), '<' escaped as \u003c, with an ad slot left unrendered.
    story = "".join(f"<p>{s}</p>" for s in _SENTENCES) + "$$ARTICLEAD$$"
    state = json.dumps({"article": {"contentHtml": story}}).replace("<", "\\u003c")
    page = _page(f"<div id='root'></div><script>window.__STATE__ = {state};</script>")
    article = extract_article(page, "https://example.org/news/river-walk")
    assert article.paragraphs == _SENTENCES


def test_page_state_without_paragraphs_leaves_the_page_without_a_body():
    state = json.dumps({"menu": ["Home", "News"], "note": "x" * 600})
    page = _page(f"<div id='root'></div><script>window.__STATE__ = {state};</script>")
    with pytest.raises(ExtractionError) as caught:
        extract_article(page, "https://example.org/news/river-walk")
    assert caught.value.reason == "no_article_body"


def test_a_sign_up_form_notice_does_not_outscore_a_short_story():
    notice = ("By filling in this form you will be added to our mailing list, and you can "
              "unsubscribe at any time with the link at the end of every e-mail we send. "
              "We never pass your data on to anyone; write to us with any questions.")
    body = (f"<div class='teaser'><p>{_SENTENCES[0]}</p></div>"
            f"<div class='side'><form><div><p>{notice}</p></div>"
            "<input name='email'></form></div>")
    article = extract_article(_page(body), "https://example.org/news/river-walk")
    assert article.body == _SENTENCES[0]


def test_a_form_wrapping_the_whole_page_is_no_reason_to_doubt_the_story():
    body = ("<form id='aspnetForm'><h1>River walk</h1><div>" + _paragraphs(_SENTENCES)
            + "</div></form>")
    article = extract_article(_page(body), "https://example.org/news/river-walk")
    assert _SENTENCES[0] in article.body and _SENTENCES[3] in article.body


@pytest.mark.parametrize(("ruby", "shown"), [
    ("<ruby>Kyoto<rt>KYOH-toh</rt></ruby>", "Kyoto"),
    ("<ruby>Kyoto<rp>(</rp><rt>KYOH-toh</rt><rp>)</rp></ruby>", "Kyoto(KYOH-toh)"),
])
def test_ruby_readings_are_kept_only_as_parenthesised_glosses(ruby, shown):
    story = [f"{s} {s}".replace("river walk", f"river walk in {ruby}") for s in _SENTENCES]
    article = extract_article(_page("<article>" + "".join(f"<p>{s}</p>" for s in story)
                                    + "</article>"), "https://example.org/news/river-walk")
    assert f"river walk in {shown} by" in article.body
    assert ("KYOH" in article.body) == ("(" in shown)


def test_an_endless_scroll_page_gives_the_story_under_the_pages_own_headline():
    """The next story printed below, longer and under its own <h1>, does not win."""
    other = [s.replace("river walk", "harbour ferry").replace("council", "port board")
             for s in _SENTENCES]
    first = "<article><h1>River walk</h1>" + _paragraphs(_SENTENCES[:3]) + "</article>"
    second = ("<article class='next'><h1>Harbour ferry</h1>" + _paragraphs(other)
              + _paragraphs(other[::-1]) + "</article>")
    article = extract_article(_page(first + second), "https://example.org/news/river-walk")
    assert _SENTENCES[0] in article.body and "harbour ferry" not in article.body


def test_a_lead_photo_block_gives_no_standfirst_its_caption_is_not_story():
    header = ("<div class='entry-header'><h1>River walk to grow</h1><div class='lead-media'>"
              "<img src='/walk.jpg' alt=''><div>Walkers on the old river path near the bridge."
              "</div></div></div>")
    story = "<div class='text'>" + _paragraphs(_SENTENCES) + "</div>"
    article = extract_article(_page("<div>" + header + story + "</div>"),
                              "https://example.org/news/river-walk")
    assert article.body.startswith(_SENTENCES[0]) and "Walkers" not in article.body


@pytest.mark.parametrize("caption_class", ["embed-caption", "image_caption", "caption"])
def test_a_lead_block_whose_picture_a_script_loads_gives_no_standfirst(caption_class):
    caption = ("Walkers on the old river path near the bridge, where the new section will "
               "begin in spring. (City Photo/Jane Doe)")
    header = ("<div class='entry-header'><h1>River walk to grow</h1><div class='lead-feature'>"
              "<div class='placeholder' data-key='media-placeholder'></div>"
              f"<div class='{caption_class}'>{caption}</div></div></div>")
    story = "<div class='text'>" + _paragraphs(_SENTENCES) + "</div>"
    article = extract_article(_page("<div>" + header + story + "</div>"),
                              "https://example.org/news/river-walk")
    assert article.lead is None and "Walkers" not in article.body


def test_a_standfirst_set_in_a_type_style_named_caption_is_still_the_standfirst():
    dek = "The council will extend the river walk to the old mill by spring, it said on Monday."
    header = ("<div class='entry-header'><h1>River walk to grow</h1>"
              f"<h2 class='hero__teaser caption-s5-fx'>{dek}</h2></div>")
    story = "<div class='text'>" + _paragraphs(_SENTENCES) + "</div>"
    article = extract_article(_page("<div>" + header + story + "</div>"),
                              "https://example.org/news/river-walk")
    assert article.lead == dek


def test_a_picture_caption_outside_figcaption_is_not_story():
    picture = ("<div class='contentimage'><img src='/walk.jpg' alt=''><span class='caption "
               "small'>Walkers on the old river path near the bridge, where the new section "
               "will begin in spring.</span></div>")
    article = _story_with(picture)
    assert _SENTENCES[3] in article.body and "Walkers" not in article.body


def test_a_type_style_named_caption_is_no_caption():
    styled = ("<p class='caption-s3-fx'>Walkers on the old river path near the bridge said "
              "they had waited years for the new section to open, and welcomed the plan.</p>")
    assert "Walkers on the old river path" in _story_with(styled).body


def _story_ending_with(tail: str) -> Article:
    return extract_article(_page("<article>" + _paragraphs(_SENTENCES) + tail + "</article>"),
                           "https://example.org/news/river-walk")


def test_labels_and_credits_after_the_last_sentence_are_not_story():
    tail = ("<p>About the author</p><p>Photograph by Jane Doe / City Archive</p>"
            "<div>Leave a comment</div>")
    article = _story_ending_with(tail)
    assert article.body.endswith(_SENTENCES[3])
    assert "author" not in article.body and "Photograph" not in article.body


@pytest.mark.parametrize("tail, kept", [
    # a colon introduces what follows it
    ("<p>Sources:</p><p>City council minutes</p>", "City council minutes"),
    # a sentence after the short line: the story goes on
    ("<h2>What comes next</h2><p>The council meets again in May.</p>", "What comes next"),
    # a long line that ends no sentence is a line of story, not a label
    ("<p>Ages 12 to 70 / " + "walkers, runners and cyclists of the river district " * 3
     + "</p>", "Ages 12 to 70"),
])
def test_a_tail_that_introduces_continues_or_tells_stays(tail, kept):
    assert kept in _story_ending_with(tail).body


@pytest.mark.parametrize("caption", [
    "Walkers on the old river path near the bridge. © City Archive / Jane Doe",
    "The old river path near the bridge in winter. Photo: Jane Doe",
    "The old river path near the bridge | © Riverside Trust",
])
def test_a_caption_ending_with_its_credit_is_not_story(caption):
    article = _story_with(f"<p>{caption}</p>")
    assert _SENTENCES[3] in article.body and "old river path" not in article.body


def test_a_line_naming_a_credit_that_is_no_picture_credit_stays():
    line = "Tuition for the river guide course, cost per credit: 472 dollars in state"
    assert line in _story_with(f"<p>{line}</p>").body


_BYLINE_HEAD = '<meta name="author" content="Jane Riverton">'


def test_the_authors_bio_after_the_story_is_not_story():
    bio = ("<p>Jane Riverton is a senior reporter covering city planning, transport and "
           "housing for the paper.</p>")
    article = extract_article(_page("<article>" + _paragraphs(_SENTENCES) + bio + "</article>",
                                    _BYLINE_HEAD), "https://example.org/news/river-walk")
    assert article.authors == ["Jane Riverton"]
    assert article.body.endswith(_SENTENCES[3]) and "senior reporter" not in article.body


def test_the_authors_name_inside_the_story_is_story():
    quote = ("<p>Jane Riverton walked the old path every morning for years, and she said the "
             "new section would finally link both bridges for everyone in the district.</p>")
    article = extract_article(
        _page("<article>" + _paragraphs(_SENTENCES[:2]) + quote + _paragraphs(_SENTENCES[2:])
              + "<p>More walks are planned for next year, the council said in a statement.</p>"
              + "</article>", _BYLINE_HEAD), "https://example.org/news/river-walk")
    assert "Jane Riverton walked" in article.body


def test_the_story_container_does_not_grow_beyond_main():
    clinic = ("Our clinic on Harbour Street is open every weekday from eight until six, and "
              "our nurses answer calls about appointments, repeat prescriptions and results.")
    aside = f"<div class='col'><p>{clinic}</p><p>{clinic[::-1]}</p></div>"
    page = (f"<div id='root'><main><div class='body'>{_paragraphs(_SENTENCES)}</div></main>"
            f"{aside}</div>")
    article = extract_article(_page(page), "https://example.org/news/river-walk")
    assert _SENTENCES[3] in article.body and "Harbour Street" not in article.body


def test_lines_split_by_br_inside_a_paragraph_stay_apart():
    lines = ("<p>The new section opens in <strong>spring</strong><br>Bridges: Old Mill and "
             "Weir<br><em>Length</em>: two kilometres along the north bank</p>")
    body = _story_with(lines).body
    assert "spring Bridges: Old Mill and Weir Length: two kilometres" in body


@pytest.mark.parametrize(("ident", "overlay"), [
    ("CybotCookiebotDialog", True), ("onetrust-consent-sdk", True), ("gdpr-banner", True),
    ("COOKIE_BAR", True), ("Consent", False), ("story-cookies-recipe", True),
    ("cookbook", False), ("\u212aookie", False),  # Kelvin sign: no ASCII 'k', as the regex
    ("ÄrgerCookie", True), ("ÄrgerCOOKIE", True), ("didomi-host", True),
])
def test_overlay_ids_are_told_apart_in_any_ascii_case(ident, overlay):
    from worker.extract.boilerplate import is_overlay_id
    assert is_overlay_id(ident) is overlay


def test_overlay_named_by_its_id_is_dropped_from_the_story():
    banner = ("<div id='onetrust-consent-sdk'><p>" + "We value your privacy and ask. " * 6
              + "</p></div>")
    article = _story_with(banner)
    assert "privacy" not in article.body and _SENTENCES[3] in article.body


def test_word_count_is_the_body_split_into_words_whatever_the_page_spacing():
    spaced = ("<p>  The council\tvoted \u00a0on  Tuesday\n to extend the walk.  </p>"
              "<p>\u3000Work will begin in spring,\u2009officials said on Monday.</p>"
              "<p>CAIRO (Reuters) - Residents asked for more benches &amp;amp; lights.</p>")
    article = extract_article(_page("<article>" + spaced + _paragraphs(_SENTENCES) + "</article>"),
                              "https://example.org/news/river-walk")
    assert article.word_count == len(article.body.split())


def test_a_wrapper_scoring_near_the_winner_is_read_whole():
    # A product page in short lines (none long enough to count as story text): the first
    # tab pane outscores its wrapper, but only just, so the wrapper holds more of the page.
    pane = "".join(f"<p>Dose {n}: one tablet, with water, after meals, not with milk, daily.</p>"
                   for n in range(1, 6))
    rest = "".join(f"<p>Note {n}: keep dry, below 25 C, away from children.</p>"
                   for n in range(1, 4))
    page = _page(f"<h1>Tablets</h1><div class='tabs'><div class='pane'>{pane}</div>{rest}</div>")
    article = extract_article(page, "https://example.org/products/tablets")
    assert "Dose 1: one tablet" in article.body
    assert "Note 3: keep dry" in article.body


def test_teaser_cards_whose_blocks_sit_inside_a_link_are_not_story():
    cards = "".join(
        f"<a href='/news/{n}'><article><h3>Other story {n}: the market reopens</h3>"
        f"<p>Traders returned on Monday after the long holiday, and prices rose sharply "
        f"in the first hour of trading {n}.</p></article></a>" for n in range(3))
    article = extract_article(
        _page("<article>" + _paragraphs(_SENTENCES) + cards + "</article>"),
        "https://example.org/news/river-walk")
    assert _SENTENCES[3] in article.body
    assert "Other story" not in article.body and "Traders returned" not in article.body


def test_teaser_cards_inside_links_do_not_widen_the_story_container():
    # Long teaser paragraphs inside links are no story text: counted as such, they drew
    # the container up to the page wrapper, and the wrapper's promo line came along.
    cards = "".join(
        f"<a href='/news/{n}'><div class='card'><p>Traders returned on Monday after the "
        f"long holiday, and prices rose, fell, and rose again in the first hour {n}.</p>"
        "</div></a>" for n in range(5))
    page = _page("<h1>River walk</h1><div class='page'>"
                 f"<div class='story'>{_paragraphs(_SENTENCES[:3])}</div>"
                 f"<div class='cards'>{cards}</div>"
                 "<div class='box'><p>Boat tour tickets go on sale at the harbour on Friday.</p>"
                 "</div></div>")
    article = extract_article(page, "https://example.org/news/river-walk")
    assert _SENTENCES[2] in article.body
    assert "Boat tour tickets" not in article.body


def test_a_line_printing_an_image_files_path_is_not_story():
    record = ("<p>6073731 0 World 2024/12/03 23:17:00 2024/12/04 00:06:42 "
              "/media/2024/12/20241203-OYT1I50202-T.jpg?type=thumbnail</p>")
    article = _story_with(record)
    assert _SENTENCES[1] in article.body and _SENTENCES[2] in article.body
    assert "6073731" not in article.body and ".jpg" not in article.body


@pytest.mark.parametrize("marker", ["<article>{}</article>", "<div itemprop='articleBody'>{}</div>",
                                    "<h1>River walk extended</h1>{}"])
def test_furniture_that_broken_markup_wraps_around_the_story_is_kept(marker):
    body = "<aside>" + marker.format(_paragraphs(_SENTENCES)) + "</aside>"
    article = extract_article(_page(body), "https://example.org/news/river-walk")
    assert _SENTENCES[0] in article.body and _SENTENCES[3] in article.body


def test_an_overlay_whose_only_headline_was_a_dropped_noscript_notice_is_dropped():
    ferry = ["The ferry timetable changes next month, with extra boats on weekends, holidays"
             f" and, from May, late evenings on line {n}, the operator said." for n in range(6)]
    overlay = ("<div class='modal'><noscript><h1>Please enable JavaScript</h1></noscript>"
               + _paragraphs(ferry) + "</div>")
    article = extract_article(_page(overlay + "<div>" + _paragraphs(_SENTENCES) + "</div>"),
                              "https://example.org/news/river-walk")
    assert "ferry" not in article.body and _SENTENCES[3] in article.body


@pytest.mark.parametrize("call", [
    "Never miss the latest news by signing up to our newsletter today!",
    "Melden Sie sich jetzt für den kostenlosen Newsletter an! Wir informieren Sie täglich.",
    "Lust auf mehr? Melde dich hier für unseren Newsletter an!",
    "Get the best stories in your inbox: subscribe to our weekly newsletter",
])
def test_a_call_to_sign_up_for_a_newsletter_is_not_story(call):
    article = _story_with(f"<p>{call}</p>")
    assert _SENTENCES[1] in article.body and _SENTENCES[2] in article.body
    assert "ewsletter" not in article.body


@pytest.mark.parametrize("line", [
    "The Guardian US added 680,000 newsletter subscribers in a single year, the paper said.",
    "Twelve people signed up for my newsletter in the past week, and I did nothing for them.",
    "I ultimately decided my newsletter digest bot would be an automation, not an agent.",
])
def test_a_sentence_about_newsletters_stays_story(line):
    assert line in _story_with(f"<p>{line}</p>").body


@pytest.mark.parametrize("notice", [
    "This post contains references to products from one or more of our advertisers. We may "
    "receive compensation when you click on links to those products.",
    "Letzte Aktualisierung am 2.02.2022 / Bei den Verlinkungen handelt es sich um Affiliate "
    "Links / Bilder von der Amazon Product Advertising API",
    "*Werbung. Dieser Beitrag enthält Werbung für eine Yogamatte.",
])
def test_an_affiliate_or_advertising_disclosure_is_not_story(notice):
    article = _story_with(f"<p>{notice}</p>")
    assert _SENTENCES[1] in article.body and _SENTENCES[2] in article.body
    assert notice[:30] not in article.body


def test_a_sentence_naming_affiliate_links_as_its_topic_stays_story():
    line = ("Streamers earn money when viewers buy games, gear or software through affiliate "
            "links, the report found.")
    assert line in _story_with(f"<p>{line}</p>").body


@pytest.mark.parametrize("notice", [
    "Les opinions exprimées dans les blogs n'engagent que leurs auteurs.",
    "(Alle Angaben ohne Gewähr)",
    "The views expressed here are the author's own and not those of the publisher.",
])
def test_a_disclaimer_of_the_pages_responsibility_is_not_story(notice):
    article = _story_with(f"<p>{notice}</p>")
    assert _SENTENCES[1] in article.body and _SENTENCES[2] in article.body
    assert notice[:20] not in article.body


def test_an_elements_text_read_by_lexbor_is_its_deep_text() -> None:
    # Extraction reads element texts with text_lexbor(), which must equal text(deep=True):
    # with comments, template contents, foreign-content CDATA and bytes that are not UTF-8.
    tree = LexborHTMLParser(
        b"<html><body><div id=a> One <b>two</b><!-- note --> <i>thr\xc3\xa9e</i>\n"
        b"<template><p>later</p></template><svg><![CDATA[x<y]]><text>four</text></svg>"
        b"<p>f\xffive</p><p></p></div></body></html>")
    elements = tree.root.css("*")
    assert len(elements) > 10
    for node in elements:
        assert node.text_lexbor() == node.text(deep=True), node.tag
