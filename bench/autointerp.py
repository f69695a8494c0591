"""Benchmark the autointerp scorers on planted features, and compare them on real neurons.

Planted features are rules over real corpus tokens (featurepedia.interp.planted). For each feature and
scorer the true explanation and every other feature's explanation (distractors) are scored on the same
held-out records. Reported per scorer: top-1 accuracy (true explanation strictly best; ties share the
credit), AUROC of true vs distractor scores pooled over features, ms per new explanation with caches warm,
$ per explanation, and the Spearman agreement between scorers on token-list explanations of real
layer-6 neurons of smollm2-135m (each neuron's explanation scored on every neuron's records).

    python bench/autointerp.py                                  # all scorers
    python bench/autointerp.py --scorers embedding --quick
    python bench/autointerp.py --scorers "embedding,embedding:view=context,embedding:view=highlight"

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from featurepedia.corpus import ContextSpec, iter_contexts  # noqa: E402
from featurepedia.interp import ActivationRecord, Scorer, get_explainer, get_scorer, held_out_split  # noqa: E402
from featurepedia.interp.metrics import auroc  # noqa: E402
from featurepedia.interp.planted import PLANTED_FEATURES, planted_records  # noqa: E402
from featurepedia.lm import get_model  # noqa: E402
from featurepedia.settings import DEFAULT_MODEL_ID  # noqa: E402

RECORD_LEN = 32


def parse_scorer(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``name:key=value+key=value`` -> (label, name, options)."""
    name, _, opts = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, opts.split("+")):
        key, _, raw = item.partition("=")
        options[key] = _literal(raw)
    return spec, name, options


def _literal(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


def corpus_token_lists(model: Any, n_contexts: int) -> list[list[str]]:
    """Display-token lists of RECORD_LEN tokens cut from corpus contexts (BOS dropped)."""
    spec = ContextSpec(corpus="default", ctx_len=2 * RECORD_LEN + 1, seed=0)
    out = []
    for ids in iter_contexts(model.tokenizer, spec, n_contexts):
        tokens = [t.text for t in model.display(ids[1:])]
        out.extend([tokens[:RECORD_LEN], tokens[RECORD_LEN:]])
    return out


def planted_suite(token_lists: list[list[str]], n_features: int) -> list[dict[str, Any]]:
    """Per planted feature: its explanation, explain records and held-out score records."""
    suite = []
    for feature in PLANTED_FEATURES[:n_features]:
        top, quantile, non = planted_records(feature, token_lists, n_top=20, n_quantile=10, n_non_activating=20)
        split = held_out_split(top, quantile, non, n_explain=10, n_score_top=10, n_score_quantile=10,
                               n_score_non_activating=20)
        suite.append({"name": feature.name, "explanation": feature.explanation, "explain": split.explain,
                      "score": split.score})
    return suite


def bench_scorer(scorer: Scorer, suite: list[dict[str, Any]], candidates_per_feature: int) -> dict[str, Any]:
    """Score true and distractor explanations on each planted feature."""
    explanations = [f["explanation"] for f in suite]
    top1, true_scores, distractor_scores, times, costs = [], [], [], [], []
    rows = []
    for i, feature in enumerate(suite):
        others = [e for j, e in enumerate(explanations) if j != i][: candidates_per_feature - 1]
        if not scorer.uses_llm:
            scorer.score("warm-up", feature["score"])  # fills per-feature caches, as a served feature would have
        values = []
        for text in [feature["explanation"], *others]:
            start = time.perf_counter()
            result = scorer.score(text, feature["score"])
            times.append(time.perf_counter() - start)
            costs.append(float(result.details.get("cost_usd", 0.0)))
            values.append(result.value)
        best = max(values)
        winners = [j for j, v in enumerate(values) if v == best]
        top1.append(1.0 / len(winners) if 0 in winners else 0.0)
        true_scores.append(values[0])
        distractor_scores.extend(values[1:])
        rival = int(np.argmax(values[1:])) if values[1:] else -1
        rival_name = suite[[j for j in range(len(suite)) if j != i][rival]]["name"] if rival >= 0 else "-"
        rows.append((feature["name"], values[0], max(values[1:], default=float("nan")), top1[-1], rival_name))
    labels = [True] * len(true_scores) + [False] * len(distractor_scores)
    return {
        "top1": float(np.mean(top1)),
        "auroc_true_vs_distractors": auroc(labels, true_scores + distractor_scores),
        "mean_true": float(np.mean(true_scores)),
        "mean_distractor": float(np.mean(distractor_scores)),
        "ms_per_explanation": 1000 * float(np.median(times)),
        "usd_per_explanation": float(np.mean(costs)),
        "per_feature": rows,
    }


@torch.inference_mode()
def real_neuron_suite(model: Any, n_neurons: int, n_contexts: int, layer: int = 6) -> list[dict[str, Any]]:
    """Top and non-activating records of the most selective neurons of one layer (values clipped at a
    threshold of 10% of the neuron's max, so "non-activating" means "never above it")."""
    spec = ContextSpec(corpus="default", ctx_len=RECORD_LEN + 1, seed=1)
    ids = torch.tensor(list(iter_contexts(model.tokenizer, spec, n_contexts)))  # [n, RECORD_LEN + 1]
    acts = torch.cat([model.run_to(f"blocks.{layer}.mlp.hook_post", batch)
                      for batch in ids.split(64)])[:, 1:].float()  # [n, RECORD_LEN, d_mlp]; BOS dropped
    peak = acts.amax(dim=(0, 1))  # [d_mlp]
    # Selective = the top contexts stand far above the typical token.
    selectivity = peak / acts.flatten(0, 1).std(dim=0).clamp_min(1e-6)
    neurons = selectivity.argsort(descending=True)[:n_neurons].tolist()
    tokens = [[t.text for t in model.display(row[1:].tolist())] for row in ids]
    suite = []
    for n in neurons:
        a = acts[:, :, n]
        vals = torch.where(a > 0.1 * peak[n], a, torch.zeros_like(a))  # [n_ctx, RECORD_LEN]
        order = vals.amax(dim=1).argsort(descending=True).tolist()
        records = [ActivationRecord(tokens[i], [round(float(v), 4) for v in vals[i]]) for i in range(len(tokens))]
        top = [records[i] for i in order[:20] if records[i].is_activating]
        quantile = [records[i] for i in order[20:200:18] if records[i].is_activating]
        non = [records[i] for i in order if not records[i].is_activating][:20]
        split = held_out_split(top, quantile, non, n_explain=10, n_score_top=10, n_score_quantile=10,
                               n_score_non_activating=20)
        suite.append({"name": f"L{layer}/N{n}", "explain": split.explain, "score": split.score})
    return suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scorers", default="embedding,simulation,detection,fuzzing",
                        help="comma-separated scorer specs, e.g. embedding:view=context+before=6")
    parser.add_argument("--quick", action="store_true", help="fewer features, candidates and real neurons")
    parser.add_argument("--features", type=int, default=len(PLANTED_FEATURES))
    parser.add_argument("--candidates", type=int, default=0, help="explanations per feature (0 = all)")
    parser.add_argument("--llm-candidates", type=int, default=4,
                        help="explanations per feature for LLM-judged scorers (they take seconds each)")
    parser.add_argument("--neurons", type=int, default=6, help="real layer-6 neurons for the agreement check")
    parser.add_argument("--contexts", type=int, default=1500, help="corpus contexts for the planted records")
    parser.add_argument("--explainers", default="token-list", help="explainers to run on the planted features")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.quick:
        args.features, args.neurons = min(args.features, 8), min(args.neurons, 4)
        args.llm_candidates = min(args.llm_candidates, 3)

    model = get_model(DEFAULT_MODEL_ID)
    suite = planted_suite(corpus_token_lists(model, args.contexts), args.features)
    print(f"planted features: {len(suite)}; score records per feature: "
          f"{', '.join(str(len(f['score'])) for f in suite)}")
    specs = [parse_scorer(s.strip()) for s in args.scorers.split(",") if s.strip()]
    scorers = {label: get_scorer(name, **opts) for label, name, opts in specs}

    explained: dict[str, list[str]] = {}
    for name in filter(None, args.explainers.split(",")):
        explainer = get_explainer(name)
        start = time.perf_counter()
        explained[name] = [explainer.explain(f["explain"]) for f in suite]
        print(f"\nexplainer {name} ({(time.perf_counter() - start) / len(suite):.2f} s each):")
        for f, text in zip(suite, explained[name], strict=True):
            print(f"  {f['name']:<13} {text}")

    results: dict[str, Any] = {}
    for label, scorer in scorers.items():
        n_cand = args.candidates or len(suite)
        if scorer.uses_llm:
            n_cand = min(n_cand, args.llm_candidates)
        start = time.perf_counter()
        res = bench_scorer(scorer, suite, n_cand)
        res["candidates"] = n_cand
        res["explainer_scores"] = {
            name: float(np.mean([scorer.score(t, f["score"]).value for t, f in zip(texts, suite, strict=True)]))
            for name, texts in explained.items()
        }
        res["seconds"] = round(time.perf_counter() - start, 1)
        results[label] = res
        print(f"\n{label}: per feature (true score, best distractor, top-1 credit, best distractor's feature)")
        for name, t, d, c, rival_name in res["per_feature"]:
            print(f"  {name:<13} {t:6.3f} {d:6.3f} {c:4.2f}  {rival_name}")

    real = real_neuron_suite(model, args.neurons, 400 if args.quick else 800) if args.neurons else []
    agreement = real_agreement(real, scorers) if len(real) >= 2 and len(scorers) >= 2 else {}

    print("\n| scorer | top-1 | AUROC true vs distractors | mean true | mean distractor | ms/expl | $/expl "
          "| token-list score | candidates |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, r in results.items():
        tl = r["explainer_scores"].get("token-list", float("nan"))
        print(f"| {label} | {r['top1']:.3f} | {r['auroc_true_vs_distractors']:.3f} | {r['mean_true']:.3f} | "
              f"{r['mean_distractor']:.3f} | {r['ms_per_explanation']:.1f} | {r['usd_per_explanation']:.4f} | "
              f"{tl:.3f} | {r['candidates']} |")
    if agreement:
        print("\nSpearman agreement on token-list explanations of real neurons (each scored on every neuron):")
        for pair, rho in agreement["pairs"].items():
            print(f"  {pair}: {rho:.3f}")
    for r in results.values():
        r.pop("per_feature")
    summary = {"features": len(suite), "scorers": results, "real_neurons": [f["name"] for f in real],
               "agreement": agreement}
    print(json.dumps(summary, sort_keys=True))
    return 0


def real_agreement(real: list[dict[str, Any]], scorers: dict[str, Scorer]) -> dict[str, Any]:
    """Spearman correlation between scorers over (explanation of neuron i, records of neuron j) pairs."""
    explainer = get_explainer("token-list")
    texts = [explainer.explain(f["explain"]) for f in real]
    print("\nreal neurons, token-list explanations:")
    for f, t in zip(real, texts, strict=True):
        print(f"  {f['name']:<10} {t}")
    scores: dict[str, list[float]] = {}
    for label, scorer in scorers.items():
        scores[label] = [scorer.score(t, f["score"]).value for f in real for t in texts]
    labels = list(scores)
    pairs = {}
    for a in range(len(labels)):
        for b in range(a + 1, len(labels)):
            rho = spearmanr(scores[labels[a]], scores[labels[b]]).statistic
            pairs[f"{labels[a]} vs {labels[b]}"] = float(np.nan_to_num(rho))
    diag = {label: float(np.mean(v[:: len(real) + 1])) for label, v in scores.items()}
    return {"pairs": pairs, "mean_own_explanation_score": diag, "n_pairs": len(real) ** 2}


if __name__ == "__main__":
    sys.exit(main())
