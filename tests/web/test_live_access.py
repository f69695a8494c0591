"""What live inference may touch, read from the catalog: stored models, SAE folders, dense features."""

from __future__ import annotations

import pytest

from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.live.access import dense_features, stored_model, stored_source_path

pytestmark = pytest.mark.django_db


def test_only_stored_models_are_served(world):
    assert stored_model("tiny") and not stored_model("HuggingFaceTB/SmolLM2-135M") and not stored_model("/tmp")


def test_an_sae_source_names_the_folder_it_was_built_from(world):
    model = world["source"].model
    Source.objects.create(model=model, slug="1-res-sae", kind="sae", hook_name="blocks.1.hook_resid_post",
                          n_features=8, config={"config": {"sae_path": "/weights/sae-1"}})
    assert stored_source_path("tiny", "1-res-sae") == "/weights/sae-1"
    assert stored_source_path("tiny", "1-mlp") is None and stored_source_path("tiny", "9-nope") is None


def test_features_denser_than_the_threshold_are_left_out(world):
    Feature.objects.filter(source=world["source"], index=2).update(density=0.4)
    assert dense_features("tiny", "1-mlp", 0.1) == [2]
    assert dense_features("tiny", "1-mlp", 0.5) == [] and dense_features("tiny", "1-mlp", None) == []
