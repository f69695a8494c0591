"""Queries and results to JSON and back: exact round trips, and decoding errors that name the field."""

from __future__ import annotations

import json

import pytest

from featurepedia.errors import UsageError
from featurepedia.inference import Sampling, TokenTopK, TopKByToken
from featurepedia.inference.queries import SteerChatQuery, SteeredFeature, SteerQuery, TopFeaturesQuery
from featurepedia.inference.wire import from_wire, to_wire
from featurepedia.lm.tokens import TokenText


def _round_trip(obj):
    return from_wire(type(obj), json.loads(json.dumps(to_wire(obj))))


def test_round_trips_are_exact():
    query = SteerQuery("m", [1, 2, 3], [SteeredFeature("6-mlp", 4, 0.1 + 0.2)], Sampling(n_tokens=3, seed=7))
    assert _round_trip(query) == query
    chat = SteerChatQuery("m", [{"role": "user", "content": "héllo"}], [], default_messages=None)
    assert _round_trip(chat) == chat
    tokens = [TokenText("a"), TokenText("<s>", "special", True)]
    result = TopKByToken("6-mlp", [1, 2], tokens, [TokenTopK(1, tokens[1], True, [(3, 1 / 3), (0, -0.0)])])
    back = _round_trip(result)
    assert back == result and back.positions[0].features[0] == (3, 1 / 3)  # tuples come back as tuples


@pytest.mark.parametrize(("data", "says"), [
    ({"model": "m", "sources": "6-mlp", "text": "a"}, "request.sources must be a list; got '6-mlp'"),
    ({"model": "m", "sources": ["6-mlp"], "text": 5}, "request.text must be a string or a list; got 5"),
    ({"model": "m", "sources": ["6-mlp"], "text": "a", "num_results": True}, "num_results must be an integer"),
    ({"model": "m", "sources": ["6-mlp"], "text": "a", "exclude": {"6-mlp": [1.5]}},
     "request.exclude['6-mlp'][0] must be an integer"),
    ({"model": "m", "sources": ["6-mlp"]}, "missing the field 'text'"),
    ({"model": "m", "sources": ["6-mlp"], "text": [1, "a"]}, "request.text[1] must be an integer"),
    ({"model": "m", "sources": ["6-mlp"], "text": "a", "sort_indexes": 3}, "must be a list or null; got 3"),
])
def test_decoding_errors_name_the_field(data, says):
    with pytest.raises(UsageError) as err:
        from_wire(TopFeaturesQuery, data)
    assert says in str(err.value)


def test_numbers_may_be_integers_where_floats_are_expected():
    query = from_wire(SteerQuery, {"model": "m", "prompt": "a", "features": [{"source": "6-mlp", "index": 1,
                                                                             "strength": 2}]})
    assert query.features[0].strength == 2.0 and isinstance(query.features[0].strength, float)
    assert query.sampling == Sampling()
