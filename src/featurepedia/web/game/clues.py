"""The clues of a puzzle: a feature's top contexts and a few weaker ones, minus explicit ones if asked."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString

from featurepedia.web.catalog import pagecache
from featurepedia.web.catalog.display import render_example
from featurepedia.web.catalog.models import Feature
from featurepedia.web.game.explicit import tokens_explicit

TOP_CLUES = 6
WEAKER_CLUES = 3


@dataclass
class Clues:
    top: list[SafeString]
    weaker: list[SafeString]
    hidden: int  # explicit contexts left out


def clues_for(feature: Feature, hide_explicit: bool) -> Clues:
    """Top contexts (strongest first) and a few from the middle quantile group, scaled to the feature's max.

    The same for every player with the same filter setting until the source is rebuilt, so cached.
    """
    return pagecache.cached("clues", (feature.pk, feature.source.updated.isoformat(), hide_explicit, TOP_CLUES,
                                      WEAKER_CLUES), lambda: _clues(feature, hide_explicit))


def _clues(feature: Feature, hide_explicit: bool) -> Clues:
    examples = list(feature.examples.exclude(bin="negative").order_by("bin", "rank"))
    hidden = 0
    if hide_explicit:
        kept = [e for e in examples if not tokens_explicit(e.tokens)]
        hidden = len(examples) - len(kept)
        examples = kept
    top = [e for e in examples if e.bin == "top"][:TOP_CLUES]
    quantile_bins = sorted({e.bin for e in examples if e.bin.startswith("q")}, key=lambda b: int(b[1:]))
    middle = quantile_bins[len(quantile_bins) // 2] if quantile_bins else None
    weaker = [e for e in examples if e.bin == middle][:WEAKER_CLUES]

    start = feature.source.first_shown

    return Clues([render_example(e, feature.max_act, start) for e in top],
                 [render_example(e, feature.max_act, start) for e in weaker], hidden)
