"""Form-and-meaning scorer: reads the explanation as rules over tokens, and embeds what is left (the topic).

Each token of the scored records gets a prediction from the explanation alone (never from activations):

- the rules :func:`featurepedia.interp.forms.rules.parse` finds in it (suffixes and prefixes, casing, digits
  and years, symbols named in words, closed word classes, position after or before a word, inside quotes or
  brackets, code and paths, line breaks): the mean over kinds of rule of the best rule of each kind;
- the literal examples it gives ("such as dog or cat", quoted strings);
- the cosine between the explanation's sentence embedding and the token's whole word (all-MiniLM-L6-v2),
  which carries topics ("animals", "feelings") and breaks ties among the tokens a rule accepts.

The score is the AUROC of these predictions between active tokens (value > 0) and all other tokens of the
records, pooled over records: 0.5 is chance, 1 means every active token is predicted above every quiet one.
Scoring tokens, not texts, is what lets form count: "the word after 'of'" must pick the right token of a
text, not just a text that contains "of". Per-record token data and word embeddings are cached by the
records' hash, so a new explanation on a feature already seen costs one short encode and a pass over the
tokens (a few ms). Because it compares tokens, it needs no text where the feature is silent: a dense feature,
active somewhere in every sampled context, is scored on the quiet tokens of its activating texts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featurepedia.interp.backends.sentence import EMBEDDING_MODEL, embed
from featurepedia.interp.base import ScoreResult
from featurepedia.interp.errors import RecordError
from featurepedia.interp.forms.rules import Check, Reading, Rule, literal_check, parse
from featurepedia.interp.forms.tokens import TokenInfo, token_infos
from featurepedia.interp.metrics import auroc
from featurepedia.interp.records import (
    ActivationRecord,
    records_hash,
    split_by_activation,
    validate_explanation,
)

CACHE_SIZE = 512
MAX_CHECKS = 256  # cached rule values per records (each [n_tokens] float64)


@dataclass
class _Prepared:
    infos: list[list[TokenInfo]]  # per record, per token
    words: np.ndarray  # [n_tokens, d] unit embeddings of each token's word (zeros for blank tokens)
    labels: np.ndarray  # [n_tokens] bool: the token is active
    owners: np.ndarray  # [n_tokens] record index of each token
    checks: dict[str, np.ndarray] = field(default_factory=dict)  # a rule's (or literal's) values [n_tokens]

    def values(self, key: str, check: Check) -> np.ndarray:
        """A check's value on every token, computed once per records (rules recur across explanations)."""
        if key not in self.checks:
            while len(self.checks) >= MAX_CHECKS:  # players write many literals: keep memory bounded
                self.checks.pop(next(iter(self.checks)))
            self.checks[key] = np.asarray([check(row, k) for row in self.infos for k in range(len(row))],
                                          dtype=np.float64)
        return self.checks[key]


_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple[str, str | None], _Prepared] = OrderedDict()


class FormScorer:
    """Scores an explanation by how well its rules and meaning pick out the active tokens."""

    name = "form"
    token_level = True  # compares tokens, so texts where the feature is silent are optional
    version = "2"  # 2: word cosines less their cosine with "a word" (generic_weight 0.5, chosen on the dev part)
    uses_llm = False

    def __init__(self, literal_weight: float = 0.3, embedding_weight: float = 0.1,
                 topic_literal_weight: float = 1.0, generic_weight: float = 0.5, generic: str = "a word",
                 expand_words: int = 0, expand_weight: float = 0.0, model_path: str | None = None):
        """Args:
            literal_weight: weight of a literal example's match when the explanation also states rules.
            embedding_weight: weight of the word cosine when the explanation states rules (a tie-breaker).
            topic_literal_weight: weight of a literal match beside the cosine when it states no rule.
            generic_weight / generic: the word cosine is lowered by this times the word's cosine with
                ``generic``, so words close to everything (hubs) do not outrank words close to the topic.
            expand_words / expand_weight: for an explanation with no rule (a topic), the ``expand_words``
                distinct words of the records closest to it stand in for the topic's vocabulary (pseudo-relevance
                feedback, from the tokens alone, never the activations); each token's cosine with their centroid
                is added with this weight, so "animals" is read as the animals these texts name.
            model_path: a sentence-transformers folder; default the embedded all-MiniLM-L6-v2.
        """
        self.literal_weight, self.embedding_weight = literal_weight, embedding_weight
        self.topic_literal_weight, self.model_path = topic_literal_weight, model_path
        self.generic_weight, self.generic = generic_weight, generic
        self.expand_words, self.expand_weight = expand_words, expand_weight

    @property
    def settings(self) -> dict[str, Any]:
        return {"literal_weight": self.literal_weight, "embedding_weight": self.embedding_weight,
                "topic_literal_weight": self.topic_literal_weight, "generic_weight": self.generic_weight,
                "generic": self.generic, "expand_words": self.expand_words, "expand_weight": self.expand_weight,
                "model": self.model_path or EMBEDDING_MODEL}

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult:
        """Token-level AUROC of the explanation's predictions between active and quiet tokens."""
        text = validate_explanation(explanation)
        pos, _ = split_by_activation(records)
        start = time.perf_counter()
        prep = self.prepare(records)
        if not 0 < int(prep.labels.sum()) < prep.labels.size:
            raise RecordError(
                f"the {self.name} scorer needs both active tokens (value > 0) and quiet ones among the records; "
                f"got {int(prep.labels.sum())} active of {prep.labels.size} tokens")
        reading = parse(text)
        predictions = self.predict(text, reading, prep)  # [n_tokens]
        value = auroc(prep.labels, predictions)
        per_record = np.full(len(records), -1.0)
        np.maximum.at(per_record, prep.owners, predictions)
        splits = np.cumsum([len(r.tokens) for r in records])[:-1]
        details = {
            "scorer": self.name, "version": self.version, **self.settings,
            "understood": reading.labels, "literals": reading.literals,
            "predictions": [round(float(p), 4) for p in per_record],
            "token_predictions": [[round(float(p), 3) for p in chunk] for chunk in np.split(predictions, splits)],
            "labels": [int(r.is_activating) for r in records],
            "n_activating": len(pos), "n_non_activating": len(records) - len(pos),
            "n_tokens": int(prep.labels.size), "n_active_tokens": int(prep.labels.sum()),
            "seconds": round(time.perf_counter() - start, 4),
        }
        return ScoreResult(value, details)

    def predict(self, text: str, reading: Reading, prep: _Prepared) -> np.ndarray:
        """One prediction per token of the prepared records ([n_tokens], float64)."""
        query = embed([text], self.model_path)[0]  # [d]
        cos = (prep.words @ query).astype(np.float64)  # [n_tokens]
        hub = (prep.words @ embed([self.generic], self.model_path)[0]).astype(np.float64) if self.generic_weight \
            else 0.0
        cos -= self.generic_weight * hub
        form = _rule_values(reading.rules, prep) if reading.rules else None
        if form is None and self.expand_words and self.expand_weight:
            cos = cos + self.expand_weight * (self._expanded(cos, prep) - self.generic_weight * hub)
        lit = _literal_values(reading.literals, prep) if reading.literals else None
        if form is not None:
            out = form + self.embedding_weight * cos
            if lit is not None:
                out += self.literal_weight * lit
            return out
        return cos + (self.topic_literal_weight * lit if lit is not None else 0.0)

    def _expanded(self, cos: np.ndarray, prep: _Prepared) -> np.ndarray:
        """Each token's cosine with the centroid of the ``expand_words`` distinct words closest to the query."""
        norms = np.abs(prep.words).sum(axis=1) > 0
        order = np.argsort(-cos, kind="stable")
        picked: list[int] = []
        seen: set[bytes] = set()
        for i in order:
            if not norms[i]:
                continue
            key = prep.words[i].tobytes()
            if key not in seen:
                seen.add(key)
                picked.append(int(i))
                if len(picked) >= self.expand_words:
                    break
        if not picked:
            return np.zeros_like(cos)
        centroid = prep.words[picked].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
        return (prep.words @ centroid).astype(np.float64)

    def prepare(self, records: Sequence[ActivationRecord]) -> _Prepared:
        """Token data and word embeddings of the records, cached by their content hash."""
        key = (records_hash(records), self.model_path)
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
        infos = [token_infos(r.tokens) for r in records]
        flat = [t for row in infos for t in row]
        words = [(t.word if t.word and t.word[0].isalnum() else t.text) for t in flat]
        distinct = sorted({w for w in words if w})
        vectors = embed(distinct, self.model_path) if distinct else np.zeros((0, 0), dtype=np.float32)
        index = {w: i for i, w in enumerate(distinct)}
        dim = vectors.shape[1] if distinct else 1
        matrix = np.zeros((len(flat), dim), dtype=np.float32)
        for i, w in enumerate(words):
            if w:
                matrix[i] = vectors[index[w]]
        labels = np.array([v > 0 for r in records for v in r.values], dtype=bool)
        owners = np.array([i for i, r in enumerate(records) for _ in r.tokens], dtype=np.int64)
        prep = _Prepared(infos, matrix, labels, owners)
        with _LOCK:
            _CACHE[key] = prep
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
        return prep


def _rule_values(rules: list[Rule], prep: _Prepared) -> np.ndarray:
    """Mean over kinds of the best rule of each kind (negated rules are kinds of their own), per token."""
    kinds: dict[str, list[np.ndarray]] = {}
    for rule in rules:
        raw = prep.values(f"{rule.kind}|{rule.label}", rule.check)
        kinds.setdefault(f"not:{rule.label}" if rule.negated else rule.kind, []).append(1.0 - raw if rule.negated
                                                                                       else raw)
    return np.mean([np.max(group, axis=0) for group in kinds.values()], axis=0)


def _literal_values(literals: list[str], prep: _Prepared) -> np.ndarray:
    return np.max([prep.values(f"literal|{lit.lower()}", literal_check(lit)) for lit in literals], axis=0)
