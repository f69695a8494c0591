"""A catalog whose model is the pool's tiny Llama, so the live pages run real inference on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from featurepedia.web.catalog.models import Feature, LanguageModel, Source
from featurepedia.web.explanations.models import Explanation
from tests.web.conftest import TOPICS, make_feature

MODEL = "tiny-llama"
SOURCE = "1-mlp"


def make_live_world() -> dict[str, object]:
    """tiny-llama/1-mlp (its 128 neurons) with features 0-2 in the catalog, 0 and 1 explained."""
    lm = LanguageModel.objects.create(slug=MODEL, name="Tiny Llama")
    source = Source.objects.create(model=lm, slug=SOURCE, kind="neurons", hook_name="blocks.1.mlp.hook_post",
                                   n_features=128, status="ready", density_threshold="> 10% of max",
                                   config={"source": {"nonnegative": False},
                                           "config": {"active_fraction": 0.1, "contexts": {"prepend_bos": True}}})
    features = [make_feature(source, i, words) for i, words in TOPICS.items()]
    # The live values of a random tiny model are small: a max_act of their size gives visible shading.
    Feature.objects.filter(source=source).update(max_act=0.05, hist_lo=-0.05, hist_hi=0.05)
    for f in features[:2]:
        Explanation.objects.create(feature=f, text=f"explained feature {f.index}", method="token-list")
    return {"source": source, "features": features}


@pytest.fixture
def live_client() -> Iterator[None]:
    """A fresh in-process inference client for the test, closed after it (no worker thread left over)."""
    from featurepedia.inference.client import reset_client

    reset_client()
    yield
    reset_client()
