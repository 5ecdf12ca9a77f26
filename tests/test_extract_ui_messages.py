"""Messages a page shows in answer to a form (ARIA alerts, status lines, validation and
response messages) are not story, shown or hidden, wherever the form sits (issue 13).
The pages follow common markup: a broadcaster's video page with its sign-in and sign-up
dialogs, Contact Form 7 and Gravity Forms in a WordPress post, Webflow's form block,
Bootstrap's validation feedback, a page wrapped whole in an ASP.NET form."""

from worker.extract import extract_article

from .story_pages import STORY, URL, paragraphs

DESCRIPTION = ("New York is the centre of the pandemic in the United States. Sport has come "
               "to a halt there too. The leagues share the grief, and nobody knows when the "
               "seasons will go on.")
#: What sign-up and comment forms tell a reader who got a field wrong, in two languages.
ERRORS = [
    "Please fill in all required fields marked with an asterisk before you continue.",
    "This e-mail address does not look right: it must contain an @ and an existing domain.",
    "The password must be at least eight characters long and contain one capital letter.",
    "Bitte stimme unseren Nutzungsbedingungen und unserer Datenschutzerklärung zu.",
    "Leider hat die Registrierung nicht funktioniert. Bitte überprüfe deine Angaben.",
    "Oops! Something went wrong while submitting the form. Please try again later.",
]


def _page(body: str) -> str:
    return ("<html><head><title>Water board to replace old pipes</title></head><body>"
            "<header><a href='/'>Example News</a></header>" + body + "</body></html>")


def _alert(text: str) -> str:
    return (f"<p class='form-field-error error-item' role='alert' data-message='invalid'>"
            f"<span class='error-msg'>{text}</span></p>")


def test_a_video_page_reads_its_description_not_the_sign_up_dialogs_alerts():
    dialogs = "".join(
        f"<article class='login-panel' id='panel-{n}'><form action='#' novalidate>"
        f"<h2>Sign in</h2><fieldset>{''.join(_alert(e) for e in ERRORS)}"
        "<input name='email'></fieldset></form></article>" for n in range(3))
    page = _page("<main><div class='player'><h1>US sport in times of corona</h1>"
                 f"<div class='item-caption'><p class='item-description'>{DESCRIPTION}</p>"
                 f"</div></div></main>{dialogs}")
    body = extract_article(page, URL).body
    assert body == DESCRIPTION


def test_validation_and_response_messages_of_a_form_in_the_story_are_not_story():
    contact_form_7 = (
        "<div class='wpcf7'><form class='wpcf7-form'><p><label>Your e-mail<input></label>"
        f"<span class='wpcf7-not-valid-tip'>{ERRORS[1]}</span></p>"
        f"<div class='wpcf7-response-output' aria-live='polite'>{ERRORS[5]}</div></form></div>")
    gravity = (
        "<form id='gform_1'><div class='gform_validation_errors'>"
        f"<p>{ERRORS[0]}</p></div><div class='gfield gfield_error'>"
        f"<div class='validation_message'>{ERRORS[2]}</div></div></form>")
    bootstrap = (f"<form class='needs-validation'><div class='invalid-feedback'>{ERRORS[3]}"
                 f"</div><div class='valid-feedback'>Looks good!</div></form>")
    page = _page("<article><h1>Water board to replace old pipes</h1>"
                 f"{paragraphs(STORY[:2])}{contact_form_7}{paragraphs(STORY[2:])}{gravity}{bootstrap}"
                 "</article>")
    body = extract_article(page, URL).body
    assert body.split("\n\n") == STORY


def test_a_forms_answers_printed_beside_it_are_not_story():
    webflow = ("<div class='w-form'><form name='newsletter'><input type='email'></form>"
               f"<div class='w-form-fail'><div>{ERRORS[5]}</div></div></div>")
    page = _page(f"<article><h1>Water board to replace old pipes</h1>{paragraphs(STORY)}{webflow}"
                 "</article>")
    body = extract_article(page, URL).body
    assert body.split("\n\n") == STORY


def test_a_page_wrapped_in_one_form_keeps_its_story_and_its_live_region():
    # ASP.NET wraps the whole page in a form; a liveblog's entries sit in a live region,
    # and Word Online's export marks a misspelt word 'SpellingError'.
    entries = "".join(f"<div class='entry'><p>{s}</p></div>" for s in STORY[2:])
    page = _page("<form id='aspnetForm' action='./story.aspx'><main>"
                 "<h1>Water board to replace old pipes</h1>"
                 f"<p>{STORY[0]}</p><p>Engineers found that a third of the <span "
                 "class='NormalTextRun SpellingErrorV2Themed SCXW1'>mains</span> there were "
                 "laid before 1950 and now lose almost a fifth of the water they carry.</p>"
                 f"<div class='live-updates' aria-live='polite'>{entries}</div>"
                 "<span class='field-validation-error'>The e-mail field is required before "
                 "the comment can be posted.</span></main></form>")
    body = extract_article(page, URL).body
    assert body.split("\n\n") == STORY
