"""train-sae and eval-sae through the command line: the JSON line, resumption and clear errors."""

from __future__ import annotations

import json

from featurepedia.cli import main


def test_train_then_evaluate_prints_one_json_line(tiny_gpt2, data_dir, tmp_path, capsys):
    out = tmp_path / "sae"
    args = ["train-sae", "--model", "tiny-gpt2", "--hook", "blocks.1.hook_resid_post", "--d-sae", "96", "--k", "4",
            "--tokens", "4096", "--batch-size", "512", "--ctx-len", "32", "--out", str(out), "--quiet",
            "--no-autocast"]
    assert main(args) == 0
    assert "trained topk SAE (96 latents) on 4,096 tokens" in capsys.readouterr().out
    assert (out / "cfg.json").is_file() and (out / "training.json").is_file()
    assert main(["eval-sae", str(out), "--tokens", "1500", "--ce-tokens", "120", "--out",
                 str(tmp_path / "eval.json")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    for key in ("fve", "l0", "dead_frac", "dense_frac", "ce_loss_recovered", "kl_div"):
        assert isinstance(figures[key], float | int), key
    assert figures["l0"] <= 4 and figures["n_tokens"] == 1500 and figures["part"] == "heldout"
    assert json.loads((tmp_path / "eval.json").read_text()) == figures


def test_bad_training_options_are_clear_errors(tiny_gpt2, data_dir, tmp_path, capsys):
    base = ["train-sae", "--model", "tiny-gpt2", "--d-sae", "96", "--tokens", "4096", "--out", str(tmp_path / "x")]
    assert main([*base, "--hook", "blocks.1.hook_resid_post", "--k", "0"]) == 2
    assert "--k must be between 1 and --d-sae (96); got 0" in capsys.readouterr().err
    assert main([*base, "--hook", "blocks.9.hook_resid_post"]) == 2
    assert "layer 9 is out of range for tiny-gpt2, which has 2 layers" in capsys.readouterr().err
    assert main(["eval-sae", str(tmp_path / "nothing"), "--model", "tiny-gpt2"]) == 2
    assert "no SAE at" in capsys.readouterr().err
