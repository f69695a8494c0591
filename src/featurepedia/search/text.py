"""Full-text queries typed by people, made safe for SQLite FTS5 ``MATCH`` and PostgreSQL ``websearch_to_tsquery``.

Both engines are given the same small web-search syntax, so a query means the same in embedded and
production mode: words (all must match), ``"a phrase"``, ``-word`` (must not match) and ``or`` between
terms. FTS5 treats bare punctuation, ``AND``/``NEAR`` and column names as syntax and raises on a stray quote,
so its expression is rebuilt from the words alone, each one quoted; ``websearch_to_tsquery`` never raises,
so PostgreSQL gets the text nearly as typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_CHARS = 500  # an explanation is at most 500 characters; a longer query is a paste, not a search
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Term:
    """A word or phrase of a query; ``negated`` for ``-word``, ``prefix`` for a trailing ``*``."""

    words: tuple[str, ...]
    negated: bool = False
    prefix: bool = False


def clean(query: str) -> str:
    """The query with control characters (NUL included) dropped, whitespace collapsed, and cut to length."""
    text = "".join(c if c.isprintable() else " " for c in query)
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def parse(query: str) -> list[list[Term]]:
    """The query as OR-groups of terms (every term of a group must match; any group may)."""
    groups: list[list[Term]] = [[]]
    for m in _TOKEN.finditer(clean(query)):
        negated, phrase, bare = m.group(1) == "-", m.group(2), m.group(3)
        if phrase is None:
            if bare.lower() == "or":
                groups.append([])
                continue
            negated = bare.startswith("-") and len(bare) > 1
            words = tuple(_WORD.findall(bare))
            prefix = bare.endswith("*") and len(words) == 1
        else:
            words, prefix = tuple(_WORD.findall(phrase)), False
        if words:
            groups[-1].append(Term(words, negated, prefix))
    # A group of only negations matches nothing useful (and FTS5 cannot express it): drop them.
    return [g for g in groups if any(not t.negated for t in g)]


def _fts5_term(term: Term) -> str:
    quoted = '"' + " ".join(term.words) + '"'  # \w+ words hold no quote, so nothing needs escaping
    return quoted + "*" if term.prefix else quoted


def fts5_query(query: str) -> str:
    """An FTS5 MATCH expression for the query; empty when the query has no words (match nothing then)."""
    parts = []
    for group in parse(query):
        positive = " AND ".join(_fts5_term(t) for t in group if not t.negated)
        negative = "".join(f" NOT {_fts5_term(t)}" for t in group if t.negated)
        parts.append(f"({positive}{negative})")
    return " OR ".join(parts)


def websearch_query(query: str) -> str:
    """The text for PostgreSQL's ``websearch_to_tsquery``; empty when the query has no words."""
    return clean(query) if parse(query) else ""
