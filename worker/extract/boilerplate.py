"""What is not the story: class/id hints and paragraph texts, in many languages."""

from __future__ import annotations

import re
from functools import lru_cache

#: class/id words of containers that hold navigation, promotion, sharing or comments;
#: matched against the words of a class/id string and against adjacent word pairs.
_NEGATIVE_TEXT = """
comment comments komentar kommentar kommentare share sharing social socials sosmed related
terkait promo promos promotion advert advertisement advertising ad ads adsbygoogle adslot dfp
sponsor sponsored newsletter subscribe subscription signup sidebar widget widgets footer nav
navbar navigation menu breadcrumb breadcrumbs cookie cookies consent popup modal banner tag tags
taglist keywords authorbio authorbox caption credit credits paywall outbrain taboola readmore
morestories trending popular terpopuler alsoread bacajuga lihatjuga login print toolbar
pagination pager skip hidden visuallyhidden sronly teaserlist mostread nextarticle prevarticle
jump inlinerelated rating donate donation membership tooltip disclaimer recommended recommend
recommendations forum
"""
NEGATIVE_WORDS = frozenset(_NEGATIVE_TEXT.split())
_NEGATIVE_PREFIXES = ("recommend", "promo", "advert", "sponsor", "cookie")
_WORD = re.compile(r"[a-z0-9]+")


def has_negative_word(words: str) -> bool:
    """True when a class/id string names a boilerplate container ('share-bar', 'readMore')."""
    tokens = _WORD.findall(words.lower())
    if not NEGATIVE_WORDS.isdisjoint(tokens):
        return True
    for i, token in enumerate(tokens):
        if token.startswith(_NEGATIVE_PREFIXES):
            return True
        if i and tokens[i - 1] + token in NEGATIVE_WORDS:
            return True
    return False


#: class/id fragments of the article body (substrings: 'articleBody', 'post-content').
POSITIVE_FRAGMENTS = (
    "article", "body", "content", "entry", "main", "post", "story", "text", "detail", "news",
    "blog", "prose", "richtext", "rich-text", "paragraph", "isi", "konten", "artikel",
    "beitrag", "inhalt", "texto", "contenu", "testo", "corpo")
#: Strong negatives: containers with these fragments are never story text, whatever they hold.
STRONG_NEGATIVE_FRAGMENTS = (
    "comment", "komentar", "kommentar", "cookie", "consent", "onetrust", "gdpr", "dsgvo",
    "newsletter", "author-bio", "authorbio", "author_bio", "author-box", "authorbox",
    "author_box", "about-author", "about-the-author",
    "outbrain", "taboola", "related", "terkait", "recommend", "mostread", "most-read",
    "popular", "trending", "sponsor", "share", "sharing", "social", "subscribe",
    "advert", "promo", "carousel",
    # WordPress blocks listing other posts (Query Loop, Latest Posts) inside the story column
    "wp-block-query", "wp-block-latest-posts")


_FRAGMENT_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def has_fragment(words: str, fragments: tuple[str, ...]) -> bool:
    """Substring test over a lower-cased class/id string: one alternation per fragment
    list (measured a third faster than one ``in`` per fragment on real class strings)."""
    pattern = _FRAGMENT_PATTERNS.get(fragments)
    if pattern is None:
        pattern = _FRAGMENT_PATTERNS[fragments] = re.compile(
            "|".join(re.escape(f) for f in fragments))
    return pattern.search(words.lower()) is not None


#: Overlays and consent walls removed before scoring; they can out-text a short story.
#: A substring test of class names costs 1-2% of the whole extraction (every element has
#: classes; ids are few and cheap to test), so each one earns its place: 'cookie' in any
#: case (consent plugins write 'BorlabsCookie', Cookiebot 'CybotCookiebotDialog'); consent,
#: GDPR and DSGVO banners are tested by id, their classes also say 'cookie' (no page of the
#: shared sets changes without the class tests); OneTrust's banner sits in
#: '#onetrust-consent-sdk'.
OVERLAY_SELECTOR = ('[class*="cookie" i], [class*="modal"], [role="dialog"], '
                    '[aria-modal="true"]')
#: The ids of overlays, tested in Python on the elements that have an id: each attribute
#: selector walks the whole tree (0.013 ms a page), reading every id once costs less than
#: two. ('cookie' in any ASCII case, as the selector's ``i`` flag; the others as written.)
_OVERLAY_ID = re.compile(r"(?i:cookie)|consent|gdpr|dsgvo|didomi", re.ASCII)


def is_overlay_id(ident: str) -> bool:
    """Whether an element id names a consent or cookie overlay."""
    if ident.isascii():
        # Substring tests: a third of the regex's time on a page's ids. (``lower`` folds
        # only ASCII letters here, as the regex does.)
        return ("cookie" in ident.lower() or "consent" in ident or "gdpr" in ident
                or "dsgvo" in ident or "didomi" in ident)
    return _OVERLAY_ID.search(ident) is not None

#: Messages a page's scripts show the reader in answer to a form, in the markup of every page
#: whether shown or not: ARIA alerts, status lines and live regions ("off" marks none), and
#: validation or response messages named by class. A video page's sign-in and sign-up forms
#: carry dozens of them ('Bitte fülle alle Pflichtfelder mit * aus.'), which out-text a story
#: of one paragraph. Looked for inside a form and beside it only: a selector over the whole
#: tree costs 0.5% of a page each, and elsewhere live regions wrap liveblogs, tickers and
#: carousels, and 'error' names 404 pages and Word's 'SpellingError' runs. (One holding a
#: paragraph of story length stays.)
FORM_MESSAGE_SELECTOR = ('[role="alert"], [role="status"], [aria-live], [class*="rror"], '
                         '[class*="valid"], [class*="fail"]')
#: Class words of a form's messages as form plugins and frameworks name them: 'error-msg',
#: 'form-field-error', 'invalid-feedback' (Bootstrap), 'wpcf7-not-valid-tip' (Contact
#: Form 7), 'gform_validation_message' (Gravity Forms), 'w-form-fail' (Webflow),
#: 'parsley-errors-list'; whole parts of a class word only.
_FORM_MESSAGE_CLASS = re.compile(
    r"(?:^|[\s_-])(?:errors?|invalid|not-valid|validation|fail(?:ed|ure)?)(?:$|[\s_-])", re.I)


def is_form_message(role: str | None, live: str | None, words: str | None) -> bool:
    """Whether an element inside or beside a form, with these ``role``, ``aria-live`` and
    class attributes, is one of its alerts, status lines, validation or response messages."""
    return (role in ("alert", "status") or (live is not None and live != "off")
            or (words is not None and _FORM_MESSAGE_CLASS.search(words) is not None))


#: Class fragments of a standfirst or lead block ('teaser-text', 'article-subheadline').
LEAD_CLASS = re.compile("standfirst|lead|teaser|summary|intro|excerpt|dek|subtitle|"
                        "subheadline|sub-headline|deck|bajada|epigraph|chapo|chapeau")


@lru_cache(maxsize=4096)
def is_lead_class(words: str) -> bool:
    """Whether a class string names a lead block (LEAD_CLASS). Pages repeat their class
    strings, and the search costs seven times the cache's lookup."""
    return LEAD_CLASS.search(words) is not None

#: Blocks the page hides with a class word: 'hidden', not 'hidden-xs' (phones only). (The
#: ``hidden`` attribute and 'd-none' mark collapsed sections, tabs and streamed-in story
#: parts too often to be dropped.)
HIDDEN_SELECTOR = '[class~="hidden"], [class~="is-hidden"]'


#: Paragraphs that open a related-links block or prompt the reader, in many languages.
_PROMPTS = (
    r"baca juga|baca selengkapnya|lihat juga|simak juga|simak video|tonton juga|"
    r"artikel terkait|berita terkait|tulis komentar|komentar anda|ikuti (?:kami|berita)|"
    r"dapatkan (?:update|berita)|read (?:more|also|next)|see also|related(?: articles?| stories"
    r"| coverage| content)?|more on this|recommended|advertisement|sponsored|scroll to continue|"
    r"continue reading|click here|sign up|subscribe|follow us|share this|share on|"
    # the newsroom's call for tips and its pointer to more of the same
    r"(?:got|have you got|do you have|have) a (?:story|news tip|tip)(?=\s*(?:\?|for us\b))|"
    r"get in touch with (?:our|the) (?:news|editor)|"
    r"for more (?:stories|news|articles|updates) like this|"
    r"lesen sie (?:auch|mehr)|mehr zum thema|auch interessant|weitere artikel|anzeige|"
    r"lire aussi|à lire aussi|lire la suite|voir aussi|publicité|leer más|lee también|"
    r"te puede interesar|publicidad|leia (?:também|mais)|veja também|publicidade|"
    r"leggi anche|potrebbe interessarti|pubblicità|lees ook|lees meer|advertentie|"
    r"czytaj (?:więcej|też|także|również)|"
    # German public broadcasters' note of when the topic was on air
    r"dieses thema im programm|über dieses thema berichtete?|"
    r"all rights reserved|hak cipta|copyright|©|"
    # rating, paywall and login prompts
    r"war (?:der|dieser) (?:artikel|beitrag) (?:hilfreich|nützlich)|"
    r"wie (?:gefällt|bewerten) (?:ihnen|sie)|was this (?:article|page|post) (?:helpful|useful)|"
    r"did you find this|möchten sie (?:den|diesen) (?:artikel|beitrag) teilen|"
    r"to (?:view|read|continue reading) (?:the full|this)|pour lire la suite|pour accéder|"
    r"if you enjoyed reading this|you must be logged in|sie müssen (?:sich )?(?:einloggen|anmelden)"
)
#: (Matched on the lower-cased text: a case-blind match of this many words takes three
#: times as long.)
_PROMPT = re.compile(r"^\W*(?:" + _PROMPTS + r")\b")
#: A call to follow the author or the paper on a social network: 'Follow The Gleaner on
#: Twitter and Instagram', 'Follow me on Instagram for …'. The name is capitalised, so
#: 'Follow these steps shared on Twitter …' stays story.
_SOCIAL_FOLLOW = re.compile(
    r"^\W*(?i:follow)\s+(?:(?i:me|us)|[A-Z@][\w.@'-]*(?:\s+[A-Z][\w.'-]*){0,3})\s+(?i:on)\s+"
    r"(?i:twitter|facebook|instagram|x|linkedin|tiktok|youtube|threads|bluesky|telegram|"
    r"whatsapp|mastodon)\b")
#: Editor's initials sign-off, e.g. "(sya)", "(nug/ega)", "(dtk)".
_SIGNOFF = re.compile(r"^\(\s*[a-z]{2,5}(?:\s*[/,]\s*[a-z]{2,5})*\s*\)$", re.I)
#: Image credits and share counters.
_CREDIT = re.compile(r"^(?:foto|photo|image|bild|gambar|ilustrasi|credit|quelle|source|"
                     r"fuente|sumber|abbildung|titelbild|bildquelle|bildnachweis)\s*\d*\s*[:/]")


#: Headings over lists of other stories, in many languages: what follows them in their block
#: is teasers, however story-like each teaser's summary reads.
_TEASER_HEADING = re.compile(
    r"^\W*(?:das könnte (?:sie|dich) (?:auch )?interessieren|(?:viel|meist) ?gelesen|"
    r"neueste (?:artikel|beiträge)|ähnliche (?:beiträge|artikel)|empfohlene (?:beiträge|artikel)|"
    r"weitere (?:themen|beiträge|informationen)|weiterführende (?:informationen|links?)|"
    r"mehr themen|mehr aus dem|mehr zu |(?:zum )?weiterlesen|schon gelesen|"
    r"you (?:may|might) also like|related (?:posts|articles|stories)|most (?:read|popular)|"
    r"popular posts|recent posts|latest (?:news|posts|articles)|similar posts|more stories|"
    r"(?:what to )?read next\W*$|more from [^:]*$|other stories\W*$|more news\W*$|"
    r"lo más leído|les plus lus|più lett[ie]|artikel terkait|berita terkait|terpopuler)\b",
    re.I)


#: A heading over a video's transcript printed under the story.
_TRANSCRIPT_HEADING = re.compile(
    r"^\W*(?:(?:video|full|read the|read|show|view|see the) )?transcript\W*$", re.I)


def is_teaser_heading(text: str) -> bool:
    """True for a short heading that introduces a list of other stories (or a video's
    transcript)."""
    return len(text) <= 80 and (_TEASER_HEADING.match(text) is not None or (
        ("ranscript" in text or "RANSCRIPT" in text)
        and _TRANSCRIPT_HEADING.match(text) is not None))


#: A line that is only a label, over what it labels or instead of it: a table of contents'
#: ('Table of Contents', 'Inhaltsverzeichnis', 'Jump to:'), a byline's or a bio's ('By',
#: 'Edited by', 'About the Author'), a video player's next clip ('Up Next'), the time the
#: story takes to read ('6 minute read', '3 Min Lesezeit', 'Reading Time: 8 minutes'), or an
#: unrendered template slot standing for an ad or a widget ('$$ARTICLEAD$$', '{{ad}}').
#: (One pattern: each is tested on every short paragraph.)
_LABEL_ALONE = re.compile(
    r"^(?:\W*(?:(?:table of )?contents|inhaltsverzeichnis|inhalt|sommaire|índice|indice|"
    r"jump to|in this article|on this page|spis treści|inhoudsopgave|daftar isi|"
    r"by|von|par|por|oleh|(?:written|edited|reviewed|fact[- ]checked|medically reviewed|"
    r"brought to you|photos?|illustrations?) by|authors?|about the authors?|"
    r"über (?:den|die) autor(?:in)?|sobre el autor|à propos de l[’']auteur|up next)"
    r"\W*(?:show|hide|toggle)?|"
    r"\W*\d+\s*(?:min(?:ute)?s?\.?|minuten)\s*(?:read|reading time|lesezeit|lesedauer|"
    r"de lecture|de lectura|di lettura|leestijd|leitura)|\W*(?:lesezeit|lesedauer|reading time|"
    r"read time|temps de lecture|tiempo de lectura|tempo di lettura|leestijd)\s*:?\s*\d+\s*"
    r"(?:min(?:ute)?s?\.?|minuten)|"
    r"(?:\$\$|\{\{|\[\[|%%)\s*[\w.:-]+\s*(?:\$\$|\}\}|\]\]|%%))\W*$")


#: A photo caption ends with its credit in brackets: '... (Image: Getty)', '(Foto: dpa)'.
_CAPTION = re.compile(r"\((?:image|photo|picture|foto|bild|credit|crédit|quelle|fuente)s?\s*:"
                      r"[^()]{1,80}\)$", re.I)


#: A caption printed as a paragraph ends with its credit unbracketed: '... im Jahr 2023.
#: © AFP / Jeff Pachoud', '... escolar. Foto: Andina', '... | © Augusta National'. The credit
#: word opens the text or a sentence, or follows a separator ('cost per credit:' is no
#: credit), and what follows the last '©' or ':' is a name, not a sentence.
_CREDIT_LABEL = r"(?:foto|photo|photograph|bild|image|credit|crédit)s?\s*$"
_CREDIT_OPENS = re.compile(r"^\W*" + _CREDIT_LABEL, re.I)
_CREDIT_FOLLOWS = re.compile(r"(?:[.!?)”\"»]\s*|\s[|/–—-]\s*)" + _CREDIT_LABEL, re.I)


def _ends_with_credit(text: str) -> bool:
    """(Tested from the last '©' or ':' backwards: a regex search for it from every position
    of every paragraph cost 1% of the extraction.)"""
    mark = max(text.rfind("©"), text.rfind(":"))
    if mark < 0:
        return False
    name = text[mark + 1:]
    if not name.strip() or len(name.lstrip()) > 60 or "." in name or "!" in name or "?" in name:
        return False
    if text[mark] == "©":
        return True
    return (_CREDIT_FOLLOWS.search(text, max(0, mark - 24), mark) is not None
            or (mark <= 16 and _CREDIT_OPENS.match(text, 0, mark) is not None))


#: Rights notices anywhere in a short paragraph: '... - Copyright AP Photo', '© 2020 X All
#: Rights Reserved' (a sentence about copyright as a topic does not match).
_RIGHTS = re.compile(r"all rights reserved|tous droits réservés|alle rechte vorbehalten|"
                     r"todos los derechos reservados|tutti i diritti riservati|"
                     r"(?:^|[-–|]\s)copyright\b|copyright\s*(?::|©|\d{4})", re.I)


#: Short lines that label rather than tell: a byline or post footer ('Posted by K A at
#: 12:11 PM', 'Eingestellt von ...', 'Written by ...', up to 100 characters) and the story's
#: tag list ('Tags: ...', 'Themen:', 'Schlagwörter zu diesem Artikel', up to 150).
_LABEL_LINE = re.compile(
    r"^\W*(?:(?P<byline>posted (?:by|on)|written by|eingestellt von|verfasst von|"
    r"geschrieben von|erstellt am|publié par|publicado por|pubblicato da|geplaatst door|"
    r"diposting oleh)\b|(?:tags?|themen|schlagw(?:ö|o)rter|schlagworte?|temas|sujets|"
    r"stichw(?:ö|o)rter|stichworte?|etiquetas|mots-clés|kategorie|filed under|topics)"
    r"(?:\s*:|\s*$|\s+zu diesem artikel))")


#: The placeholder a consent tool prints where an embedded video or post would load: its
#: heading, what it would show, the consent click and the data-transfer notice.
_EMBED_CONSENT = re.compile(
    r"^\W*(?:empfohlener redaktioneller inhalt|externer inhalt\W*$|"
    r"an dieser stelle (?:findest du|finden sie)\b.{0,80}\bexterne[nr]? inhalt|"
    r"ich bin damit einverstanden, dass mir (?:der |die )?(?:externen? )?inhalte?\b|"
    r"(?:damit können )?personenbezogene daten (?:können )?an drittplattformen übermittelt|"
    r"we need your (?:consent|permission) to (?:load|show|display)|"
    r"(?:this|the) (?:embedded |external )?content is (?:provided|hosted) by|"
    r"by (?:loading|showing|displaying) (?:the |this )?external content|"
    r"ce contenu (?:est|a été) bloqué)",
    re.I)


#: A paragraph that is only a byline: "Von Nina Magoley", "By STEVE PEOPLES, THOMAS BEAUMONT
#: and AMELIA THOMSON-DEVEAUX", "By Nada Tawfik, BBC News, New York", "Por Agencia EFE". Names
#: are two to four capitalised words (particles allowed inside), so "Von Risiken und
#: Nebenwirkungen" and "By the time we ..." stay story.
_CAPITALISED = r"[A-ZÀ-ÖØ-ÞĆČŁŃŚŠŹŻŽ][\w’'.&-]*"
_PARTICLE = r"(?:van|von|de|der|den|da|di|du|del|la|le|bin|binti|al|el|ter|zu)\b"
_NAME = rf"{_CAPITALISED}(?:\s+(?:{_CAPITALISED}|{_PARTICLE})){{1,3}}"
_AND = r"(?:,|\band\b|\bund\b|&|\bet\b|\by\b|\ben\b|\bog\b|\boch\b|\bdan\b)"
#: ", BBC News, New York", " for MailOnline": up to two affiliations or places after the names
_AFFILIATION = rf"(?:\s*(?:,|\bfor\b|\bfür\b)\s*{_CAPITALISED}(?:\s+{_CAPITALISED}){{0,3}}){{0,2}}"
_BYLINE_ONLY = re.compile(
    rf"^(?i:by|von|oleh|par|por|door|av|af)\s+{_NAME}(?:\s*{_AND}\s*{_NAME})*{_AFFILIATION}\s*$")


#: An image file's path ('/media/2024/12/20241203-OYT1I50202-T.jpg?type=thumbnail'): a
#: paragraph printing one is a CMS record leaked into the page (id, section, timestamps,
#: thumbnail), never story text.
_IMAGE_PATH = re.compile(r"/[^\s/]+\.(?:jpe?g|png|gif|webp|avif)(?:\?\S*)?(?!\S)", re.I)


#: A call to sign up for a newsletter: 'Melden Sie sich jetzt für den kostenlosen
#: Newsletter an!', 'Never miss the latest news by signing up to our newsletter today!'.
_NEWSLETTER_CALL = re.compile(
    r"\b(?:sign(?:ing)? up|subscribe\b|subscribing|abonnieren|abonniere|melden sie sich|"
    r"melde dich|anmelden|anmeldung|inscri|suscr[ií]b|iscriviti)[^.!?]{0,80}\bnewsletter|"
    r"\bnewsletter\b[^.!?]{0,80}\b(?:sign(?:ing)? up|subscribe\b|abonnieren|anmelden|"
    r"bestellen|inscri|suscr[ií]b|iscriv)", re.I)


#: An affiliate or advertising disclosure: 'This post contains references to products from
#: one or more of our advertisers. We may receive compensation…', 'Bei den Verlinkungen
#: handelt es sich um Affiliate Links', '*Werbung. Dieser Beitrag enthält Werbung für …'.
_DISCLOSURE = re.compile(
    r"\b(?:contains?|uses|includes?|enthält|handelt es sich um|sind) (?:\w+ ){0,2}affiliate[- ]?"
    r"links?\b|\bwe (?:may )?(?:receive|earn) (?:a )?(?:compensation|"
    r"(?:small )?commission)|(?:this|our) (?:post|article|page|site) (?:contains|includes|may "
    r"contain) (?:affiliate|sponsored|references to products)|(?:dieser|der) (?:beitrag|"
    r"artikel|post) enthält (?:werbung|affiliate|provisions)|product advertising api", re.I)
_DISCLOSURE_WORDS = ("affiliate", "compensation", "commission", "sponsored",
                     "references to products", "werbung", "provision", "advertising api")


#: A disclaimer of the page's responsibility for what it prints: 'The views expressed are the
#: author's own', 'Les opinions exprimées … n'engagent que leurs auteurs', '(Alle Angaben ohne
#: Gewähr)'.
_DISCLAIMER = re.compile(
    r"\b(?:views|opinions) expressed (?:here|in this|on this|by|are)|opinions exprimées|"
    r"n[’']engagent? que (?:leurs?|son|ses|l[’'])|\bangaben ohne gewähr|"
    r"(?:gibt|geben) (?:ausschließlich |nur )?die (?:persönliche )?meinung (?:des|der) "
    r"(?:autors|autorin|verfassers)", re.I)
_DISCLAIMER_WORDS = ("expressed", "exprimées", "n'engage", "n’engage", "gewähr", "meinung d")


#: What the page says about the reader's browser rather than the story: JavaScript turned
#: off ('Bitte aktivieren Sie JavaScript', 'This slideshow requires JavaScript') or a
#: browser to refresh, update or replace ('Try refreshing your browser', 'Lade für ein
#: besseres Erlebnis einen neueren Browser herunter'), and a newsletter's 'View it in your
#: browser'. (A browser named in a story, 'keep your browser updated', says none of these.)
_JAVASCRIPT_NOTICE = re.compile(
    r"\b(?:enable|activate|turn on|switch on|allow|aktivieren|aktiviere|einschalten|activez|"
    r"activer|activa|actívalo|habilita|abilita|attiva|ative|aktifkan|inschakelen)\b"
    r"[^.!?]{0,40}\bjava ?script|\bjava ?script(?: is| must be| needs to be)? (?:required|"
    r"disabled|turned off|not enabled|enabled (?:to|for|in))\b|\bjava ?script\b[^.!?]{0,40}"
    r"\b(?:deaktiviert|erforderlich|désactivé|est requis|est nécessaire|es necesario|"
    r"está desactivado|è richiesto|è disabilitato|é necessário|diperlukan)|"
    r"\brequires? java ?script|\bsetzt voraus,? dass sie java ?script", re.I)
_BROWSER_NOTICE = re.compile(
    r"\b(?:refresh|reload|upgrade)\w* your (?:web )?browser|"
    r"\b(?:browser|navigateur|navegador)\b[^.!?]{0,30}\b(?:is (?:outdated|out of date|"
    r"no longer supported|not supported|unsupported)|veraltet|wird nicht (?:mehr )?"
    r"unterstützt|n['’]est (?:plus )?(?:à jour|supporté|pris en charge)|"
    r"(?:está )?desactualizado|no es compatible|non è supportato)|"
    r"\b(?:outdated|out-of-date|unsupported|veraltete[nrms]?|neueren?|newer|obsolète)\b"
    r"[^.!?]{0,15}\b(?:browser|navigateur|navegador)\b[^.!?]{0,60}(?:experience|erlebnis|"
    r"expérience|experiencia|herunter|download|update|aktualisier|to view|um diese)|"
    r"(?:for a better (?:experience|view)|für ein besseres (?:erlebnis|nutzererlebnis)|"
    r"pour une meilleure expérience|para una mejor experiencia)[^.!?]{0,60}\b(?:browser|"
    r"navigateur|navegador)|"
    r"\bview (?:it |this (?:e-?mail|newsletter|message) )?in (?:your|a|the) (?:web )?browser",
    re.I)


@lru_cache(maxsize=4096)
def is_boilerplate_text(text: str) -> bool:
    """True for a paragraph that is a prompt, a sign-off, a byline, a credit, a caption or an
    embed's consent placeholder rather than story. (Every paragraph is tested twice, by the
    body walk and by the final clean-up: hence the cache; the length and substring tests
    come first.)"""
    if text[:1] == "(" and _SIGNOFF.match(text):
        return True
    size = len(text)
    if size > 300:
        return False
    if _SOCIAL_FOLLOW.match(text):
        return True  # (what else it offers runs long: 'You can now also get … alerts')
    if text[-1:] == ")" and _CAPTION.search(text):
        return True
    if _ends_with_credit(text):
        return True
    if _EMBED_CONSENT.match(text):
        return True
    if "/" in text and _IMAGE_PATH.search(text):
        return True
    if size > 200:
        return False
    low = text.lower()
    if ("ight" in low or "droits" in low or "rechte" in low or "derechos" in low
            or "diritti" in low) and _RIGHTS.search(text):
        return True
    if size > 160:
        return False
    if _PROMPT.match(low) or _CREDIT.match(low):
        return True
    if size <= 120 and _BYLINE_ONLY.match(text):
        return True
    if size <= 60 and _LABEL_ALONE.match(low):
        return True
    label = _LABEL_LINE.match(low) if size <= 150 else None
    return label is not None and (size <= 100 or label.group("byline") is None)


def is_notice_text(text: str) -> bool:
    """True for a short paragraph addressed to the reader about the page rather than the
    story: a call to sign up for a newsletter, an affiliate or advertising disclosure, a
    disclaimer, a word about the reader's browser or its JavaScript, a form's reCAPTCHA
    notice. (Tested on the story's paragraphs only, not on every block the walk reads: each
    search tries every position of the text, about 15 µs, and even the words gating them
    cost a microsecond a text.)"""
    if len(text) > 200:
        return False
    low = text.lower()
    return (("newsletter" in low and _NEWSLETTER_CALL.search(text) is not None)
            or (any(word in low for word in _DISCLOSURE_WORDS)
                and _DISCLOSURE.search(text) is not None)
            or (any(word in low for word in _DISCLAIMER_WORDS)
                and _DISCLAIMER.search(text) is not None)
            or ("script" in low and _JAVASCRIPT_NOTICE.search(text) is not None)
            or (("browser" in low or "naveg" in low or "navigateur" in low)
                and _BROWSER_NOTICE.search(text) is not None)
            or "protected by recaptcha" in low)


#: A sign-off at the end of a paragraph ('$' also matches before a final line break).
_TRAILING_SIGNOFF = re.compile(r"\s*\(\s*[a-z]{2,5}(?:\s*[/,]\s*[a-z]{2,5})*\s*\)$")


def strip_signoff(text: str) -> str:
    """Remove a trailing editor's sign-off printed inside the last paragraph: '... (sya)'."""
    if not text.endswith((")", ")\n")):
        return text  # the search would try every position of the paragraph to find none
    m = _TRAILING_SIGNOFF.search(text)
    if m and len(text) > m.end() - m.start() + 20 and m.group(0).strip()[1:-1].islower():
        return text[: m.start()]
    return text
