"""The data the kill and load tests play on: the web tests' world, more features, explanations to vote on,
and signed-in players (session cookies made here, valid in every web process: sessions live in the database).
"""

from __future__ import annotations

from typing import Any

from django.test import Client

from featurepedia.web.explanations.models import Explanation
from tests.web.conftest import TOPICS, make_feature


def load_world(world: dict[str, Any], make_user, players: int, features: int = 10) -> dict[str, Any]:
    """Adds features (to ``features``), two explanations each, and ``players`` players with session cookies."""
    source = world["source"]
    words = list(TOPICS.values())
    for index in range(len(world["features"]), features):
        world["features"].append(make_feature(source, index, words[index % len(words)]))
    source.n_features = features
    source.save(update_fields=["n_features"])
    author = make_user("seed-author")
    for f in world["features"]:
        Explanation.objects.create(feature=f, text=f"the words of topic {f.index}", author=author)
        Explanation.objects.create(feature=f, text=f"a guess about feature {f.index}", author=None,
                                   method="token-list")
    users, cookies = {}, {}
    for i in range(players):
        name = f"player{i}"
        user = make_user(name, confirmed_first_vote=True, blind_mode=False, onboarded=True)
        client = Client()
        client.force_login(user)
        users[name], cookies[name] = user, client.cookies["sessionid"].value
    return {"users": users, "cookies": cookies, "campaign": world["campaign"].slug,
            "feature_ids": [f.pk for f in world["features"]]}
