"""Rescoring after the default scorer changes version: resumable, points kept, the best marker follows."""

from __future__ import annotations

import pytest

from featurepedia.cli import main as cli
from featurepedia.interp import get_scorer
from featurepedia.web.explanations.batch import is_older, pending_explanations, score_pending
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER, score_explanation
from featurepedia.web.explanations.services import best_explanations, best_score
from featurepedia.web.game.models import PlayEvent
from tests.web.test_scoring import planted_feature

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("stored", "current", "older"), [
    ("1", "2", True), ("2", "10", True), ("10", "2", False), ("2", "2", False), ("1.9", "1.10", True),
    ("", "1", True), ("beta", "1", True), ("x", "x", False),
])
def test_is_older(stored, current, older):
    assert is_older(stored, current) is older


def _scored(feature, texts):
    out = []
    for text in texts:
        e = Explanation.objects.create(feature=feature, text=text, method="human")
        assert score_explanation(e).status == "ok"
        out.append(e)
    return out


def test_rescore_recomputes_only_older_versions_keeps_points_and_moves_the_best(make_user):
    feature = planted_feature()
    good, bad = _scored(feature, ["animal names such as cat and dog", "mentions of money and trains"])
    current = get_scorer(DEFAULT_SCORER).version
    # As if an older version of the scorer had ranked the wrong explanation first and paid its author.
    ExplanationScore.objects.filter(explanation=bad).update(version="0", value=0.99)
    ExplanationScore.objects.filter(explanation=good).update(version="0", value=0.10)
    player = make_user("p")
    PlayEvent.objects.create(user=player, feature=feature, explanation=bad, action=PlayEvent.Action.BEST, points=10)
    assert best_explanations([feature.pk])[feature.pk] == bad

    features = feature.source.features.filter(pk=feature.pk)
    assert set(pending_explanations(features)) == set()  # a plain run skips what has a score
    assert set(pending_explanations(features, rescore=True)) == {good, bad}
    assert score_pending(features, rescore=True) == (2, 0)
    rows = {r.explanation_id: r for r in ExplanationScore.objects.filter(scorer=DEFAULT_SCORER)}
    assert rows[good.pk].version == rows[bad.pk].version == current
    assert rows[good.pk].value > rows[bad.pk].value
    assert best_explanations([feature.pk])[feature.pk] == good and best_score(feature) == rows[good.pk].value
    assert PlayEvent.objects.get(explanation=bad).points == 10  # points already earned stay
    assert score_pending(features, rescore=True) == (0, 0)  # resumable: nothing older is left


def test_an_interrupted_rescore_resumes_where_it_stopped():
    feature = planted_feature()
    first, second = _scored(feature, ["animals", "animal names"])
    ExplanationScore.objects.update(version="0")
    ExplanationScore.objects.filter(explanation=first).update(version=get_scorer(DEFAULT_SCORER).version)  # done
    features = feature.source.features.filter(pk=feature.pk)
    assert list(pending_explanations(features, rescore=True)) == [second]
    assert score_pending(features, force=True) == (2, 0)  # --force recomputes all, whatever the version


def test_cli_rescore(capsys):
    feature = planted_feature()
    (e,) = _scored(feature, ["animals such as cats"])
    ExplanationScore.objects.filter(explanation=e).update(version="0")
    assert cli(["score", "--model", "planted", "--source", "0-res-sae", "--quiet"]) == 0
    assert "scored 0 explanations" in capsys.readouterr().out
    assert cli(["score", "--model", "planted", "--source", "0-res-sae", "--rescore", "--quiet"]) == 0
    assert "scored 1 explanations" in capsys.readouterr().out
    assert ExplanationScore.objects.get(explanation=e).version == get_scorer(DEFAULT_SCORER).version
