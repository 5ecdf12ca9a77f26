"""Optional spaCy pipeline whose named entities join the rule-based ones.

Off by default and never required: with ``pip install kabar[spacy]`` and a pipeline the
user installed (a package name such as ``en_core_web_sm`` or the path of a pipeline saved
with ``nlp.to_disk``) named in the ``enrich.spacy_model`` setting, its PERSON/PER, ORG and
GPE/LOC/FAC spans are added to what the rules found. Kabar never downloads a pipeline.

A pipeline is loaded once per process and name; when spaCy or the pipeline is missing a
warning naming the setting is logged once and enrichment goes on with the rules alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

#: Where the user names the pipeline, for messages.
SETTING = "enrich.spacy_model (env KABAR_ENRICH_SPACY_MODEL)"

#: spaCy labels Kabar keeps, by entity type: OntoNotes (en_core_web_*) and WikiNER
#: (xx_ent_wiki_sm, de/fr/es/… pipelines) label sets; NORP, MISC, dates and numbers are not
#: people, organisations or places.
LABELS = {
    "PERSON": "person",
    "PER": "person",
    "ORG": "organization",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
}


class SpacyUnavailable(RuntimeError):
    """spaCy is not installed or the named pipeline cannot be loaded."""


def load_pipeline(name: str) -> Any:
    """The spaCy pipeline ``name`` (package or directory), with only the components named
    entity recognition needs. Raises SpacyUnavailable with a message naming the setting."""
    try:
        import spacy
    except ImportError:
        raise SpacyUnavailable(
            f"{SETTING} is {name!r} but spaCy is not installed: pip install 'kabar[spacy]'"
        ) from None
    try:
        nlp = spacy.load(name)
    except (OSError, ValueError, ImportError) as exc:
        raise SpacyUnavailable(
            f"{SETTING} is {name!r} but that pipeline cannot be loaded "
            f"(install it, e.g. python -m spacy download en_core_web_sm, or give the path "
            f"of a saved pipeline): {exc}"
        ) from None
    # The parser, lemmatizer and the like cost time and give no entities.
    keep = {"ner", "entity_ruler", "tok2vec", "transformer", "span_ruler"}
    disabled = [n for n in nlp.pipe_names if n not in keep]
    if disabled:
        nlp.select_pipes(disable=disabled)
    return nlp


@lru_cache(maxsize=4)
def pipeline(name: str) -> Any | None:
    """The loaded pipeline, or None (with one warning per process) when it cannot be had:
    a misconfigured option must not fail every article."""
    if not name:
        return None
    try:
        return load_pipeline(name)
    except SpacyUnavailable as exc:
        log.warning("spaCy entities off: %s", exc)
        return None


def spacy_spans(nlp: Any, texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
    """Per text, its entity spans as (Kabar type, start, end) character offsets."""
    out: list[list[tuple[str, int, int]]] = []
    for doc in nlp.pipe(texts):
        out.append(
            [
                (LABELS[ent.label_], ent.start_char, ent.end_char)
                for ent in doc.ents
                if ent.label_ in LABELS
            ]
        )
    return out
