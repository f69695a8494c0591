"""Pattern explainer: names what the active tokens share, as a person would, and checks it on other examples.

It lists candidate descriptions from half of the examples it is given (a suffix the active words share,
their casing, digits or years, a symbol by name, a closed word class, the word they follow or precede,
quotes, brackets, line breaks, code; and, for topics, the words themselves), each with examples from the
text ("words ending in -ing, such as running and installing"), scores every candidate with the form
scorer's token-level predictions on the other half, and keeps the best. When even the best separates the
active tokens poorly it says "no clear pattern" and names the most active words.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurepedia.interp.backends.sentence import embed
from featurepedia.interp.forms import lexicon as lx
from featurepedia.interp.forms.rules import parse
from featurepedia.interp.forms.tokens import TokenInfo, token_infos
from featurepedia.interp.metrics import auroc
from featurepedia.interp.records import ActivationRecord

SUFFIXES = ("ing", "ed", "ly", "tion", "sion", "ment", "ness", "able", "ible", "est", "er", "ers", "al", "ful",
            "less", "ous", "ive", "ity", "ism", "ist", "es", "s")
PREFIXES = ("un", "re", "in", "dis", "pre", "non", "over", "under", "sub", "inter", "de", "con", "com")
SYMBOL_NAMES = {",": "commas", ".": "full stops", ":": "colons", ";": "semicolons", "?": "question marks",
                "!": "exclamation marks", "-": "hyphens and dashes", "'": "apostrophes", '"': "quotation marks",
                "(": "opening brackets", ")": "closing brackets", "[": "square brackets", "]": "square brackets",
                "/": "slashes", "_": "underscores", "=": "equals signs", "*": "asterisks", "#": "hash signs",
                "@": "at signs", "%": "percent signs", "$": "dollar signs", "&": "ampersands"}
CLASSES: tuple[tuple[str, frozenset[str]], ...] = (
    ("negation words", lx.NEGATION), ("first-person pronouns", lx.FIRST_PERSON),
    ("second-person pronouns", lx.SECOND_PERSON), ("third-person pronouns", lx.THIRD_PERSON),
    ("articles", lx.ARTICLES), ("modal verbs", lx.MODALS), ("forms of the verb to be", lx.BE),
    ("question words", lx.WH_WORDS), ("numbers written as words", lx.NUMBER_WORDS), ("months", lx.MONTHS),
    ("days of the week", lx.WEEKDAYS), ("titles", lx.TITLES), ("prepositions", lx.PREPOSITIONS),
    ("conjunctions", lx.CONJUNCTIONS), ("pronouns", lx.PERSONAL), ("determiners", lx.DETERMINERS),
)
NO_PATTERN = 0.75  # below this token-level AUROC on the held-back examples, no description is trusted


class PatternExplainer:
    """Explains a feature by the best-checked description of what its active tokens share."""

    name = "pattern"
    version = "3"  # 2: whole words as written; 3: the words carrying most activation as a candidate and fallback

    def __init__(self, active_frac: float = 0.5, min_share: float = 0.5):
        """Args:
            active_frac: a token counts as active when its value >= this fraction of its record's max.
            min_share: a property becomes a candidate when at least this share of active tokens have it.
        """
        self.active_frac, self.min_share = active_frac, min_share
        self.last_details: dict[str, Any] = {"explainer": self.name, "version": self.version}

    @property
    def method(self) -> str:
        return self.name

    def explain(self, records: Sequence[ActivationRecord]) -> str:
        """A sentence naming the pattern, with examples; "no clear pattern ..." when none checks out."""
        from featurepedia.interp.scorers.form import FormScorer

        active = [r for r in records if r.is_activating]
        if not active:
            self.last_details = {"explainer": self.name, "version": self.version, "candidates": []}
            return "no clear pattern (the feature rarely fires)"
        build, check = (active[0::2], active[1::2]) if len(active) >= 4 else (active, active)
        candidates = self.candidates(build)
        scorer = FormScorer()
        prep = scorer.prepare(check)
        embed(candidates)  # one batch: each candidate is then a cache hit
        scored = []
        for text in candidates:
            value = auroc(prep.labels, scorer.predict(text, parse(text), prep)) if prep.labels.any() else 0.5
            # on a tie, a named pattern beats a list of words, and a shorter description a longer one
            scored.append((round(value, 4), not text.startswith("words like"), -len(text), text))
        scored.sort(reverse=True)
        best_value, _, _, best = scored[0]
        self.last_details = {"explainer": self.name, "version": self.version,
                             "candidates": [[t, v] for v, _, _, t in scored[:8]], "checked_on": len(check)}
        if best_value < NO_PATTERN:
            # The words that carry most of the activation, checked like the candidates: of the most active
            # words by strength and the best candidate's own words, the reading that scores better.
            fallbacks = [f"no clear pattern; most active on words such as {_and(self._strongest(build, 4))}"]
            if best.startswith("words like "):
                fallbacks.append(f"no clear pattern; most active on words such as {best.removeprefix('words like ')}")
            pieces = self._strongest(build, 4, pieces=True)
            if pieces:
                fallbacks.append(f"no clear pattern; most active on words such as {_and(pieces)}")
            values = [auroc(prep.labels, scorer.predict(t, parse(t), prep)) if prep.labels.any() else 0.5
                      for t in fallbacks]
            return fallbacks[int(np.argmax(values))]
        return best

    def _active(self, records: Sequence[ActivationRecord]) -> list[TokenInfo]:
        out: list[TokenInfo] = []
        for r in records:
            peak = r.max_value
            infos = token_infos(r.tokens)
            out.extend(t for t, v in zip(infos, r.values, strict=True)
                       if peak > 0 and v >= self.active_frac * peak and t.text and not t.text.startswith("<|"))
        return out

    def candidates(self, records: Sequence[ActivationRecord]) -> list[str]:
        """Candidate descriptions of what the active tokens of ``records`` share."""
        act = self._active(records)
        if not act:
            return ["no clear pattern"]
        n = len(act)

        def share(pred: Any) -> float:
            return sum(1 for t in act if pred(t)) / n

        def having(pred: Any) -> list[TokenInfo]:
            return [t for t in act if pred(t)]

        out: list[str] = []
        words = [t for t in act if t.word.isalpha()]
        for suf in SUFFIXES:
            hits = [t for t in words if t.word.endswith(suf) and len(t.word) > len(suf) + 1]
            if len(hits) >= self.min_share * n:
                out.append(f"words ending in -{suf}, such as {_examples(hits)}")
        for pre in PREFIXES:
            hits = [t for t in words if t.word.startswith(pre) and len(t.word) > len(pre) + 2]
            if len(hits) >= self.min_share * n:
                out.append(f'words starting with "{pre}", such as {_examples(hits)}')
        caps = having(lambda t: t.text.isalpha() and t.text.isupper() and len(t.text) >= 2)
        if len(caps) >= self.min_share * n:
            out.append(f"words in capital letters, such as {_examples(caps)}")
        capital = having(lambda t: t.text[:1].isupper() and t.text[:1].isalpha())
        if len(capital) >= self.min_share * n:
            out.append(f"capitalised words, such as {_examples(capital)}")
            out.append(f"capitalised words in the middle of a sentence, such as {_examples(capital)}")
        if share(lambda t: any(c.isdigit() for c in t.text)) >= self.min_share:
            years = having(lambda t: any(c.isdigit() for c in t.text) and _year(t.chunk))
            out.append("numbers written with digits")
            if len(years) >= self.min_share * n:
                out.append(f"years, such as {_examples(years, key=lambda t: _year(t.chunk))}")
            else:
                out.append("numbers written with digits that are not years")
        symbols = Counter(c for t in act for c in set(t.text) if c in SYMBOL_NAMES)
        named = [SYMBOL_NAMES[c] for c, k in symbols.most_common(3) if k >= 0.2 * n]
        if named and sum(k for _, k in symbols.most_common(3)) >= self.min_share * n:
            out.append(_and(list(dict.fromkeys(named))))
            out.append(f"{SYMBOL_NAMES[symbols.most_common(1)[0][0]]}")
        for label, members in CLASSES:
            hits = having(lambda t, m=members: t.text.lower() in m)
            if len(hits) >= self.min_share * n:
                out.append(f"{label}, such as {_examples(hits)}")
        self._position(act, out)
        if share(lambda t: t.in_quotes) >= 0.7:
            out.append("words inside quotation marks")
        if share(lambda t: t.in_parens) >= 0.7:
            out.append("words inside brackets")
        if share(lambda t: t.sentence_start >= 1.0) >= self.min_share:
            out.append("the first word of a sentence")
        if share(lambda t: "\n" in t.raw) >= self.min_share:
            out.append("line breaks")
        paths = having(lambda t: "/" in t.chunk or "\\" in t.chunk)
        if len(paths) >= self.min_share * n:
            out.append(f"file paths and URLs, such as {_examples(paths, key=lambda t: t.chunk)}")
        if share(lambda t: t.code_line) >= 0.7:
            out.append(f"code, such as {_examples(act)}")
        out.append(f"words like {_examples(act, 3)}")
        strongest = self._strongest(records, 4)
        if strongest:
            out.append(f"words like {_and(strongest)}")
        return list(dict.fromkeys(out))

    def _strongest(self, records: Sequence[ActivationRecord], n: int, pieces: bool = False) -> list[str]:
        """The ``n`` words carrying most of the activation (each token's value / its record's max, summed
        per word), written as whole words; words an example's edge may cut off only if no others. With
        ``pieces``, by token instead: a piece of a word is quoted with the word it was in ('"ym" (as in
        anonymous)'), since a neuron that fires on a piece fires on it in other words too."""
        weight: defaultdict[str, float] = defaultdict(float)
        spelled: dict[str, Counter[str]] = {}
        cut: set[str] = set()
        for r in records:
            peak = r.max_value
            if peak <= 0:
                continue
            for t, v in zip(token_infos(r.tokens), r.values, strict=True):
                shown = _surface(t)
                if v <= 0 or not shown or shown.startswith("<|"):
                    continue
                if pieces and t.text and t.surface != t.text and t.surface[:1].isalpha():
                    shown = f'"{t.text}" (as in {t.surface})' if not t.cut else f'"{t.text}"'
                    weight[t.text.lower()] += v / peak
                    spelled.setdefault(t.text.lower(), Counter())[shown] += 1
                    continue
                weight[shown.lower()] += v / peak
                spelled.setdefault(shown.lower(), Counter())[shown] += 1
                if t.cut:
                    cut.add(shown.lower())
        whole = [w for w in weight if w not in cut] or list(weight)
        ranked = sorted(whole, key=lambda w: (-weight[w], w))[:n]
        return [spelled[w].most_common(1)[0][0] for w in ranked]

    def _position(self, act: list[TokenInfo], out: list[str]) -> None:
        n = len(act)
        for attr, phrase in (("prev", "the word after"), ("next", "the word before")):
            counts = Counter(getattr(t, attr) for t in act if getattr(t, attr))
            if not counts:
                continue
            word, k = counts.most_common(1)[0]
            if k < 0.4 * n:
                continue
            hits = [t for t in act if getattr(t, attr) == word]
            if word in SYMBOL_NAMES or (len(word) == 1 and not word.isalnum()):
                name = SYMBOL_NAMES.get(word, f'"{word}"').rstrip("s")
                out.append(f"{phrase} a {name}" if word in SYMBOL_NAMES else f"{phrase} {name}")
            else:
                out.append(f'{phrase} "{word}", such as {_examples(hits)}')


def _year(chunk: str) -> str:
    digits = "".join(c for c in chunk if c.isdigit())
    return digits if len(digits) == 4 and 1000 <= int(digits) <= 2099 else ""


def _examples(tokens: Sequence[TokenInfo], n: int = 2, key: Any = None) -> str:
    """The most frequent words of ``tokens`` as examples, written as a person would: "running and making".

    A token that is a piece of a word is shown as its whole word ("Missouri", not "Miss" or "ouri"), in
    the case it is written; words the example's edge may cut off are used only when there are no others.
    """
    if key is not None:
        counts = Counter(key(t) for t in tokens)
        top = [w for w, _ in counts.most_common(n) if w]
        return _and(top) if top else "these"
    pool = [t for t in tokens if not t.cut] or list(tokens)
    spelled: dict[str, Counter[str]] = {}
    for t in pool:
        shown = _surface(t)
        if shown:
            spelled.setdefault(shown.lower(), Counter())[shown] += 1
    ranked = sorted(spelled, key=lambda w: (-sum(spelled[w].values()), w))[:n]
    top = [spelled[w].most_common(1)[0][0] for w in ranked]
    return _and(top) if top else "these"


def _surface(t: TokenInfo) -> str:
    """How a token's word is written: the whole word for a piece of one ("installing" for "ing"), else the
    token's own text (a number, a symbol)."""
    return t.surface if t.surface[:1].isalpha() else t.text


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
