"""Near-duplicate explanations: same words up to case, punctuation and plurals, or nearly the same meaning.

A near-duplicate of an existing explanation of the same feature becomes an upvote of that one, so the
best wording gathers votes instead of splitting them over copies.
"""

from __future__ import annotations

import logging
import re

from featurepedia.web.explanations.models import Explanation, normalise

log = logging.getLogger(__name__)

# Cosine similarity of MiniLM sentence embeddings above which two explanations mean the same thing
# ("numbers" / "digits and numbers" stay apart, "the word cat" / "the word 'cats'" merge).
SIMILARITY_THRESHOLD = 0.93


def _singular(word: str) -> str:
    """A crude English singular: enough to merge "cats"/"cat", "boxes"/"box", "cities"/"city"."""
    if len(word) <= 3 or word.endswith("ss"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if re.search(r"(s|x|z|ch|sh)es$", word):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def plural_key(text: str) -> str:
    """Normalised text with every word made singular and leading articles dropped."""
    words = [_singular(w) for w in normalise(text).split()]
    while words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return " ".join(words)


def find_duplicate(candidates: list[Explanation], text: str, use_embeddings: bool = True) -> Explanation | None:
    """The candidate that `text` nearly duplicates, or None.

    Args:
        candidates: live explanations of the same feature.
        text: the new explanation.
        use_embeddings: also compare meaning with the bundled sentence model (skipped if it fails to load).
    """
    if not candidates:
        return None
    key, plain = plural_key(text), normalise(text)
    for c in candidates:
        if c.normalised == plain or plural_key(c.text) == key:
            return c
    if not use_embeddings:
        return None
    try:
        from featurepedia.web.explanations.scoring import embed_texts

        vectors = embed_texts([text, *[c.text for c in candidates]])  # [1 + n, 384], unit length
    except Exception as err:  # a missing model must not stop anyone from submitting
        log.warning("near-duplicate check by embedding skipped: %s", err)
        return None
    sims = vectors[1:] @ vectors[0]  # [n]
    best = int(sims.argmax())
    return candidates[best] if float(sims[best]) >= SIMILARITY_THRESHOLD else None
