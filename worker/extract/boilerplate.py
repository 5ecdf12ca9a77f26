"""What is not the story: class/id hints and paragraph texts, in many languages."""

from __future__ import annotations

import re

#: class/id words of containers that hold navigation, promotion, sharing or comments.
NEGATIVE_ATTR = re.compile(
    r"(?:^|[-_\s])(?:comments?|komentar|kommentare?|share|sharing|social|socials|sosmed|"
    r"related|terkait|recommend\w*|promo\w*|advert\w*|ads?|adsbygoogle|ad-?slot|dfp|sponsor\w*|"
    r"newsletter|subscribe|subscription|signup|sidebar|widget|footer|nav|navbar|navigation|"
    r"menu|breadcrumbs?|cookie\w*|consent|popup|modal|banner|tags?|tag-?list|keywords|"
    r"author-?bio|author-?box|caption|credits?|paywall|outbrain|taboola|read-?more|"
    r"more-?stories|trending|popular|terpopuler|also-?read|baca-?juga|bacajuga|lihat-?juga|"
    r"login|print|toolbar|pagination|pager|skip|hidden|visually-?hidden|sr-only|"
    r"teaser-?list|most-?read|next-?article|prev-?article|jump|inline-?related|"
    r"rating|donate|donation|membership|tooltip|disclaimer)(?:$|[-_\s\d])", re.I)
#: class/id words of the article body.
POSITIVE_ATTR = re.compile(
    r"article|body|content|entry|main|post|story|text|detail|news|blog|prose|"
    r"rich-?text|paragraph|isi|konten|artikel|beitrag|inhalt|texto|contenu|testo|corpo", re.I)
#: Strong negatives: containers with these words are never story text, whatever they hold.
STRONG_NEGATIVE_ATTR = re.compile(
    r"comment|komentar|kommentar|cookie|consent|onetrust|gdpr|newsletter|outbrain|taboola|"
    r"related|terkait|recommend|most-?read|popular|trending|sponsor|share|sharing|social|"
    r"paywall|subscribe|advert|promo", re.I)
#: Overlays and consent walls removed before scoring; they can out-text a short story.
OVERLAY_SELECTOR = ('[id*="onetrust"], [id*="cookie"], [class*="cookie"], [id*="consent"], '
                    '[class*="consent"], [id*="gdpr"], [class*="gdpr"], [class*="cmp-"], '
                    '[id*="didomi"], [class*="modal"], [role="dialog"], [aria-modal="true"]')

#: Paragraphs that open a related-links block or prompt the reader, in many languages.
_PROMPTS = (
    r"baca juga|baca selengkapnya|lihat juga|simak juga|simak video|tonton juga|"
    r"artikel terkait|berita terkait|tulis komentar|komentar anda|ikuti (?:kami|berita)|"
    r"dapatkan (?:update|berita)|read (?:more|also|next)|see also|related(?: articles?| stories"
    r"| coverage| content)?|more on this|recommended|advertisement|sponsored|scroll to continue|"
    r"continue reading|click here|sign up|subscribe|follow us|share this|share on|"
    r"lesen sie (?:auch|mehr)|mehr zum thema|auch interessant|weitere artikel|anzeige|"
    r"lire aussi|à lire aussi|lire la suite|voir aussi|publicité|leer más|lee también|"
    r"te puede interesar|publicidad|leia (?:também|mais)|veja também|publicidade|"
    r"leggi anche|potrebbe interessarti|pubblicità|lees ook|lees meer|advertentie|"
    r"all rights reserved|hak cipta|copyright|©"
)
_PROMPT = re.compile(r"^\W*(?:" + _PROMPTS + r")\b", re.I)
#: Editor's initials sign-off, e.g. "(sya)", "(nug/ega)", "(dtk)".
_SIGNOFF = re.compile(r"^\(\s*[a-z]{2,5}(?:\s*[/,]\s*[a-z]{2,5})*\s*\)$", re.I)
#: Image credits and share counters.
_CREDIT = re.compile(r"^(?:foto|photo|image|bild|gambar|ilustrasi|credit|quelle|source|"
                     r"fuente|sumber)\s*[:/]", re.I)


def is_boilerplate_text(text: str) -> bool:
    """True for a paragraph that is a prompt, a sign-off or a credit rather than story."""
    if _SIGNOFF.match(text):
        return True
    if len(text) > 160:
        return False
    return bool(_PROMPT.match(text) or _CREDIT.match(text))


def strip_signoff(text: str) -> str:
    """Remove a trailing editor's sign-off printed inside the last paragraph: '... (sya)'."""
    m = re.search(r"\s*\(\s*[a-z]{2,5}(?:\s*[/,]\s*[a-z]{2,5})*\s*\)$", text)
    if m and len(text) > m.end() - m.start() + 20 and m.group(0).strip()[1:-1].islower():
        return text[: m.start()]
    return text
