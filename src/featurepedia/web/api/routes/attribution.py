"""Our token attribution route: which tokens of a text make a feature fire at one of its tokens.

``POST /api/attribution`` (Neuronpedia has no such route; the request names fields as its live routes do).
Definitions in docs/inference.md: ablation zeroes one token's input embedding at a time, gradient x input
is its first-order estimate.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router

from featurepedia.inference.queries import AttributionQuery
from featurepedia.web.api.live import LiveBody, clean_text, feature_index, inference
from featurepedia.web.api.live_schemas import AttributionOut
from featurepedia.web.api.lookup import get_source

router = Router(tags=["Live inference"])


class AttributionBody(LiveBody):
    modelId: str
    source: str
    index: int | str
    text: str
    position: int = Field(description="the token position explained (0 = BOS; the first text token is 1)")
    method: Literal["ablation", "gradient_x_input"] = "ablation"


@router.post("/attribution", response=AttributionOut, summary="Token attribution",
             description="For each token, the feature's activation at `position` minus its activation with that "
                         "token removed (`ablation`), or the gradient-times-input estimate of it. Tokens after "
                         "`position` cannot change it and are 0.")
def attribution(request: HttpRequest, body: AttributionBody) -> dict[str, object]:
    src = get_source(body.modelId, body.source)
    index = feature_index(src, body.index)
    found = inference().attribution(AttributionQuery(body.modelId, src.slug, index, clean_text(body.text),
                                                     body.position, method=body.method))
    return {"modelId": body.modelId, "source": found.source_id, "index": found.index, "position": found.target,
            "method": found.method, "tokens": [t.text for t in found.tokens], "tokenIds": found.token_ids,
            "activation": found.activation, "attributions": found.attributions, "positions": found.positions}
