"""Response and request shapes of our own routes (snake_case; Neuronpedia's shapes are in neuronpedia.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import AfterValidator

MAX_ID = 2**63 - 1  # the largest id a database row can have (PostgreSQL's bigint)


def _no_nul(text: str) -> str:
    # PostgreSQL cannot store NUL in text, and no explanation or name needs it.
    if "\x00" in text:
        raise ValueError("text contains a NUL character (\\x00); remove it")
    return text


Text = Annotated[str, AfterValidator(_no_nul)]


class ModelOut(Schema):
    id: str = Field(description="the model's id in addresses, e.g. smollm2-135m")
    name: str
    n_layers: int
    d_model: int
    n_sources: int


class SourceOut(Schema):
    id: str = Field(description="the source's id in addresses, e.g. 6-mlp (Neuronpedia's 'layer')")
    model: str
    kind: str = Field(description="neurons, sae, ...")
    hook_name: str
    n_features: int
    status: str = Field(description="building or ready")
    corpus: str
    n_tokens: int
    density_threshold: str


class ScoreOut(Schema):
    scorer: str
    version: str
    value: float | None
    status: str = Field(description="ok, pending or failed")
    error: str


class ExplanationOut(Schema):
    id: int
    model: str
    source: str
    index: int
    text: str
    method: str = Field(description="human, token-list, local-lm, llm:<model>, ...")
    author: str = Field(description="a person's name, or the method that wrote it")
    ups: int
    downs: int
    score: float | None = Field(description="the default scorer's score, when it has one")
    scores: list[ScoreOut]
    created: datetime


class BestExplanation(Schema):
    id: int
    text: str
    score: float | None
    ups: int


class FeatureRow(Schema):
    index: int
    max_act: float
    min_act: float
    density: float = Field(description="fraction of tokens where the feature is active")
    best_explanation: BestExplanation | None
    url: str = Field(description="the feature's page on this site")


class ExplanationIn(Schema):
    text: Text = Field(description="what the feature responds to, in a few words (3 to 500 characters)")


class SubmitOut(Schema):
    outcome: Literal["new", "duplicate"] = Field(
        description="new: stored and scored; duplicate: it nearly repeats an existing explanation, which got "
                    "your upvote instead (as on the site)")
    message: str
    points: int = Field(description="game points earned")
    new_best: bool = Field(description="whether it beat the feature's best score")
    explanation: ExplanationOut


class VoteIn(Schema):
    value: Literal[1, -1, 0] = Field(description="1 up, -1 down, 0 removes your vote")


class VoteOut(Schema):
    outcome: Literal["new", "changed", "same", "removed", "none"]
    points: int
    explanation: ExplanationOut


class CampaignOut(Schema):
    slug: str
    title: str
    description: str
    model: str | None = Field(description="the model of the campaign's source, if it covers a whole source")
    source: str | None
    starts: datetime | None
    ends: datetime | None
    running: bool
    contest: bool = Field(description="a contest: time-boxed, with its own board (GET /api/contests/{slug})")
    n_features: int
    n_explained: int = Field(description="features with at least one live explanation")
    url: str


class LeaderRow(Schema):
    rank: int = Field(description="players with equal points share a rank")
    name: str
    country: str
    region: str
    points: int
