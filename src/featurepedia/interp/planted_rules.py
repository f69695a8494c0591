"""Rules over tokens for planted features: each marks the tokens of real text a planted feature fires on.

A rule takes a text's display tokens (SmolLM2's, or plain word tokens in tests) and returns one bool per
token. The word lists here define planted features for measurement only; scorers never import them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Rule = Callable[[list[str]], list[bool]]

_SENTENCE_END = tuple('.!?')


def word(tok: str) -> str:
    """A token's text, stripped and lower-cased."""
    return tok.strip().lower()


def each(predicate: Callable[[str], bool]) -> Rule:
    """A rule that looks at each token alone."""
    def rule(tokens: list[str]) -> list[bool]:
        return [predicate(t) for t in tokens]

    return rule


def in_list(words: set[str], plural_s: bool = True) -> Rule:
    """Whole-word tokens that are one of ``words`` (and their plural in -s when ``plural_s``); a piece of a
    longer word ("ant" in "import" + "ant") does not count."""
    def rule(tokens: list[str]) -> list[bool]:
        out = []
        for i, tok in enumerate(tokens):
            w = word(tok)
            piece = (i > 0 and tok[:1].isalpha() and tokens[i - 1][-1:].isalpha()) or \
                (i + 1 < len(tokens) and tokens[i + 1][:1].isalpha() and tok[-1:].isalpha())
            out.append(not piece and (w in words or (plural_s and w.endswith("s") and w[:-1] in words)))
        return out

    return rule


def suffix(end: str, min_len: int = 0) -> Rule:
    """The last token of each alphabetic word ending in ``end`` (words longer than it, ``min_len`` letters at
    least); a word split into pieces (" install" + "ing") counts as a whole."""
    def rule(tokens: list[str]) -> list[bool]:
        out = [False] * len(tokens)
        i = 0
        while i < len(tokens):
            j = i
            while (j + 1 < len(tokens) and tokens[j + 1][:1].isalpha() and tokens[j][-1:].isalpha()):
                j += 1
            w = "".join(tokens[i: j + 1]).strip().lower()
            out[j] = w.isalpha() and w.endswith(end) and len(w) >= max(min_len, len(end) + 2)
            i = j + 1
        return out

    return rule


def prefix(start: str, min_len: int = 0) -> Rule:
    """Word-initial alphabetic tokens starting with ``start``."""
    return each(lambda t: t[:1] in " \n" and (w := word(t)).isalpha() and w.startswith(start)
                and len(w) >= max(min_len, len(start) + 2))


def contains(chars: str) -> Rule:
    """Tokens holding any of ``chars``."""
    return each(lambda t: any(c in t for c in chars))


def digit_runs(tokens: list[str]) -> list[tuple[int, int, str]]:
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


def is_year(digits: str) -> bool:
    return len(digits) == 4 and 1000 <= int(digits) <= 2099


def numbers(keep: Callable[[str], bool]) -> Rule:
    """Every token of a run of digits for which ``keep(digits)`` holds."""
    def rule(tokens: list[str]) -> list[bool]:
        out = [False] * len(tokens)
        for start, end, digits in digit_runs(tokens):
            if keep(digits):
                out[start:end] = [True] * (end - start)
        return out

    return rule


def _starts_sentence(tokens: list[str], i: int) -> bool:
    j = i - 1
    while j >= 0 and not tokens[j].strip():
        if "\n" in tokens[j]:
            return True
        j -= 1
    if j < 0:
        return True
    prev = tokens[j].strip()
    return prev.endswith(_SENTENCE_END) or prev.startswith("<|") or prev[-1:] in '"”'


def mid_sentence_capital(tokens: list[str]) -> list[bool]:
    return [bool(re.fullmatch(r" [A-Z][a-z]{2,}", t)) and not _starts_sentence(tokens, i) and word(t) != "i"
            for i, t in enumerate(tokens)]


def sentence_initial(tokens: list[str]) -> list[bool]:
    return [bool(re.fullmatch(r" ?[A-Z][a-z]*", t)) and _starts_sentence(tokens, i) and i > 0
            for i, t in enumerate(tokens)]


def all_caps(tokens: list[str]) -> list[bool]:
    return [(w := t.strip()).isalpha() and w.isupper() and len(w) >= 2 for t in tokens]


def inside(open_marks: str, close_marks: str, toggles: str = "") -> Rule:
    """Tokens between an opening and a closing mark (marks themselves excluded); never across paragraphs."""
    def rule(tokens: list[str]) -> list[bool]:
        out, depth = [], 0
        for tok in tokens:
            if "\n\n" in tok:
                depth = 0
            marks = [ch for ch in tok if ch in open_marks + close_marks + toggles]
            for ch in marks:
                if ch in toggles:
                    depth = 0 if depth else 1
                elif ch in open_marks:
                    depth += 1
                else:
                    depth = max(0, depth - 1)
            out.append(not marks and depth > 0 and bool(tok.strip()))
        return out

    return rule


def after(previous: Callable[[str], bool]) -> Rule:
    """Non-blank tokens whose previous token satisfies ``previous``."""
    def rule(tokens: list[str]) -> list[bool]:
        return [i > 0 and previous(tokens[i - 1]) and bool(tokens[i].strip()) for i in range(len(tokens))]

    return rule


def after_word(w: str) -> Rule:
    return after(lambda t: word(t) == w)


def before(following: Callable[[str], bool]) -> Rule:
    """Word tokens whose next token satisfies ``following``."""
    def rule(tokens: list[str]) -> list[bool]:
        return [i + 1 < len(tokens) and following(tokens[i + 1]) and word(tokens[i]).isalpha()
                for i in range(len(tokens))]

    return rule


NOT_PLURAL = {"is", "was", "has", "his", "this", "its", "us", "yes", "does", "thus", "as", "always", "perhaps",
              "less", "unless", "whereas", "besides", "towards", "afterwards", "sometimes", "news", "series",
              "means", "species", "hers", "ours", "yours", "theirs", "whose", "chaos", "bus", "gas", "plus",
              "various", "previous", "famous", "serious", "obvious", "curious", "anxious", "nervous", "process"}


def plural_nouns(tokens: list[str]) -> list[bool]:
    out = []
    for tok in tokens:
        w = tok.strip()
        out.append(tok.startswith(" ") and w.isalpha() and w.islower() and len(w) >= 4 and w.endswith("s")
                   and not w.endswith(("ss", "us", "is", "ous")) and w not in NOT_PLURAL)
    return out


def code_identifier(tok: str) -> bool:
    """Parts of code names: tokens holding an underscore, or a dotted lower-case name (os.path)."""
    w = tok.strip()
    return not w.startswith("<|") and ("_" in w or bool(re.fullmatch(r"\.?[a-z]+\.[a-z]+", w)))


def path_part(tokens: list[str]) -> list[bool]:
    """Tokens of a whitespace-free chunk holding a slash or backslash (file paths and URLs)."""
    out = [False] * len(tokens)
    start = 0
    for i in range(len(tokens) + 1):
        if i == len(tokens) or (i > start and tokens[i][:1].isspace()):
            chunk = "".join(tokens[start:i])
            if re.search(r"\w[/\\]|[/\\]\w", chunk) and "‹" not in chunk:
                out[start:i] = [bool(t.strip()) for t in tokens[start:i]]
            start = i
    return out
