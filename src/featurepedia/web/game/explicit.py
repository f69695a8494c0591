"""The explicit-text filter: clues with sexual words, slurs or strong profanity are hidden for players
who ask. A word list (not a model) so it is predictable and works offline; it is tested on the real
profanity in the bundled corpus (the fortunes file has plenty). Mild words ("damn", "crap") pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Whole words only: "cocktail", "Dickens" and "scunthorpe" are not explicit.
_WORDS = [
    r"(mother)?fuck\w*", r"shit(s|ty|ting|ted|head\w*)?", r"bull?shit\w*", r"cunts?", r"bitch(es|y|ing)?",
    r"bastards?", r"ass-?holes?", r"arse-?holes?", r"dicks?", r"cocks?", r"cocksucker\w*", r"puss(y|ies)",
    r"whor(e|es|ing)", r"sluts?", r"tits", r"titties", r"piss(ed|ing|es)?", r"fags?", r"faggots?", r"wank\w*",
    r"twats?", r"dildos?", r"porn\w*", r"nigg\w*", r"blowjobs?", r"jerk(ing)? off", r"orgasm\w*", r"rap(e|ed|ist)s?",
]
EXPLICIT_RE = re.compile(r"\b(?:" + "|".join(_WORDS) + r")\b", re.IGNORECASE)


def is_explicit(text: str) -> bool:
    """True if the text contains a word on the list."""
    return EXPLICIT_RE.search(text) is not None


def tokens_explicit(tokens: Iterable[str]) -> bool:
    """True if a context, given as its display tokens, reads as explicit once joined."""
    return is_explicit("".join(tokens))
