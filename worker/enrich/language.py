"""Language of an article from its text, with the page's declared language as a prior.

py3langid ships its naive-Bayes model inside the wheel, so nothing is downloaded. Its
probabilities are multiplied by a prior that favours the declared language; the prior can
tip a close call (Indonesian vs Malay on a short text) but never outvotes text that is
clearly in another language. Texts too short or too mixed to call get "und".
"""

from __future__ import annotations

from functools import cache

#: How much more likely the declared language is before the text is read.
DECLARED_PRIOR = 20.0
#: Below this posterior the text is called undetermined rather than guessed.
MIN_CONFIDENCE = 0.6
#: Fewer letters than this is too little text to call.
MIN_LETTERS = 40
#: Only the first characters are scored: a few sentences decide, and time grows with length.
#: On the 2,029 shared pages 300 characters call the same language as 400 on every page
#: (text alone, without the declared prior, 1,899 vs 1,900 pages match the truth) for three
#: quarters of the cost; 200 starts to say "und" on short openings.
SAMPLE_CHARS = 300


@cache
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def primary_subtag(tag: str | None) -> str | None:
    """ "id-ID" → "id", "en_US" → "en", "" → None; "nb"/"nn" stay themselves."""
    if not tag:
        return None
    head = tag.replace("_", "-").split("-")[0].strip().lower()
    return head if head.isalpha() and 2 <= len(head) <= 3 else None


def detect_language(text: str, declared: str | None = None) -> tuple[str, float]:
    """Return (BCP 47 primary language subtag or "und", confidence in [0, 1])."""
    sample = text[:SAMPLE_CHARS]
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:  # map: no Python call per character
        return "und", 0.0
    ranked = _identifier().rank(sample)[:5]
    prior_lang = primary_subtag(declared)
    # Norwegian: pages declare "nb"/"no"; the model says "no" or "nb" depending on version.
    aliases = {"nb": "no", "nn": "no"}
    weighted = []
    for lang, prob in ranked:
        match = prior_lang is not None and aliases.get(lang, lang) == aliases.get(
            prior_lang, prior_lang
        )
        weighted.append((lang, prob * (DECLARED_PRIOR if match else 1.0)))
    total = sum(w for _l, w in weighted) or 1.0
    lang, weight = max(weighted, key=lambda item: item[1])
    confidence = weight / total
    if confidence < MIN_CONFIDENCE:
        return "und", round(confidence, 3)
    if prior_lang and aliases.get(lang, lang) == aliases.get(prior_lang, prior_lang):
        lang = prior_lang  # keep the page's own spelling of the same language ("nb")
    return lang, round(confidence, 3)
