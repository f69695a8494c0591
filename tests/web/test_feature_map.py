"""The feature map: UMAP keeps planted clusters of directions together, deterministically; `featurepedia
map` stores a real source's layout (the tiny GPT-2's neurons); the page and its data; the demo's step."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client

from featurepedia.cli import main
from featurepedia.errors import UsageError
from featurepedia.maps import MapParams, layout
from featurepedia.web.catalog.models import Feature, SourceMap
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from tests.web.test_api_live import make_tiny_catalog

pytestmark = [pytest.mark.usefixtures("fresh_cache")]


def planted(n_clusters: int = 3, per: int = 40, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per)
    return centres[labels] + 0.15 * rng.normal(size=(len(labels), dim)), labels


def test_the_layout_keeps_planted_clusters_together_and_is_deterministic():
    x, labels = planted()
    x[5] = 0.0  # a dead feature
    coords = layout(x, MapParams(n_neighbors=10, seed=3))
    assert coords.shape == (len(x), 2) and coords.min() >= 0 and coords.max() <= 1
    assert tuple(coords[5]) == (0.5, 0.5)
    alive = np.arange(len(x)) != 5
    pts, lab = coords[alive], labels[alive]
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    same = (lab[d.argmin(axis=1)] == lab).mean()
    assert same >= 0.97, f"only {same:.2f} of points have a nearest map neighbour from their own cluster"
    np.testing.assert_array_equal(coords, layout(x, MapParams(n_neighbors=10, seed=3)))


def test_bad_parameters_say_what_to_change():
    x, _ = planted(per=4)
    with pytest.raises(UsageError, match="--neighbors must be between 2 and"):
        layout(x, MapParams(n_neighbors=50))
    with pytest.raises(UsageError, match="at least 4 features"):
        layout(x[:3])
    with pytest.raises(UsageError, match="--min-dist"):
        layout(x, MapParams(n_neighbors=5, min_dist=2))


@pytest.mark.django_db(transaction=True)
def test_the_map_command_stores_the_layout_and_the_page_draws_it(capsys):
    make_tiny_catalog()  # tiny-gpt2: sources 0-mlp and 1-mlp of 256 neurons, features 0-3 stored
    assert Client().get("/tiny-gpt2/0-mlp/map").content.decode().count("featurepedia map --model tiny-gpt2") == 1
    assert main(["map", "--model", "tiny-gpt2", "--source", "0-mlp", "--neighbors", "8"]) == 0
    assert "mapped 256 features of tiny-gpt2/0-mlp" in capsys.readouterr().out
    stored = SourceMap.objects.get(source__slug="0-mlp")
    assert len(stored.x) == 256 and stored.params["n_neighbors"] == 8 and stored.params["method"] == "umap"
    feature = Feature.objects.get(source__slug="0-mlp", index=2)
    e = Explanation.objects.create(feature=feature, text="the word <b>after</b> a comma", method="human")
    ExplanationScore.objects.create(explanation=e, scorer=DEFAULT_SCORER, value=0.8125,
                                    status=ExplanationScore.Status.OK)
    page = Client().get("/tiny-gpt2/0-mlp/map").content.decode()
    assert 'data-src="/tiny-gpt2/0-mlp/map.json"' in page and "map.js" in page and "<script>" not in page
    data = Client().get("/tiny-gpt2/0-mlp/map.json").json()
    # points only for the stored features, at their stored coordinates, with density and best score
    assert [p[0] for p in data["points"]] == [0, 1, 2, 3]
    assert data["points"][2][1:3] == [stored.x[2], stored.y[2]] and data["points"][2][4] == 0.8125
    assert data["points"][0][3] == 0.5 and data["points"][0][4] is None
    assert data["labels"] == {"2": "the word <b>after</b> a comma"}
    assert 'href="/tiny-gpt2/0-mlp/map"' in Client().get("/tiny-gpt2/0-mlp/").content.decode()
    missing = Client().get("/tiny-gpt2/1-mlp/map.json")
    assert missing.status_code == 404 and "featurepedia map --model tiny-gpt2 --source 1-mlp" in missing.json()["error"]
    assert Client().get("/tiny-gpt2/nope/map").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_demo_maps_its_built_sources_once(monkeypatch):
    from featurepedia.web import demo

    make_tiny_catalog()
    monkeypatch.setattr(demo, "source_built", lambda model_id, source_id: source_id == "0-mlp")
    said: list[str] = []
    demo.make_maps("tiny-gpt2", ["0-mlp", "1-mlp"], said.append)
    assert SourceMap.objects.filter(source__slug="0-mlp").exists() and not SourceMap.objects.filter(
        source__slug="1-mlp").exists()
    assert said and said[0].startswith("mapped the features of tiny-gpt2/0-mlp in ")
    demo.make_maps("tiny-gpt2", ["0-mlp"], said.append)
    assert len(said) == 1  # already mapped: nothing to do
