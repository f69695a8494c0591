"""The embeddable feature card: framable, no form, no cookie, the best explanation and short clues."""

from __future__ import annotations

import pytest
from django.test import Client

from featurepedia.web.explanations.models import Explanation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def test_the_card_shows_the_best_explanation_and_clues_and_can_be_framed_without_cookies(world):
    Explanation.objects.create(feature=world["features"][0], text="cats and kittens", method="token-list")
    response = Client().get("/embed/tiny/1-mlp/0")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response and not response.cookies
    page = response.content.decode()
    assert '<p class="best">cats and kittens</p>' in page and "<form" not in page and "csrfmiddlewaretoken" not in page
    assert 'href="http://testserver/tiny/1-mlp/0"' in page and '<base target="_blank">' in page
    assert page.count('<li class="ctx">') == 3  # of its 6 top clues (one has explicit words)
    assert response["Cache-Control"] == "public, max-age=300"


def test_explicit_clues_are_left_out_unless_asked_for(world):
    # The web tests' world has explicit words in each feature's third top clue.
    shown = Client().get("/embed/tiny/1-mlp/1").content.decode()
    assert "fucking" not in shown
    asked = Client().get("/embed/tiny/1-mlp/1?explicit=1").content.decode()
    assert "fucking" in asked


def test_an_unexplained_feature_invites_an_explanation_and_a_missing_one_is_404(world):
    page = Client().get("/embed/tiny/1-mlp/2").content.decode()
    assert "Not explained yet" in page and "/tiny/1-mlp/2#write" in page
    assert Client().get("/embed/tiny/1-mlp/99").status_code == 404
    assert Client().post("/embed/tiny/1-mlp/2").status_code == 405


def test_the_feature_page_gives_the_code_to_embed_its_card(world):
    page = Client().get("/tiny/1-mlp/0").content.decode()
    assert "Embed this card on another site" in page
    assert "&lt;iframe src=&quot;http://testserver/embed/tiny/1-mlp/0&quot;" in page
