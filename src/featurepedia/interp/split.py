"""Held-out split of a feature's examples into those an explainer sees and those a scorer sees.

As in Bills et al. (2023): the explanation is written from some top-activating examples and scored on
*other* top examples, plus examples sampled across the activation range (quantiles) and non-activating
ones, so an explanation cannot win by quoting the exact texts it was written from.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from featurepedia.interp.errors import RecordError
from featurepedia.interp.records import ActivationRecord


@dataclass
class HeldOutSplit:
    """Examples for explaining and for scoring (scoring always holds non-activating ones).

    Attributes:
        explain: top examples shown to the explainer (or to the player as clues).
        score: held-out top + quantile + non-activating examples, for scorers.
        explain_ids: positions of ``explain`` in the ``top`` list given.
        score_sources: for each scoring record, ("top" | "quantile" | "non_activating", position in its list).
    """

    explain: list[ActivationRecord]
    score: list[ActivationRecord]
    explain_ids: list[int] = field(default_factory=list)
    score_sources: list[tuple[str, int]] = field(default_factory=list)


def held_out_split(
    top: Sequence[ActivationRecord],
    quantile: Sequence[ActivationRecord] = (),
    non_activating: Sequence[ActivationRecord] = (),
    n_explain: int = 10,
    n_score_top: int = 10,
    n_score_quantile: int = 10,
    n_score_non_activating: int = 20,
    seed: int = 0,
    require_non_activating: bool = True,
) -> HeldOutSplit:
    """Split a feature's examples (see module docstring).

    Args:
        top: top-activating examples, most active first.
        quantile: examples sampled from activation-quantile bins (any order).
        non_activating: examples where the feature never fires (values all <= 0). Required.
        n_explain: top examples for the explainer; every other one of the top list (0, 2, 4, ...) first,
            so both sides get some of the very strongest examples.
        n_score_top / n_score_quantile / n_score_non_activating: at most this many of each for scoring.
        seed: picks which quantile and non-activating examples are used when there are more than needed.
        require_non_activating: refuse a feature without non-activating examples (the default). A scorer that
            compares tokens (the form scorer) can score a dense feature, active somewhere in every sampled
            context, on the quiet tokens of its activating examples: it passes False.
    Returns:
        A HeldOutSplit. Quantile examples that do not activate are counted as non-activating.
    Raises:
        RecordError: no top or (unless allowed) no non-activating examples were given.
    """
    if not top:
        raise RecordError("held_out_split needs at least one top-activating example")
    non_act = [i for i, r in enumerate(non_activating) if not r.is_activating]
    if not non_act and require_non_activating:
        raise RecordError(
            f"held_out_split needs non-activating examples (all values <= 0); got {len(non_activating)} records, "
            f"{len(non_activating) - len(non_act)} of which activate. Scores always include non-activating examples."
        )
    order = list(range(0, len(top), 2)) + list(range(1, len(top), 2))
    if len(top) == 1:
        explain_ids, held = [0], [0]  # a single example must serve both sides
    else:
        n_exp = max(1, min(n_explain, len(top) - 1))
        explain_ids = sorted(order[:n_exp])
        held = sorted(order[n_exp:])[:n_score_top]
    rng = random.Random(seed)
    q_ids = sorted(rng.sample(range(len(quantile)), min(n_score_quantile, len(quantile))))
    n_ids = sorted(rng.sample(non_act, min(n_score_non_activating, len(non_act))))
    score = [top[i] for i in held] + [quantile[i] for i in q_ids] + [non_activating[i] for i in n_ids]
    sources = [("top", i) for i in held] + [("quantile", i) for i in q_ids] + [("non_activating", i) for i in n_ids]
    return HeldOutSplit([top[i] for i in explain_ids], score, explain_ids, sources)
