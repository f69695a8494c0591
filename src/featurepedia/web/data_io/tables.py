"""The exported tables: each one's columns, Arrow types and meaning (the data card is written from these)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# UTC, stored without a zone: pyarrow 26 crashed converting zoned timestamps to Python under the test runner
TIME = pa.timestamp("us")
FLOATS = pa.list_(pa.float64())


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    meaning: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    meaning: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])


def _c(name: str, type_: pa.DataType, meaning: str) -> Column:
    return Column(name, type_, meaning)


FEATURE = _c("feature_index", pa.int64(), "the feature's index in its source")
SOURCE = _c("source", pa.string(), "the source, as MODEL/SOURCE (e.g. gpt2-small/6-mlp)")
EXPLANATION = _c("explanation_id", pa.int64(), "the explanation (explanation_id in the explanations table)")
PLAYER = _c("player", pa.string(), "who answered: their display name if they chose one, else a stable "
            "anonymous id (anon-... for an account, visitor-... for a visitor without one)")
CAMPAIGN = _c("campaign", pa.string(), "slug of the campaign it was played in (empty: none)")
CREATED = _c("created", TIME, "when it was made (UTC)")

TABLES: tuple[TableSpec, ...] = (
    TableSpec("explanations", "What each feature does, in words: written by players (method human) or produced "
              "by a method (token-list, local-lm, llm:<model>, neuronpedia:..., openai-neuron-explainer:...).", (
                  EXPLANATION, SOURCE, FEATURE,
                  _c("text", pa.string(), "the explanation"),
                  _c("method", pa.string(), "human, or the method that produced it"),
                  _c("author", pa.string(), "for a human explanation: the author's display name if they chose "
                     "one, else a stable anonymous id (anon-...); empty for a method or a deleted account"),
                  _c("status", pa.string(), "live (shown) or draft; hidden (by moderation) only with "
                     "--include-hidden"),
                  CREATED)),
    TableSpec("votes", "Players' up (+1) and down (-1) votes on explanations, one per player and explanation.", (
        EXPLANATION, SOURCE, FEATURE, PLAYER,
        _c("value", pa.int8(), "+1 (up) or -1 (down)"), CREATED)),
    TableSpec("comparisons", "This-vs-That answers: which of two explanations of a feature fits its clues "
              "better, or neither. The pair is in id order whatever side each was shown on.", (
                  _c("comparison_id", pa.int64(), "the answer's id"), SOURCE, FEATURE,
                  _c("first_explanation_id", pa.int64(), "the pair's explanation with the lower id"),
                  _c("second_explanation_id", pa.int64(), "the pair's explanation with the higher id"),
                  _c("choice", pa.string(), "first, second (the better one) or both-bad"),
                  PLAYER, CAMPAIGN, CREATED)),
    TableSpec("odd_one_answers", "Odd-one-out answers: short clue snippets of a feature and one intruder, and "
              "the snippet the player picked as the odd one (or none: they are all alike).", (
                  _c("answer_id", pa.int64(), "the answer's id"), SOURCE, FEATURE,
                  _c("round_id", pa.int64(), "the round (the same snippets shown to several players)"),
                  _c("snippets", pa.list_(pa.struct([("tokens", pa.list_(pa.string())), ("mark", pa.int64())])),
                     "the snippets in the order shown: tokens, and the position of the marked token"),
                  _c("odd", pa.int64(), "position of the intruder among the snippets"),
                  _c("intruder", pa.string(), "other-feature (a clue of another feature) or not-firing"),
                  _c("pick", pa.int64(), "position the player picked; null: they are all alike"),
                  _c("found", pa.bool_(), "whether the pick was the intruder"),
                  PLAYER, CAMPAIGN, CREATED)),
    TableSpec("predictions", "Human simulations (Predict-the-activations): given an explanation, a player marks "
              "0-10 per token where they think the feature fires; scored against the true activations.", (
                  _c("prediction_id", pa.int64(), "the answer's id"), EXPLANATION, SOURCE, FEATURE,
                  _c("tokens", pa.list_(pa.list_(pa.string())), "the texts shown, one token list per text"),
                  _c("marks", pa.list_(FLOATS), "the player's 0-10 per token, one list per text"),
                  _c("truth", pa.list_(FLOATS), "the true activations per token (0 below active)"),
                  _c("score", pa.float64(), "Pearson correlation of marks and truth over all tokens"),
                  _c("daily", pa.string(), "the daily puzzle's date (YYYY-MM-DD) if played as one, else empty"),
                  PLAYER, CAMPAIGN, CREATED)),
    TableSpec("scores", "Automatic scores of explanations: one per explanation and scorer.", (
        EXPLANATION, SOURCE, FEATURE,
        _c("scorer", pa.string(), "the scorer (embedding, simulation, detection, fuzzing, ...)"),
        _c("version", pa.string(), "the scorer's version"),
        _c("value", pa.float64(), "the score (null unless status is ok)"),
        _c("status", pa.string(), "ok, pending or failed"),
        _c("details", pa.string(), "how it was computed (settings, per-example predictions), as JSON"),
        CREATED)),
)
BY_NAME = {t.name: t for t in TABLES}
