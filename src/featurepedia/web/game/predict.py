"""Predict-the-activations: the texts of a puzzle, reading a player's marks, and scoring them.

A player reads one explanation of a feature and, on a few short texts, marks the tokens they think make it
fire (tap = 10, or 0–10 per token in advanced mode). The texts come from the scorers' side of the held-out
split (interp/split.py, as explanations/scoring.py uses it): held-out top examples, one from the quantile
groups and one non-activating text, preferring those the Vote puzzle never shows as clues.

The score is the simulation scorer's (interp/scorers/simulation.py): ``interp.metrics.pearson_or_zero`` —
Pearson correlation, 0 when either side is constant or not finite — of the player's marks and the true
activations, pooled over every token of every text, the truth clipped at 0 (values below the feature's
activity threshold are already 0, as feature_records stores them). A player who marks nothing scores 0.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from featurepedia.errors import FeaturepediaError
from featurepedia.interp.errors import RecordError
from featurepedia.interp.metrics import pearson_or_zero
from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.explanations.scoring import activity_threshold, feature_records
from featurepedia.web.game.clues import TOP_CLUES, WEAKER_CLUES
from featurepedia.web.game.explicit import tokens_explicit

WINDOW = 20  # tokens a person reads per text (the simulation scorer cuts a model's at 64)
N_TOP, N_QUANTILE, N_QUIET = 2, 1, 1  # texts per puzzle: held-out top, a weaker one, a non-activating one
MAX_MARK = 10
SQUARES = {"hit": "🟩", "near": "🟨", "miss": "⬜"}


class PredictError(FeaturepediaError):
    """A prediction that cannot be scored or stored (bad marks, texts changed, already answered)."""


@dataclass(frozen=True)
class PuzzleText:
    """One text of a puzzle: ``tokens`` from position ``start`` of an example (after its BOS token)."""

    example: int
    start: int
    tokens: list[str]
    truth: list[float]  # the feature's activation per token, 0 below its activity threshold

    @property
    def ref(self) -> dict[str, int]:
        """What a stored puzzle or prediction keeps to find the text again."""
        return {"example": self.example, "start": self.start, "length": len(self.tokens)}

    @property
    def activating(self) -> bool:
        return max(self.truth, default=0.0) > 0


def _window(length: int, peak: int | None) -> int:
    """Start of a WINDOW-token cut around ``peak`` (the simulation scorer's rule), or the middle without one."""
    if length <= WINDOW:
        return 0
    if peak is None:
        return (length - WINDOW) // 2
    return max(0, min(peak - WINDOW // 2, length - WINDOW))


def _clue_ids(examples: Sequence[ActivationExample]) -> set[int]:
    """Examples the Vote puzzle shows as clues (the rule of clues.clues_for, without the explicit filter)."""
    top = [e for e in examples if e.bin == "top"]
    quantile_bins = sorted({e.bin for e in examples if e.bin.startswith("q")}, key=lambda b: int(b[1:]))
    middle = quantile_bins[len(quantile_bins) // 2] if quantile_bins else None
    weaker = [e for e in examples if e.bin == middle]
    return {e.pk for e in sorted(top, key=lambda e: e.rank)[:TOP_CLUES]} | \
        {e.pk for e in sorted(weaker, key=lambda e: e.rank)[:WEAKER_CLUES]}


def choose_texts(feature: Feature, seed: int, hide_explicit: bool = False) -> list[PuzzleText]:
    """The texts of a puzzle on ``feature`` (the same for every ``seed``), or [] when it has too few.

    Args:
        seed: which held-out texts and in what order; a puzzle uses its explanation's id or its day.
        hide_explicit: leave out texts with explicit words (a player's filter; always on for the daily).
    Returns:
        Up to N_TOP + N_QUANTILE + N_QUIET texts, at least one activating and one not, shuffled.
    """
    try:
        split = feature_records(feature).split()
    except RecordError:  # no top or no non-activating example: nothing to score against
        return []
    # The same query and order as feature_records, so the split's positions name these rows.
    examples = list(ActivationExample.objects.filter(feature=feature).only("id", "bin", "rank", "tokens"))
    lists = {"top": sorted((e for e in examples if e.bin == "top"), key=lambda e: e.rank),
             "quantile": [e for e in examples if e.bin not in ("top", "negative")],
             "non_activating": [e for e in examples if e.bin == "negative"]}
    first = feature.source.first_shown
    seen = _clue_ids(examples)
    rng = random.Random(seed)
    pools: dict[str, list[PuzzleText]] = {"top": [], "quantile": [], "quiet": []}
    for (kind, i), record in zip(split.score_sources, split.score, strict=True):
        example = lists[kind][i]
        if list(example.tokens[first:]) != record.tokens:
            raise RuntimeError(f"example {example.pk} is not the split's record {kind} {i}")
        start = _window(len(record.tokens), record.argmax if record.is_activating else None)
        text = PuzzleText(example.pk, start, record.tokens[start:start + WINDOW],
                          [float(v) for v in record.values[start:start + WINDOW]])
        if hide_explicit and tokens_explicit(text.tokens):
            continue
        pools["quiet" if not text.activating else kind].append(text)
    for pool in pools.values():  # unseen texts first, each group in the seed's order
        rng.shuffle(pool)
        pool.sort(key=lambda t: t.example in seen)
    top, quantile, quiet = pools["top"], pools["quantile"], pools["quiet"]
    activating = top[:N_TOP] + quantile[:N_QUANTILE]
    spare = top[N_TOP:] + quantile[N_QUANTILE:]
    activating += spare[:N_TOP + N_QUANTILE - len(activating)]
    if not activating or not quiet:
        return []
    chosen = activating + quiet[:N_QUIET]
    rng.shuffle(chosen)
    return chosen


def load_texts(feature: Feature, refs: Sequence[Mapping[str, int]]) -> list[PuzzleText]:
    """The texts a stored puzzle names, read again from the examples; [] if one of them is gone."""
    threshold = activity_threshold(feature)
    first = feature.source.first_shown
    rows = {e.pk: e for e in ActivationExample.objects.filter(feature=feature,
                                                              pk__in=[r["example"] for r in refs])}
    texts = []
    for ref in refs:
        example = rows.get(ref["example"])
        if example is None:
            return []
        lo, hi = first + ref["start"], first + ref["start"] + ref["length"]
        texts.append(PuzzleText(example.pk, ref["start"], list(example.tokens[lo:hi]),
                                [float(v) if v > threshold else 0.0 for v in example.values[lo:hi]]))
    return texts


def fingerprint(texts: Sequence[PuzzleText]) -> str:
    """The texts as a short string a form sends back, to notice that they changed since the page was shown."""
    return ";".join(f"{t.example}:{t.start}:{len(t.tokens)}" for t in texts)


def marks_from_form(data: Mapping[str, object], texts: Sequence[PuzzleText]) -> list[list[int]]:
    """The marks a puzzle form posted: a slider ``v{text}_{token}`` (0–10) where there is one, else the
    checkbox list ``m{text}`` of marked positions (10 each). Raises PredictError on an unreadable value."""
    getlist: Callable[[str], list[object]] = getattr(data, "getlist", lambda key: [])
    marks = []
    for r, text in enumerate(texts):
        checked = {str(v) for v in getlist(f"m{r}")}
        row = []
        for i in range(len(text.tokens)):
            slider = data.get(f"v{r}_{i}")
            if slider is None:
                row.append(MAX_MARK if str(i) in checked else 0)
                continue
            try:
                value = int(str(slider))
            except ValueError:
                raise PredictError(f"a mark is {str(slider)[:20]!r}; marks are whole numbers from 0 to 10") from None
            row.append(max(0, min(MAX_MARK, value)))
        marks.append(row)
    return marks


def check_marks(marks: Sequence[Sequence[float]], texts: Sequence[PuzzleText]) -> list[list[float]]:
    """Marks shaped like the texts (one number 0–10 per token), or PredictError saying what does not fit."""
    if len(marks) != len(texts):
        raise PredictError(f"got marks for {len(marks)} texts; this puzzle has {len(texts)}: send one list "
                           "per text, in order")
    out = []
    for r, (row, text) in enumerate(zip(marks, texts, strict=True)):
        if len(row) != len(text.tokens):
            raise PredictError(f"text {r + 1} has {len(text.tokens)} tokens but {len(row)} marks were sent; "
                               "send one mark per token")
        values = [float(v) for v in row]
        if not all(0 <= v <= MAX_MARK for v in values):
            raise PredictError(f"text {r + 1} has a mark outside 0–{MAX_MARK}; use 0 (no) to {MAX_MARK} (fires most)")
        out.append(values)
    return out


def simulation_score(marks: Sequence[Sequence[float]], truth: Sequence[Sequence[float]]) -> float:
    """The simulation scorer's correlation: marks vs true activations (clipped at 0), pooled over all tokens."""
    predicted = np.concatenate([np.asarray(m, dtype=np.float64) for m in marks]) if marks else np.zeros(0)
    actual = np.concatenate([np.clip(np.asarray(t, dtype=np.float64), 0, None) for t in truth]) if truth \
        else np.zeros(0)
    return pearson_or_zero(predicted, actual)


def square(marks: Sequence[float], truth: Sequence[float]) -> str:
    """One text's result for the shared grid: within-text correlation for a text where the feature fires
    (🟩 ≥ 0.5, 🟨 ≥ 0.2); for a quiet text, 🟩 when nothing was marked and 🟨 for at most two light marks."""
    if max(truth, default=0.0) > 0:
        r = pearson_or_zero(marks, np.clip(np.asarray(truth, dtype=np.float64), 0, None))
        return SQUARES["hit" if r >= 0.5 else "near" if r >= 0.2 else "miss"]
    total = float(sum(marks))
    return SQUARES["hit" if total == 0 else "near" if total <= 2 * MAX_MARK else "miss"]


def squares(marks: Sequence[Sequence[float]], truth: Sequence[Sequence[float]]) -> str:
    return "".join(square(m, t) for m, t in zip(marks, truth, strict=True))


MAX_SCORE_POINTS = 3


def points_for(score: float, base: int) -> int:
    """Points for a prediction: ``base`` for playing, up to MAX_SCORE_POINTS more for a good correlation."""
    return base + round(MAX_SCORE_POINTS * max(0.0, score))
