"""Planted features: rules over real tokens with a known true explanation, to measure scorers.

Each rule marks tokens of real text (e.g. colour words); the value on a marked token is graded by the
token itself (some words fire more than others, as real features do) plus a little seeded noise. A
scorer that works must rank each feature's true explanation above the other features' explanations.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from featurepedia.interp.records import ActivationRecord

Rule = Callable[[list[str]], list[bool]]


@dataclass(frozen=True)
class PlantedFeature:
    """A rule over tokens and the explanation a person would write for it."""

    name: str
    explanation: str
    rule: Rule


def _word(tok: str) -> str:
    return tok.strip().lower()


def _in_list(words: set[str], plural_s: bool = True) -> Rule:
    def rule(tokens: list[str]) -> list[bool]:
        out = []
        for tok in tokens:
            w = _word(tok)
            out.append(w in words or (plural_s and w.endswith("s") and w[:-1] in words))
        return out

    return rule


def _digit_runs(tokens: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, digits) of runs of consecutive digit tokens (SmolLM2 splits numbers digit by digit)."""
    runs, i = [], 0
    while i < len(tokens):
        if tokens[i].strip().isdigit():
            j = i
            while j + 1 < len(tokens) and tokens[j + 1].isdigit():
                j += 1
            runs.append((i, j + 1, "".join(t.strip() for t in tokens[i: j + 1])))
            i = j + 1
        else:
            i += 1
    return runs


def _is_year(digits: str) -> bool:
    return len(digits) == 4 and 1000 <= int(digits) <= 2099


def _years(tokens: list[str]) -> list[bool]:
    out = [False] * len(tokens)
    for start, end, digits in _digit_runs(tokens):
        if _is_year(digits):
            out[start:end] = [True] * (end - start)
    return out


def _other_numbers(tokens: list[str]) -> list[bool]:
    out = [False] * len(tokens)
    for start, end, digits in _digit_runs(tokens):
        if not _is_year(digits):
            out[start:end] = [True] * (end - start)
    return out


def _mid_sentence_capital(tokens: list[str]) -> list[bool]:
    out = []
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1].rstrip() if i else ""
        starts_sentence = not prev or prev[-1] in '.!?:"\'“”‘’—-(' or prev.startswith("<|")
        out.append(bool(re.fullmatch(r" [A-Z][a-z]{2,}", tok)) and not starts_sentence and _word(tok) != "i")
    return out


def _inside_quotes(tokens: list[str]) -> list[bool]:
    out, inside = [], False
    for tok in tokens:
        if "\n\n" in tok:
            inside = False  # quotes never run across paragraphs; a stray mark must not poison the rest
        marks = [ch for ch in tok if ch in '"“”']
        for ch in marks:
            inside = True if ch == "“" else False if ch == "”" else not inside
        out.append(not marks and inside and bool(tok.strip()))
    return out


def _after_word(word: str) -> Rule:
    def rule(tokens: list[str]) -> list[bool]:
        return [i > 0 and _word(tokens[i - 1]) == word and bool(tokens[i].strip()) for i in range(len(tokens))]

    return rule


def _question_marks(tokens: list[str]) -> list[bool]:
    return ["?" in tok for tok in tokens]


_NOT_PLURAL = {"is", "was", "has", "his", "this", "its", "us", "yes", "does", "thus", "as", "always", "perhaps",
               "less", "unless", "whereas", "besides", "towards", "afterwards", "sometimes", "news", "series",
               "means", "species", "hers", "ours", "yours", "theirs", "whose", "chaos", "bus", "gas", "plus",
               "various", "previous", "famous", "serious", "obvious", "curious", "anxious", "nervous", "process"}


def _plural_nouns(tokens: list[str]) -> list[bool]:
    out = []
    for tok in tokens:
        w = tok.strip()
        out.append(tok.startswith(" ") and w.isalpha() and w.islower() and len(w) >= 4 and w.endswith("s")
                   and not w.endswith(("ss", "us", "is", "ous")) and w not in _NOT_PLURAL)
    return out


ANIMALS = {"dog", "cat", "horse", "bird", "fish", "cow", "sheep", "pig", "mouse", "mice", "rat", "lion", "tiger",
           "bear", "wolf", "fox", "rabbit", "duck", "goose", "chicken", "hen", "snake", "frog", "monkey", "elephant",
           "deer", "whale", "shark", "eagle", "owl", "bee", "ant", "spider", "donkey", "goat", "puppy", "kitten",
           "camel", "dolphin", "insect", "animal", "creature", "beast"}
COLOURS = {"red", "blue", "green", "yellow", "white", "black", "brown", "pink", "purple", "orange", "grey", "gray",
           "golden", "silver", "scarlet", "crimson"}
FAMILY = {"mother", "father", "sister", "brother", "son", "daughter", "wife", "husband", "aunt", "uncle", "cousin",
          "niece", "nephew", "mama", "papa", "mom", "dad", "grandmother", "grandfather", "parent", "child",
          "children"}
NEGATION = {"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "n't", "cannot", "without"}
FIRST_PERSON = {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"}

PLANTED_FEATURES: tuple[PlantedFeature, ...] = (
    PlantedFeature("numbers", "numbers written with digits, like 3, 42 or 250", _other_numbers),
    PlantedFeature("years", "years written as numbers, like 1999 or 1850", _years),
    PlantedFeature("capitalised", "capitalised names of people and places in the middle of a sentence",
                   _mid_sentence_capital),
    PlantedFeature("animals", "animals, such as dog, horse, bird or fish", _in_list(ANIMALS)),
    PlantedFeature("colours", "colour words like red, blue, green and white", _in_list(COLOURS, plural_s=False)),
    PlantedFeature("quotes", "words inside quotation marks (quoted speech)", _inside_quotes),
    PlantedFeature("after-of", 'the word right after "of"', _after_word("of")),
    PlantedFeature("questions", "question marks at the end of questions", _question_marks),
    PlantedFeature("plurals", "plural nouns ending in s, like houses or books", _plural_nouns),
    PlantedFeature("family", "family members: mother, father, sister, brother, wife", _in_list(FAMILY)),
    PlantedFeature("negation", "negation words like not, no and never", _in_list(NEGATION, plural_s=False)),
    PlantedFeature("first-person", "first-person pronouns: I, me, my, we", _in_list(FIRST_PERSON, plural_s=False)),
)


def planted_values(feature: PlantedFeature, tokens: list[str], seed: int = 0) -> list[float]:
    """The feature's activation on each token: 0 off the rule, a graded value in (0.3, 1.0] on it."""
    rng = random.Random(f"{seed}:{feature.name}:{''.join(tokens)}")
    values = []
    for tok, hit in zip(tokens, feature.rule(tokens), strict=True):
        if not hit:
            values.append(0.0)
            continue
        # Graded by token type (stable across texts) with a little per-occurrence noise.
        grade = int(hashlib.sha256(f"{feature.name}:{_word(tok)}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        values.append(round(min(1.0, 0.35 + 0.55 * grade + 0.1 * rng.random()), 4))
    return values


def planted_records(
    feature: PlantedFeature, token_lists: Sequence[list[str]], n_top: int = 20, n_quantile: int = 10,
    n_non_activating: int = 20, seed: int = 0,
) -> tuple[list[ActivationRecord], list[ActivationRecord], list[ActivationRecord]]:
    """Top (most active first), quantile (other activating) and non-activating records of a feature.

    Args:
        token_lists: texts as display-token lists (e.g. corpus contexts without BOS).
    Returns:
        (top, quantile, non_activating); fewer records when the texts hold fewer.
    """
    active: list[ActivationRecord] = []
    inactive: list[ActivationRecord] = []
    for tokens in token_lists:
        record = ActivationRecord(list(tokens), planted_values(feature, list(tokens), seed))
        (active if record.is_activating else inactive).append(record)
    rng = random.Random(f"{seed}:{feature.name}")
    rng.shuffle(active)
    rng.shuffle(inactive)
    pool = active[: 4 * (n_top + n_quantile)]
    pool.sort(key=lambda r: -r.max_value)
    top = pool[:n_top]
    quantile = rng.sample(pool[n_top:], min(n_quantile, len(pool) - n_top)) if len(pool) > n_top else []
    return top, quantile, inactive[:n_non_activating]
