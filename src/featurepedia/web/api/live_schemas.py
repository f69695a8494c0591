"""The live routes' answers as schemas (for the OpenAPI document; field names as Neuronpedia's)."""

from __future__ import annotations

from ninja import Field, Schema


class FeatureIds(Schema):
    modelId: str
    layer: str = Field(description="the source id (Neuronpedia's name)")
    source: str = Field(description="the source id again (what Neuronpedia's client reads)")
    index: int


class LiveActivation(FeatureIds):
    tokens: list[str]
    tokenIds: list[int]
    values: list[float] = Field(description="one per token; 0 at BOS")
    maxValue: float
    maxValueTokenIndex: int
    minValue: float
    minValueTokenIndex: int


class ActiveFeature(FeatureIds):
    values: list[float]
    maxValue: float
    maxValueTokenIndex: int


class SourceResult(Schema):
    tokens: list[str]
    activeFeatures: list[ActiveFeature]


class SourceActivations(Schema):
    results: list[SourceResult]


class ExplanationSummary(FeatureIds):
    id: str
    description: str
    typeName: str


class FeatureSummary(FeatureIds):
    frac_nonzero: float
    maxActApprox: float
    explanations: list[ExplanationSummary] = Field(description="the best explanation, if any")


class SearchHit(FeatureIds):
    values: list[float]
    maxValue: float
    maxValueIndex: int
    neuron: FeatureSummary | None = Field(description="the stored feature with its best explanation, if stored")


class SearchResult(Schema):
    tokens: list[str]
    sortIndexes: list[int]
    result: list[SearchHit]


class SearchResults(Schema):
    results: list[SearchResult] = Field(description="one per text, for a list of texts")


class TopKFeature(Schema):
    featureIndex: int
    activationValue: float
    feature: FeatureSummary | None


class TokenTopK(Schema):
    position: int
    token: str
    isSpecial: bool
    topFeatures: list[TopKFeature]


class TopKResult(Schema):
    source: str
    tokens: list[str]
    results: list[TokenTopK]


class TopKResults(Schema):
    source: str
    results: list[TopKResult] = Field(description="one per text, for a list of texts")


class Logprob(Schema):
    token: str
    tokenId: int
    logprob: float


class TokenLogprob(Logprob):
    topLogprobs: list[Logprob]


class SteerCommon(Schema):
    steeredLogProbs: list[TokenLogprob] | None
    defaultLogProbs: list[TokenLogprob] | None
    id: str = Field(description="a digest of the settings (nothing is stored)")
    shareUrl: str = Field(description="the steering page with these settings")


class Steered(SteerCommon):
    STEERED: str = Field(description="prompt and steered continuation")
    DEFAULT: str = Field(description="prompt and default continuation")


class ChatMessageOut(Schema):
    role: str
    content: str


class ChatResult(Schema):
    chat_template: list[ChatMessageOut] = Field(description="the conversation with the reply appended")
    raw: str


class SteeredChat(SteerCommon):
    STEERED: ChatResult
    DEFAULT: ChatResult


class AttributionOut(Schema):
    modelId: str
    source: str
    index: int
    position: int
    method: str
    tokens: list[str]
    tokenIds: list[int]
    activation: float = Field(description="the feature's activation at `position`")
    attributions: list[float] = Field(description="one per token")
    positions: list[int] = Field(description="the tokens computed")
