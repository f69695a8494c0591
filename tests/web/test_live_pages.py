"""The live pages on the pool's tiny Llama: test your own text, attribution, search by text, steering."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import unquote

import pytest
from django.urls import reverse

from featurepedia.inference.activations import activations
from featurepedia.inference.attribution import ablation_attribution
from featurepedia.inference.service import QueueFullError
from featurepedia.inference.top_features import top_features
from featurepedia.lm.pool import get_model
from featurepedia.sources.neurons import NeuronSource
from tests.web.live_world import MODEL, SOURCE, live_client, make_live_world  # noqa: F401  (fixture)

# Committed rows: the inference worker thread reads the catalog (where a source's weights are) through its
# own database connection, which cannot see a test transaction's rows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_client")]

TEXT = "The cat sat on the mat and looked at the dog."


@pytest.fixture
def live():
    return make_live_world()


@pytest.fixture
def neurons():
    return NeuronSource(get_model(MODEL), 1)


def _titles(html: str, tag: str) -> list[str]:
    return [unescape(t) for t in re.findall(rf'<{tag} [^>]*class="tok[^"]*"[^>]*title="([^"]*)"', html)]


def test_each_page_renders_for_a_visitor_and_is_linked(client, live):
    home = client.get("/").content.decode()
    assert 'href="/search/"' in home and 'href="/steer/"' in home
    page = client.get(reverse("feature", args=[MODEL, SOURCE, 0])).content.decode()
    assert "Test your own text" in page and 'maxlength="10000"' in page
    assert "/steer/?model=tiny-llama&amp;features=1-mlp:0:0.25" in page
    assert client.get("/search/").status_code == 200 and client.get("/steer/").status_code == 200


def test_your_text_shows_the_values_the_model_gives(client, live, neurons):
    response = client.post(reverse("live-test", args=[MODEL, SOURCE, 1]), {"text": TEXT})
    html = response.content.decode()
    (direct,) = activations(get_model(MODEL), neurons, [1], [TEXT])
    values = direct.features[0]
    assert float(re.search(r'data-hist-mark="([^"]+)"', html).group(1)) == pytest.approx(values.max_value, abs=1e-7)
    titles = _titles(html, "button")
    assert len(titles) == len(direct.tokens) - 1  # BOS is not shown, as on the clues
    shown = [float(t.rsplit("  ", 1)[1].split(" ")[0]) for t in titles]
    assert shown == pytest.approx(values.values[1:], rel=1e-3, abs=1e-6)
    levels = [int(a or 0) for a in re.findall(r'class="tok(?: a(\d+))?[^"]*" name="target"', html)]
    assert levels == [round(max(0.0, min(1.0, v / 0.05)) * 20) for v in values.values[1:]]
    assert max(levels) > 0


def test_clicking_a_token_shows_what_makes_it_fire(client, live, neurons):
    target = 6
    html = client.post(reverse("live-attribution", args=[MODEL, SOURCE, 1]),
                       {"text": TEXT, "target": str(target)}).content.decode()
    direct = ablation_attribution(get_model(MODEL), neurons, 1, TEXT, target)
    assert "What makes it fire at" in html and f"{direct.activation:.4f}"[:6] in html
    spans = re.findall(r'<span class="(tok attr[^"]*)"() title="([^"]*)"', html)
    assert len(spans) == len(direct.tokens) - 1
    for (cls, _, _), value in zip(spans[:target - 1], direct.attributions[1:target], strict=True):
        assert ("pos" in cls) == (value > 0) and ("neg" in cls) == (value < 0)
    assert "target" in spans[target - 1][0] and all("after" in cls for cls, _, _ in spans[target:])
    assert "raises" in html and "lowers" in html  # the legend


def test_search_lists_the_top_features_by_max(client, live, neurons):
    html = client.get(reverse("search"), {"text": TEXT, "source": SOURCE}).content.decode()
    direct = top_features(get_model(MODEL), neurons, TEXT, num_results=20)
    shown = [int(i) for i in re.findall(r"1-mlp #(\d+)", html)]
    assert shown == [f.index for f in direct.features]
    maxima = [float(v) for v in re.findall(r"</td>\s*<td>(-?[0-9.]+)</td>", html)]
    assert maxima == sorted(maxima, reverse=True) and len(maxima) == 20
    for f in direct.features:  # catalog features link to their page and show their best explanation
        if f.index in (0, 1):
            assert reverse("feature", args=[MODEL, SOURCE, f.index]) in html and f"explained feature {f.index}" in html


def test_search_of_all_sources_and_top_features_at_a_token(client, live, neurons):
    assert client.get(reverse("search"), {"text": TEXT, "source": "all"}).status_code == 200
    html = client.post(reverse("search-token"), {"text": TEXT, "model": MODEL, "source": "all", "target": "3"})
    direct = top_features(get_model(MODEL), neurons, TEXT, num_results=5, sort_indexes=[3])
    assert [int(i) for i in re.findall(r"1-mlp #(\d+)", html.content.decode())] == [f.index for f in direct.features]


def test_steering_with_strength_zero_gives_the_default_text(client, live):
    html = client.get(reverse("steer"), {"model": MODEL, "prompt": "Hello", "features": f"{SOURCE}:1:0",
                                         "n_tokens": "8", "temperature": "0.7", "seed": "3"}).content.decode()
    steered, default = re.findall(r'<p class="gen-text"><span class="prompt">Hello</span>(.*?)</p>', html, re.S)
    assert steered == default and steered
    assert "explained feature 1" in html and 'value="8"' in html


def test_a_strong_push_changes_the_text_and_the_address_is_the_share_link(client, live):
    params = {"model": MODEL, "prompt": "Hello", "features": f"{SOURCE}:1:50", "n_tokens": "8", "temperature": "0"}
    html = client.get(reverse("steer"), params).content.decode()
    steered, default = re.findall(r'<p class="gen-text"><span class="prompt">Hello</span>(.*?)</p>', html, re.S)
    assert steered != default
    assert "features=1-mlp:1:50" in unquote(re.search(r'id="share"[^>]*value="([^"]*)"', html).group(1))


def test_the_form_rows_become_the_features_parameter(client, live):
    response = client.get(reverse("steer") + "?model=tiny-llama&prompt=Hi&source=1-mlp&index=2&strength=4"
                          "&source=1-mlp&index=0&strength=1&remove=1&source=1-mlp&index=&strength=")
    assert response.status_code == 302
    assert response.url == "/steer/?model=tiny-llama&prompt=Hi&features=1-mlp:2:4"


@pytest.mark.parametrize(("params", "message"), [
    ({"features": "1-mlp:999:5"}, "out of range"),
    ({"features": "1-mlp:x:5"}, "must be a whole number"),
    ({"features": "nonsense"}, "is not source:index:strength"),
    ({"features": "1-mlp:1:5", "temperature": "9"}, "temperature is 9"),
    ({"features": "1-mlp:1:5", "prompt": "x" * 10_001}, "the limit is 10,000"),
    ({"features": ""}, "Add a feature"),
])
def test_steering_errors_are_messages_in_the_page(client, live, params, message):
    response = client.get(reverse("steer"), {"model": MODEL, "prompt": "Hello", "n_tokens": "4", **params})
    assert response.status_code == 400
    assert message in unescape(response.content.decode()) and 'role="alert"' in response.content.decode()


def test_text_errors_are_messages_in_the_box(client, live):
    url = reverse("live-test", args=[MODEL, SOURCE, 1])
    too_long = client.post(url, {"text": "x" * 10_001})
    assert too_long.status_code == 200  # htmx swaps only 2xx answers in
    assert "the text is 10,001 characters; the limit is 10,000" in too_long.content.decode()
    assert "the text is empty" in client.post(url, {"text": ""}).content.decode()
    assert client.post(reverse("live-test", args=[MODEL, SOURCE, 77]), {"text": "hi"}).status_code == 404
    unknown = client.get(reverse("search"), {"text": "hi", "source": "9-mlp"})
    assert unknown.status_code == 400 and "not a built source" in unescape(unknown.content.decode())


def test_a_full_queue_is_a_message_with_retry_after(client, live, monkeypatch):
    class Busy:
        def activations(self, query):
            raise QueueFullError("the inference queue of tiny-llama is full (32 waiting); retry in 4 s",
                                 retry_after=4)

        top_features = activations

    monkeypatch.setattr("featurepedia.web.live.access.client", lambda: Busy())
    partial = client.post(reverse("live-test", args=[MODEL, SOURCE, 1]), {"text": "hi"})
    assert "queue of tiny-llama is full" in partial.content.decode() and partial["Retry-After"] == "4"
    page = client.get(reverse("search"), {"text": "hi"})
    assert page.status_code == 503 and "retry in 4 s" in page.content.decode()


def test_a_model_that_cannot_be_loaded_is_a_message(client, world):
    response = client.post(reverse("live-test", args=["tiny", "1-mlp", 0]), {"text": "hi"})
    assert response.status_code == 200 and "unknown model &#x27;tiny&#x27;" in response.content.decode()
