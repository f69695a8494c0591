"""A small hand-made world for the web tests: one source, a few features with clues, a campaign, players.

Hand-made (not built from a model) so the clues are known: one feature fires on cats, one on numbers, and
the clues include HTML/JS and real profanity to check escaping and the explicit filter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from featurepedia.web.catalog.models import ActivationExample, Feature, LanguageModel, Source
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game.models import Campaign

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'

TOPICS = {
    0: ["cat", "cats", "kitten", "cat", "tabby", "cat"],
    1: ["42", "7", "1999", "3", "100", "12"],
    2: ["Paris", "London", "Rome", "Berlin", "Madrid", "Oslo"],
}
FILLER = ["The", " old", " house", " stood", " by", " the", " river", " all", " day"]


def _tokens(word: str, extra: list[str] | None = None) -> tuple[list[str], list[float]]:
    tokens = ["<s>", *FILLER[:4], f" {word}", *(extra or []), *FILLER[4:]]
    values = [0.0] * len(tokens)
    values[5] = 1.0
    return tokens, values


def make_feature(source: Source, index: int, words: list[str]) -> Feature:
    feature = Feature.objects.create(source=source, index=index, max_act=1.0, density=0.01,
                                     hist_counts=[5, 3, 1], hist_lo=0.0, hist_hi=1.0,
                                     top_logits=[[" meow", 1.2]], bottom_logits=[[" dog", -1.0]],
                                     neighbours=[[(index + 1) % 3, 0.5]])
    rows = []
    for rank, word in enumerate(words):
        extra = [f" {HOSTILE}"] if rank == 1 else ([" fucking", " hell"] if rank == 2 else None)
        tokens, values = _tokens(word, extra)
        rows.append(ActivationExample(feature=feature, bin="top", rank=rank, tokens=tokens,
                                      token_ids=list(range(len(tokens))), values=values, max_value=1.0,
                                      max_index=5))
    for rank, word in enumerate(words[:3]):
        tokens, values = _tokens(word)
        values = [v * 0.5 for v in values]
        rows.append(ActivationExample(feature=feature, bin="q1", rank=rank, tokens=tokens,
                                      token_ids=list(range(len(tokens))), values=values, max_value=0.5, max_index=5))
    for rank in range(4):
        tokens = ["<s>", *FILLER]
        rows.append(ActivationExample(feature=feature, bin="negative", rank=rank, tokens=tokens,
                                      token_ids=list(range(len(tokens))), values=[0.0] * len(tokens)))
    ActivationExample.objects.bulk_create(rows)
    return feature


def make_world(explain: Callable[[list[str]], list[str]] | None = None, method: str | None = None) -> dict[str, Any]:
    """A source 'tiny/1-mlp' with 3 features (cats, numbers, cities) and a running campaign over it;
    ``explain(words)`` gives each feature's explanations, if any, by ``method`` (default ``m0``, ``m1``, ...)."""
    lm = LanguageModel.objects.create(slug="tiny", name="Tiny")
    source = Source.objects.create(model=lm, slug="1-mlp", kind="neurons", hook_name="blocks.1.mlp.hook_post",
                                   n_features=3, status="ready", density_threshold="> 10% of max",
                                   config={"source": {"nonnegative": False},
                                           "config": {"active_fraction": 0.1, "contexts": {"prepend_bos": True}}})
    features = [make_feature(source, i, words) for i, words in TOPICS.items()]
    for f, words in zip(features, TOPICS.values(), strict=True):
        for j, text in enumerate(explain(words) if explain else []):
            Explanation.objects.create(feature=f, text=text, method=method or f"m{j}")
    campaign = Campaign.objects.create(slug="tiny-1", title="Explain tiny layer 1", source=source)
    return {"source": source, "features": features, "campaign": campaign}


@pytest.fixture
def world(db):
    """The world of make_world, unexplained."""
    return make_world()


@pytest.fixture
def make_user(db, django_user_model):
    def make(name: str = "alice", **profile: object) -> Any:
        user = django_user_model.objects.create_user(username=name, email=f"{name}@example.org", password="pw-123456!")
        if profile:
            type(user.profile).objects.filter(user=user).update(**profile)
            user.refresh_from_db()
        return user
    return make


@pytest.fixture
def no_embeddings(monkeypatch):
    """Near-duplicate checks without the sentence model: nothing is similar by meaning."""
    import zlib

    import numpy as np

    def embed(texts: list[str]) -> np.ndarray:
        # A fixed random unit vector per text: different texts are nearly orthogonal in 384 dimensions
        # (|cosine| well under 0.3), whichever call embeds them, and the same text always gets the same one.
        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 384)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)

    monkeypatch.setattr("featurepedia.web.explanations.scoring.embed_texts", embed)


@pytest.fixture
def fresh_cache():
    """An empty cache, so API rate-limit counters start at zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_key(make_user):
    """A factory: (user, key) with an active API key for a new player."""
    from featurepedia.web.accounts.keys import create_key

    def make(name: str = "keyholder"):  # type: ignore[no-untyped-def]
        user = make_user(name)
        return user, create_key(user, "tests")[1]
    return make
