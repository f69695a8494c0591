"""The featurepedia command: help for every command, clear errors for bad input, settings in the docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from featurepedia.cli import main
from featurepedia.settings import PLACEHOLDER_SECRET, Settings, SettingsError, settings_help

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["build", "export", "import", "serve", "demo", "explain", "score", "inference", "stack", "worker", "models"]


def test_help_lists_every_command_and_setting():
    out = subprocess.run([sys.executable, "-m", "featurepedia.cli", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for command in COMMANDS:
        assert command in out
    for name, _, _ in settings_help():
        assert name in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: featurepedia " + command in capsys.readouterr().out


def test_settings_are_documented():
    from featurepedia.settings import settings_markdown

    docs = (ROOT / "docs" / "settings.md").read_text()
    for name, _, text in settings_help():
        assert f"`{name}`" in docs, f"{name} is missing from docs/settings.md"
        assert text in docs
    assert docs == settings_markdown(), "docs/settings.md is stale: run make docs"


def test_production_refuses_the_placeholder_secret():
    with pytest.raises(SettingsError, match="placeholder"):
        Settings.from_env({"FEATUREPEDIA_MODE": "production"})
    ok = Settings.from_env({"FEATUREPEDIA_MODE": "production", "FEATUREPEDIA_SECRET_KEY": "x" * 50})
    assert ok.secret_key != PLACEHOLDER_SECRET
    with pytest.raises(SettingsError, match="whole number"):
        Settings.from_env({"FEATUREPEDIA_PORT": "eighty"})
    with pytest.raises(SettingsError, match="embedded"):
        Settings.from_env({"FEATUREPEDIA_MODE": "cloud"})


def test_stack_refuses_embedded_mode_and_the_placeholder_secret_and_prints_its_procfile(capsys, monkeypatch):
    from featurepedia.settings import reset_settings

    assert main(["stack"]) == 2
    assert "featurepedia stack: error: featurepedia stack runs the production stack: set FEATUREPEDIA_MODE=production" \
        in capsys.readouterr().err
    monkeypatch.setenv("FEATUREPEDIA_MODE", "production")
    reset_settings()
    try:
        assert main(["stack"]) == 2
        assert "FEATUREPEDIA_SECRET_KEY is the placeholder" in capsys.readouterr().err
    finally:
        monkeypatch.delenv("FEATUREPEDIA_MODE")
        reset_settings()
    assert main(["stack", "--procfile", "-", "--only", "worker,inference", "--model", "tiny-llama"]) == 0
    assert capsys.readouterr().out == ("worker: featurepedia worker\n"
                                       "inference: featurepedia inference --model tiny-llama --host 127.0.0.1 --port 3001\n")
    assert main(["stack", "--only", "cron"]) == 2
    assert "--only 'cron': name one or more of web, worker, inference" in capsys.readouterr().err


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path):
    s = Settings.from_env({"FEATUREPEDIA_DATA_DIR": str(tmp_path)})
    assert s.database == f"sqlite:///{tmp_path / 'featurepedia.sqlite3'}"
    pg = Settings.from_env({"FEATUREPEDIA_DATABASE_URL": "postgres://u@127.0.0.1:5432/x"})
    assert pg.database.startswith("postgres://")


def test_build_errors_are_clear(capsys, data_dir, tmp_path):
    cases = [
        (["build", "--model", "gpt-9", "--source", "6-mlp"], "registered models: smollm2-135m"),
        (["build", "--model", "tiny-llama", "--source", "9-mlp"], "out of range for tiny-llama, which has 2 layers"),
        (["build", "--model", "tiny-llama", "--source", "1-res-sae"], "--sae PATH"),
        (["build", "--model", "tiny-llama", "--source", "1-mlp", "--tokens", "0"], "positive number"),
        (["build", "--model", "tiny-llama", "--source", "1-mlp", "--no-db"], "--out"),
    ]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    cases.append((["build", "--model", "tiny-llama", "--source", "1-mlp", "--corpus", str(empty), "--no-db",
                   "--out", str(tmp_path / "b"), "--quiet"], "holds no text"))
    cases.append((["build", "--model", "tiny-llama", "--source", "1-mlp", "--corpus", str(tmp_path / "nope.txt"),
                   "--no-db", "--out", str(tmp_path / "b"), "--quiet"], "is not a file"))
    lists = [  # several sources in one pass
        (["--source", "0-mlp,x"], "'x' in --source 0-mlp,x is not a source id"),
        (["--source", "0-mlp,1-mlp,0-mlp"], "names 0-mlp twice"),
        (["--source", "0-mlp,1-res-sae"], "source 1-res-sae needs an SAE: add --sae 1-res-sae=PATH"),
        (["--source", "0-mlp,1-res-sae", "--sae", f"1-res-sae={tmp_path}", "--sae", f"0-res-sae={tmp_path}"],
         "names 0-res-sae, which is not in --source (0-mlp,1-res-sae)"),
        (["--source", "all-mlp"], "--source all-mlp builds the MLP neurons of every layer as Parquet bundles"),
        (["--source", "all-mlp", "--out", str(tmp_path / "b")], "add --no-db to write only the bundles"),
        (["--source", "all-mlp,1-mlp", "--out", str(tmp_path / "b"), "--no-db"], "lists 1-mlp twice"),
        (["--source", "0-mlp,9-mlp", "--out", str(tmp_path / "b"), "--no-db"], "out of range for tiny-llama"),
        (["--source", "0-mlp,1-mlp", "--out", str(tmp_path / "b"), "--no-db", "--db"], "contradict"),
    ]
    cases += [(["build", "--model", "tiny-llama", *argv], message) for argv, message in lists]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
        assert "Traceback" not in err


def test_build_with_a_hub_sae_offline_says_it_needs_internet(capsys, data_dir, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr("featurepedia.sources.sae.remote.hub_offline", lambda: True)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("tried the network"))
    argv = ["build", "--model", "tiny-llama", "--source", "1-res-sae", "--sae",
            "sparsify:EleutherAI/sae-tiny/layers.1", "--no-db", "--out", str(tmp_path / "b"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs internet" in err and "or pass a local folder instead" in err and "Traceback" not in err


def test_build_help_names_the_accepted_saes(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for accepted in ("SAELens folder", "sparsify folder", "saelens:RELEASE/SAE_ID", "sparsify:ORG/REPO[/HOOKPOINT]"):
        assert accepted in out


def test_a_model_whose_files_cannot_be_read_is_a_clear_error(capsys, data_dir, tmp_path, monkeypatch):
    def unreadable(model_id: str) -> NoReturn:
        raise PermissionError(13, "Permission denied", f"{model_id}/model.safetensors")

    monkeypatch.setattr("featurepedia.dashboards.building.get_model", unreadable)
    argv = ["build", "--model", "some/folder", "--source", "1-mlp", "--no-db", "--out", str(tmp_path / "b")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot read the files of model 'some/folder'" in err and "Permission denied" in err
    assert "Traceback" not in err


@pytest.mark.django_db
def test_build_to_a_bundle_then_import(capsys, data_dir, tmp_path):
    bundle = tmp_path / "bundle"
    argv = ["build", "--model", "tiny-gpt2", "--source", "0-mlp", "--tokens", "2048", "--no-db", "--out",
            str(bundle), "--quiet"]
    assert main(argv) == 0
    assert "built 256 features of tiny-gpt2/0-mlp" in capsys.readouterr().out
    assert (bundle / "run.json").exists() and (data_dir / "runs" / "tiny-gpt2" / "0-mlp" / "config.json").exists()
    assert main(["import", str(bundle)]) == 0
    assert "imported tiny-gpt2/0-mlp (256 features)" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "missing")]) == 2
    assert "not a Featurepedia bundle" in capsys.readouterr().err


def test_build_all_mlp_writes_a_bundle_per_layer_and_a_rerun_skips_them(capsys, data_dir, tmp_path):
    argv = ["build", "--model", "tiny-llama", "--source", "all-mlp", "--tokens", "1024", "--ctx-len", "32",
            "--out", str(tmp_path / "mlp"), "--no-db", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "built 128 features of tiny-llama/0-mlp" in out and "built 128 features of tiny-llama/1-mlp" in out
    assert "2 of 2 sources built in one pass of 992 tokens" in out
    stamps = {}
    for source_id in ("0-mlp", "1-mlp"):
        bundle = tmp_path / "mlp" / source_id
        assert (bundle / "run.json").exists() and (data_dir / "runs" / "tiny-llama" / source_id / "run.json").exists()
        stamps[source_id] = (bundle / "features.parquet").stat().st_mtime_ns
    assert not (tmp_path / "mlp" / "run.json").exists()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("was already built with these options: skipped (--fresh builds it again)") == 2
    assert all((tmp_path / "mlp" / i / "features.parquet").stat().st_mtime_ns == t for i, t in stamps.items())


@pytest.mark.django_db
def test_build_a_list_with_an_sae_into_the_database(capsys, data_dir, tmp_path, tiny_llama):
    from tests.sources.test_sae import _save_with_saelens

    _save_with_saelens(tmp_path / "sae", tiny_llama.d_model, "topk", "blocks.1.hook_resid_post")
    argv = ["build", "--model", "tiny-llama", "--source", "0-mlp,1-res-sae", "--sae", f"1-res-sae={tmp_path / 'sae'}",
            "--tokens", "1024", "--ctx-len", "32", "--quiet"]
    assert main(argv) == 0
    assert "2 of 2 sources built in one pass" in capsys.readouterr().out
    from featurepedia.web.catalog.models import Source

    stored = {s.slug: s for s in Source.objects.filter(model__slug="tiny-llama")}
    assert set(stored) == {"0-mlp", "1-res-sae"}
    assert all(s.status == Source.Status.READY and s.features.count() == s.n_features for s in stored.values())
    assert stored["1-res-sae"].n_features == 96 and stored["1-res-sae"].density_threshold == "activation > 0"
    assert main(argv) == 0
    assert capsys.readouterr().out.count("skipped") == 2
    Source.objects.filter(slug="0-mlp").update(status=Source.Status.BUILDING)  # as a build cut short leaves it
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "built 128 features of tiny-llama/0-mlp" in out and "tiny-llama/1-res-sae was already built" in out
    assert Source.objects.get(slug="0-mlp").status == Source.Status.READY


def test_public_url_must_be_an_origin():
    assert Settings.from_env({"FEATUREPEDIA_PUBLIC_URL": "https://fp.example.org"}).public_url
    for bad in ["fp.example.org", "ftp://fp.example.org", "https://fp.example.org/wiki", "https://"]:
        with pytest.raises(SettingsError, match="FEATUREPEDIA_PUBLIC_URL .*scheme and host"):
            Settings.from_env({"FEATUREPEDIA_PUBLIC_URL": bad})
