"""What a form rule can see of each token: its text, the word it belongs to, and where it stands.

Computed once per record (tokens only, never activations) and cached with the records, so evaluating a
new explanation's rules is a pass over small Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SENTENCE_END = ".!?"
_CODE_LINE = re.compile(r"[(){}\[\]=]|^\s{2,}\S|>>>|\bdef\b|\bimport\b|\breturn\b|;\s*$|::|->|\w\.\w+\(")
_OPEN_QUOTES, _CLOSE_QUOTES, _TOGGLE_QUOTES = "“‘", "”’", '"'


@dataclass(frozen=True)
class TokenInfo:
    """One token in context (all text fields lower-cased unless named raw).

    Attributes:
        raw: the display string.
        text: stripped display string (original case).
        word: the whole word the token is a piece of, lower-cased ("installing" for both " install" and "ing").
        surface: that word as written (its pieces joined, original case: "Installing").
        cut: the word touches an edge of the text without a space there, so it may be a piece of a longer
            word the text cuts off ("Missou" at the end of an example of "Missouri").
        last_piece / first_piece: the token ends / starts its word.
        prev / next: the neighbouring non-blank tokens' stripped text ("" at the edges).
        chunk: the whitespace-free stretch of text holding the token (e.g. "/usr/bin/python").
        in_quotes / in_parens: inside a quotation / round or square brackets (marks themselves excluded).
        sentence_start / sentence_end: first word of a sentence / sentence-ending mark or the word before it.
        line_start: first non-blank token after a line break.
        code_line: the token's line looks like code (brackets, =, indentation, def/import ...).
    """

    raw: str
    text: str
    word: str
    surface: str
    cut: bool
    last_piece: bool
    first_piece: bool
    prev: str
    next: str
    chunk: str
    in_quotes: bool
    in_parens: bool
    sentence_start: float
    sentence_end: bool
    line_start: bool
    code_line: bool
    position: int


def _is_piece(prev: str, tok: str) -> bool:
    """``tok`` continues the word ended by ``prev`` (no space between, both alphabetic at the join)."""
    return bool(prev) and bool(tok) and not tok[0].isspace() and prev[-1:].isalpha() and tok[0].isalpha()


def token_infos(tokens: Sequence[str]) -> list[TokenInfo]:
    """The :class:`TokenInfo` of each token of one text."""
    n = len(tokens)
    stripped = [t.strip() for t in tokens]
    # words: spans of pieces
    word_of = [""] * n
    surface_of = [""] * n
    cut_of = [False] * n
    first = [True] * n
    last = [True] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and _is_piece(tokens[j], tokens[j + 1]):
            j += 1
        surface = "".join(stripped[i: j + 1])
        alpha = surface[:1].isalpha()
        cut = alpha and ((i == 0 and not tokens[0][:1].isspace()) or (j == n - 1 and surface[-1:].isalpha()))
        for k in range(i, j + 1):
            word_of[k], surface_of[k], cut_of[k] = surface.lower(), surface, cut
            first[k], last[k] = k == i, k == j
        i = j + 1
    # chunks between whitespace
    chunk_of = [""] * n
    start = 0
    for k in range(n + 1):
        if k == n or (k > start and tokens[k][:1].isspace()):
            chunk = "".join(tokens[start:k]).strip()
            for m in range(start, k):
                chunk_of[m] = chunk
            start = k
    lines = "".join(tokens).split("\n")
    code_lines = [bool(_CODE_LINE.search(line)) for line in lines]
    out: list[TokenInfo] = []
    quote = paren = 0
    line = 0
    after_break = True
    prev_end: bool | None = None  # None: nothing seen yet (the text starts mid-stream)
    prev_text = ""
    for k, tok in enumerate(tokens):
        s = stripped[k]
        if "\n\n" in tok:
            quote = paren = 0
        marks_q = [c for c in tok if c in _OPEN_QUOTES + _CLOSE_QUOTES + _TOGGLE_QUOTES]
        marks_p = [c for c in tok if c in "()[]"]
        in_q, in_p = quote > 0 and not marks_q, paren > 0 and not marks_p
        for c in marks_q:
            quote = 1 if c in _OPEN_QUOTES else 0 if c in _CLOSE_QUOTES else (0 if quote else 1)
        for c in marks_p:
            paren = paren + 1 if c in "([" else max(0, paren - 1)
        nxt = next((stripped[m] for m in range(k + 1, n) if stripped[m]), "")
        is_word = bool(s) and s[0].isalnum()
        if prev_end is None:
            sent_start = 0.5 if is_word and first[k] else 0.0
        else:
            sent_start = 1.0 if is_word and first[k] and (prev_end or after_break) else 0.0
        sent_end = bool(s) and (s[-1] in _SENTENCE_END or s.rstrip("\"”')")[-1:] in _SENTENCE_END
                                or (is_word and nxt[:1] in _SENTENCE_END and nxt[:1] != ""))
        out.append(TokenInfo(
            raw=tok, text=s, word=word_of[k], surface=surface_of[k], cut=cut_of[k], last_piece=last[k],
            first_piece=first[k], prev=prev_text.lower(),
            next=nxt.lower(), chunk=chunk_of[k], in_quotes=in_q, in_parens=in_p,
            sentence_start=sent_start, sentence_end=sent_end, line_start=bool(s) and after_break and k > 0,
            code_line=code_lines[min(line, len(code_lines) - 1)], position=k))
        line += tok.count("\n")
        if "\n" in tok:
            after_break = True
        if s:
            prev_end = s.rstrip("\"”')")[-1:] in _SENTENCE_END or s.startswith("<|")
            after_break = "\n" in tok and not s
            prev_text = s
    return out
