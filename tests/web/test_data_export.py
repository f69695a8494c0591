"""Exports round-trip: every table read back with pyarrow and with ``datasets`` equals the database rows, and
no private field of a person leaves the site."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq
import pytest
import yaml

from featurepedia.cli import main
from featurepedia.errors import FeaturepediaError
from featurepedia.web.catalog.models import ActivationExample
from featurepedia.web.data_io.export import (
    build_tables,
    export_data,
    scope_for_campaign,
    scope_for_source,
    utc,
)
from featurepedia.web.data_io.people import anonymous_id
from featurepedia.web.data_io.tables import TABLES
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.game.models import (
    Campaign,
    Comparison,
    DailyPuzzle,
    OddOneAnswer,
    OddOneRound,
    Prediction,
)


@pytest.fixture
def played(world, make_user):
    """The tiny world with two players (one named), explanations, votes and every kind of answer."""
    cats, numbers = world["features"][0], world["features"][1]
    named = make_user("alice", display_name="Alice A.")
    unnamed = make_user("bob")
    campaign = world["campaign"]
    human = Explanation.objects.create(feature=cats, text="cats and kittens", author=named)
    anon = Explanation.objects.create(feature=cats, text="small pets", author=unnamed)
    auto = Explanation.objects.create(feature=cats, text="cat, cats, kitten", method="token-list")
    hidden = Explanation.objects.create(feature=numbers, text="spam spam", author=unnamed, status="hidden")
    Vote.objects.create(user=unnamed, explanation=human, value=1)
    Vote.objects.create(user=named, explanation=anon, value=-1)
    Vote.objects.create(user=named, explanation=hidden, value=1)
    ExplanationScore.objects.create(explanation=auto, scorer="embedding", version="2", value=0.61, status="ok",
                                    details={"k": 3})
    ExplanationScore.objects.create(explanation=hidden, scorer="embedding", version="2", value=0.1, status="ok")
    Comparison.objects.create(user=named, feature=cats, first=human, second=anon, choice="first", campaign=campaign)
    Comparison.objects.create(visitor="tok-123", feature=cats, first=anon, second=auto, choice="both-bad")
    rnd = OddOneRound.objects.create(feature=cats, odd=2, intruder="not-firing",
                                     snippets=[{"tokens": ["a", " cat"], "mark": 1}, {"tokens": [" kitten"], "mark": 0},
                                               {"tokens": [" river"], "mark": 0}])
    OddOneAnswer.objects.create(user=unnamed, round=rnd, feature=cats, pick=2, found=True, campaign=campaign)
    OddOneAnswer.objects.create(visitor="tok-9", round=rnd, feature=cats, pick=None, found=False)
    example = ActivationExample.objects.filter(feature=cats, bin="top").order_by("rank").first()
    assert example is not None
    daily = DailyPuzzle.objects.create(campaign=campaign, date=date(2026, 12, 1), feature=cats, explanation=human)
    Prediction.objects.create(explanation=human, feature=cats, user=named, campaign=campaign,
                              texts=[{"example": example.pk, "start": 4, "length": 3}],
                              marks=[[0.0, 10.0, 2.0]], truth=[[0.0, 1.0, 0.0]], score=0.9)
    Prediction.objects.create(explanation=human, feature=cats, visitor="tok-9", daily=daily, campaign=campaign,
                              texts=[{"example": example.pk, "start": 0, "length": 2}],
                              marks=[[1.0, 0.0]], truth=[[0.0, 0.0]], score=0.0)
    return {**world, "named": named, "unnamed": unnamed, "human": human, "anon": anon, "auto": auto,
            "hidden": hidden, "example": example}


def _expected(p) -> dict[str, list[dict]]:
    """The rows each table must hold, written from the database rows independently of the exporter."""
    alice, bob = "Alice A.", anonymous_id("user", str(p["unnamed"].pk))
    ex = p["example"]
    live = [p["human"], p["anon"], p["auto"]]
    src = "tiny/1-mlp"
    return {
        "explanations": [{"explanation_id": e.pk, "source": src, "feature_index": e.feature.index, "text": e.text,
                          "method": e.method, "author": {p["human"].pk: alice, p["anon"].pk: bob}.get(e.pk, ""),
                          "status": e.status, "created": utc(e.created)} for e in live],
        "votes": [{"explanation_id": v.explanation_id, "source": src, "feature_index": 0,
                   "player": alice if v.user_id == p["named"].pk else bob, "value": v.value, "created": utc(v.created)}
                  for v in Vote.objects.exclude(explanation=p["hidden"]).order_by("pk")],
        "comparisons": [{"comparison_id": c.pk, "source": src, "feature_index": 0, "first_explanation_id": c.first_id,
                         "second_explanation_id": c.second_id, "choice": c.choice,
                         "player": alice if c.user_id else anonymous_id("visitor", "tok-123"),
                         "campaign": "tiny-1" if c.campaign_id else "", "created": utc(c.created)}
                        for c in Comparison.objects.order_by("pk")],
        "odd_one_answers": [{"answer_id": a.pk, "source": src, "feature_index": 0, "round_id": a.round_id,
                             "snippets": a.round.snippets, "odd": 2, "intruder": "not-firing", "pick": a.pick,
                             "found": a.found, "player": bob if a.user_id else anonymous_id("visitor", "tok-9"),
                             "campaign": "tiny-1" if a.campaign_id else "", "created": utc(a.created)}
                            for a in OddOneAnswer.objects.order_by("pk")],
        "predictions": [{"prediction_id": r.pk, "explanation_id": r.explanation_id, "source": src, "feature_index": 0,
                         "tokens": [ex.tokens[r.texts[0]["start"]:r.texts[0]["start"] + r.texts[0]["length"]]],
                         "marks": r.marks, "truth": r.truth, "score": r.score,
                         "daily": "2026-12-01" if r.daily_id else "",
                         "player": alice if r.user_id else anonymous_id("visitor", "tok-9"), "campaign": "tiny-1",
                         "created": utc(r.created)} for r in Prediction.objects.order_by("pk")],
        "scores": [{"explanation_id": p["auto"].pk, "source": src, "feature_index": 0, "scorer": "embedding",
                    "version": "2", "value": 0.61, "status": "ok", "details": json.dumps({"k": 3}),
                    "created": utc(ExplanationScore.objects.get(explanation=p["auto"]).created)}],
    }


def test_parquet_round_trip_equals_database_rows(played, tmp_path):
    out = tmp_path / "export"
    result = export_data(scope_for_source("tiny/1-mlp"), out, "parquet", license="cc0-1.0")
    expected = _expected(played)
    for name, rows in expected.items():
        assert pq.read_table(out / f"{name}.parquet").to_pylist() == rows, name
        assert result.counts[name] == len(rows)
    assert all(len(rows) for rows in expected.values())  # every table holds something to compare


def test_hf_round_trip_with_load_from_disk(played, tmp_path):
    import datasets

    out = tmp_path / "hf"
    export_data(scope_for_source("tiny/1-mlp"), out, "hf")
    loaded = datasets.load_from_disk(str(out))
    expected = _expected(played)
    assert set(loaded.keys()) == set(expected)
    for name, rows in expected.items():
        assert loaded[name].with_format("arrow")[:].to_pylist() == rows, name


def test_parquet_folder_loads_with_load_dataset(played, tmp_path):
    import datasets

    out = tmp_path / "export"
    export_data(scope_for_source("tiny/1-mlp"), out, "parquet")
    votes = datasets.load_dataset(str(out), "votes", split="train", cache_dir=str(tmp_path / "cache"))
    assert sorted(votes["value"]) == [-1, 1]


def test_card_describes_every_table_and_column(played, tmp_path):
    out = tmp_path / "export"
    export_data(scope_for_source("tiny/1-mlp"), out, "parquet", license="cc0-1.0")
    text = (out / "README.md").read_text()
    head = yaml.safe_load(text.split("---")[1])
    assert head["license"] == "cc0-1.0"
    assert [c["config_name"] for c in head["configs"]] == [t.name for t in TABLES]
    for t in TABLES:
        assert f"### {t.name} (" in text
        assert all(f"`{c.name}`" in text for c in t.columns)
    assert "### votes (2 rows)" in text and "tiny/1-mlp" in text and "blocks.1.mlp.hook_post" in text


def test_nothing_private_is_exported(played, tmp_path):
    out = tmp_path / "export"
    export_data(scope_for_source("tiny/1-mlp"), out, "parquet")
    dumped = "".join(json.dumps(pq.read_table(p).to_pylist(), default=str) for p in out.glob("*.parquet"))
    dumped += (out / "README.md").read_text()
    for user in (played["named"], played["unnamed"]):
        assert user.email not in dumped and user.password not in dumped
    assert '"bob"' not in dumped and "tok-123" not in dumped and "tok-9" not in dumped
    assert "spam spam" not in dumped  # hidden by moderation


def test_hidden_explanations_only_when_asked(played):
    tables = build_tables(scope_for_source("tiny/1-mlp", include_hidden=True))
    assert "spam spam" in tables["explanations"].column("text").to_pylist()
    assert tables["votes"].num_rows == 3 and tables["scores"].num_rows == 2


def test_campaign_export_keeps_its_answers(played, tmp_path):
    other = Campaign.objects.create(slug="other", title="Other", source=played["source"])
    tables = build_tables(scope_for_campaign("tiny-1"))
    assert tables["comparisons"].column("campaign").to_pylist() == ["tiny-1"]
    assert tables["explanations"].num_rows == 3
    assert build_tables(scope_for_campaign(other.slug))["comparisons"].num_rows == 0


def test_cli_export_data_and_its_errors(played, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["export-data", "--campaign", "tiny-1", "--format", "hf", str(out)]) == 0
    assert "3 explanations" in capsys.readouterr().out and (out / "dataset_dict.json").exists()
    assert main(["export-data", "--campaign", "tiny-1", str(out)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["export-data", "--source", "tiny", str(tmp_path / "x")]) == 2
    assert "MODEL/SOURCE" in capsys.readouterr().err
    with pytest.raises(FeaturepediaError, match="no campaign 'nope'; stored campaigns: tiny-1"):
        scope_for_campaign("nope")


def test_admin_downloads_a_campaigns_data_as_a_zip(played, admin_client):
    import io
    import zipfile

    answer = admin_client.post("/admin/game/campaign/", {"action": "download_data",
                                                         "_selected_action": [played["campaign"].pk]})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    assert 'filename="featurepedia-tiny-1-data.zip"' in answer["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == sorted(["README.md", *(f"{t.name}.parquet" for t in TABLES)])
    votes = pq.read_table(io.BytesIO(archive.read("votes.parquet")))
    assert votes.num_rows == 2
