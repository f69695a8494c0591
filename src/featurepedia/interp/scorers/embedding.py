"""Embedding scorer (Delphi): AUROC of cosine(explanation, example) between activating and non-activating.

Examples are embedded as short texts ("units"), with all-MiniLM-L6-v2 by default; the score is the AUROC
of the explanation's cosine with the units of activating records against the units of non-activating
records. Unit embeddings are cached by the records' content hash, so scoring a new explanation on a feature
already seen costs one short encode and a matrix product (~10 ms on 2 cores).

Views (measured in bench/autointerp.py; ``window`` is the default):
  ``context``    one unit per record: its whole text.
  ``window``     activating records: the tokens around their most active token; non-activating records:
                 a window around every ``stride``-th token, so a non-activating text that matches the
                 explanation anywhere counts against it.
  ``highlight``  like ``window``, but activating records add a window per strongly active token.
With ``mark="after"`` (default) a window is followed by its centre token and the one before it
(``... fed the dog ("dog" after "the")``; ``mark="quote"``: the centre token only), and ``token_weight``
blends in the cosine with the centre token alone: together they tell the embedding model which token of
the window matters (benchmark top-1 on 12 planted features: plain windows 0.67, quote 0.83, after 0.92).
A record's prediction in the details is the best cosine among its units.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurepedia.interp.backends.sentence import EMBEDDING_MODEL, embed
from featurepedia.interp.base import ScoreResult
from featurepedia.interp.metrics import auroc
from featurepedia.interp.records import (
    ActivationRecord,
    records_hash,
    require_both_kinds,
    validate_explanation,
)

VIEWS = ("context", "window", "highlight")
MARKS = ("none", "quote", "after")
MAX_WINDOWS_PER_RECORD = 8

_CACHE_LOCK = threading.Lock()
# (records hash, view settings) -> (embeddings [n_texts, d], owner record of each text [n_texts])
_EXAMPLE_CACHE: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
CACHE_SIZE = 512


class EmbeddingScorer:
    """Scores an explanation by how well its embedding separates activating from non-activating records."""

    name = "embedding"
    version = "1"
    uses_llm = False

    def __init__(self, view: str = "window", before: int = 4, after: int = 1, stride: int = 2,
                 highlight_frac: float = 0.5, context_weight: float = 0.0, template: str = "{explanation}",
                 mark: str = "after", token_weight: float = 0.5,
                 model_path: str | None = None):
        """Args:
            view: ``context``, ``window`` or ``highlight`` (see module docstring).
            before / after: tokens kept before / after the centre token of a window.
            stride: distance between window centres in non-activating records.
            highlight_frac: the ``highlight`` view's threshold, a fraction of the record's max.
            context_weight: blend in the whole-context cosine (0 = windows only, 1 = context only).
            template: how the explanation is put into words before embedding (``{explanation}`` slot).
            mark: ``none``, ``quote`` or ``after``: what follows each window's text (see module docstring).
            token_weight: weight of the cosine with the centre token alone (0 = windows only).
            model_path: a sentence-transformers folder; default the embedded all-MiniLM-L6-v2.
        """
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
        if mark not in MARKS:
            raise ValueError(f"unknown mark {mark!r}; use one of {', '.join(MARKS)}")
        if before < 0 or after < 0 or stride < 1:
            raise ValueError("before and after must be >= 0 and stride >= 1")
        self.view, self.before, self.after, self.stride = view, before, after, stride
        self.highlight_frac, self.context_weight, self.model_path = highlight_frac, context_weight, model_path
        self.template, self.mark, self.token_weight = template, mark, token_weight

    @property
    def settings(self) -> dict[str, Any]:
        return {"view": self.view, "before": self.before, "after": self.after, "stride": self.stride,
                "highlight_frac": self.highlight_frac, "context_weight": self.context_weight, "template": self.template, "mark": self.mark, "token_weight": self.token_weight,
                "model": self.model_path or EMBEDDING_MODEL}

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult:
        """AUROC of cosine(explanation, text) between activating and non-activating records' texts."""
        text = validate_explanation(explanation)
        pos, _ = require_both_kinds(records, self.name)
        start = time.perf_counter()
        query = embed([self.template.format(explanation=text)], self.model_path)[0]  # [d]
        sims, owners = self._unit_sims(query, records, self.view)  # [n_texts], [n_texts]
        if self.token_weight > 0 and self.view != "context":
            tok, _ = self._unit_sims(query, records, f"{self.view}/token")  # same units, centre token only
            sims = (1 - self.token_weight) * sims + self.token_weight * tok
        if self.context_weight > 0 and self.view != "context":
            ctx, _ = self._unit_sims(query, records, "context")  # [n_records]
            sims = (1 - self.context_weight) * sims + self.context_weight * ctx[owners]
        is_pos = np.zeros(len(records), dtype=bool)
        is_pos[pos] = True
        value = auroc(is_pos[owners], sims)
        per_record = np.full(len(records), -1.0)
        np.maximum.at(per_record, owners, sims)  # a record's prediction: its best-matching text
        details = {
            "scorer": self.name, "version": self.version, **self.settings,
            "predictions": [round(float(s), 4) for s in per_record],
            "labels": is_pos.astype(int).tolist(),
            "n_activating": len(pos), "n_non_activating": len(records) - len(pos), "n_texts": len(owners),
            "seconds": round(time.perf_counter() - start, 4),
        }
        return ScoreResult(value, details)

    def example_embeddings(self, records: Sequence[ActivationRecord], view: str) -> tuple[np.ndarray, np.ndarray]:
        """Cached embeddings of the records' texts for a view: ([n_texts, d], owner record index [n_texts])."""
        key = (records_hash(records), view, self.before, self.after, self.stride, self.highlight_frac,
               self.mark, self.model_path)
        with _CACHE_LOCK:
            if key in _EXAMPLE_CACHE:
                _EXAMPLE_CACHE.move_to_end(key)
                return _EXAMPLE_CACHE[key]
        texts: list[str] = []
        owners: list[int] = []
        for i, record in enumerate(records):
            for piece in self._texts(record, view):
                texts.append(piece)
                owners.append(i)
        entry = (embed(texts, self.model_path), np.asarray(owners, dtype=np.int64))
        with _CACHE_LOCK:
            _EXAMPLE_CACHE[key] = entry
            while len(_EXAMPLE_CACHE) > CACHE_SIZE:
                _EXAMPLE_CACHE.popitem(last=False)
        return entry

    def _unit_sims(self, query: np.ndarray, records: Sequence[ActivationRecord],
                   view: str) -> tuple[np.ndarray, np.ndarray]:
        emb, owners = self.example_embeddings(records, view)
        return (emb @ query).astype(np.float64), owners  # [n_texts], [n_texts]

    def _texts(self, record: ActivationRecord, view: str) -> list[str]:
        view, _, kind = view.partition("/")
        n = len(record.tokens)
        if view == "context" or n == 0:
            return [record.text.strip() or record.text or " "]
        if not record.is_activating:
            centres = list(range(0, n, self.stride))
        elif view == "window":
            centres = [record.argmax]
        else:
            peak = record.max_value
            strong = [i for i, v in enumerate(record.values) if v >= self.highlight_frac * peak]
            centres = sorted(sorted(strong, key=lambda i: -record.values[i])[:MAX_WINDOWS_PER_RECORD])
        windows = []
        for c in centres:
            piece = "".join(record.tokens[max(0, c - self.before): c + self.after + 1]).strip()
            centre = record.tokens[c].strip()
            if kind == "token":
                piece = centre
            elif self.mark == "quote" and centre:
                piece = f'{piece} ("{centre}")'
            elif self.mark == "after" and centre:
                prev = record.tokens[c - 1].strip() if c > 0 else ""
                piece = f'{piece} ("{centre}" after "{prev}")' if prev else f'{piece} ("{centre}")'
            windows.append(piece or record.tokens[c] or " ")
        return windows
