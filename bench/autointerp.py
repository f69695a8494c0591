"""Benchmark the autointerp scorers on planted features, and compare them on real neurons.

Planted features are rules over real corpus tokens (featurepedia.interp.planted: morphology, casing,
digits and years, punctuation and brackets, code and paths, function-word classes, topics and position),
each with two or three differently worded true explanations. The set is split into a development part and
a held-out part by a hash of each feature's name (``planted.part_of``); methods and settings are chosen on
the development part only, and the held-out figures are the ones to quote.

For each feature, scorer and wording, the true explanation, every other feature's (first) explanation
(the distractors) and a quoted list of the feature's top tokens (what a player could paste) are scored on
the same held-out records. Reported per scorer and part: top-1 (the true explanation strictly best; ties
share the credit), the AUROC of true against distractor scores pooled over features, the fraction of
features where the true explanation scores at least as well as the token list, each per wording and for
the worst wording of each feature; how the ranking changes with the wording; ms per score with the
feature's caches warm, as on the site; and the Spearman agreement between scorers on token-list
explanations of real layer-6 neurons of smollm2-135m.

    python bench/autointerp.py                                  # all scorers
    python bench/autointerp.py --scorers embedding --quick
    python bench/autointerp.py --scorers "embedding,embedding:view=context" --parts dev

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
PARTS = ("dev", "heldout")


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


def top_token_list(records: list[ActivationRecord], n: int = 4) -> str:
    """A quoted list of the tokens that carry most of the activation in ``records`` (what a player could
    paste from the clues), e.g. ``"following", "using", "testing", "making"``."""
    weight: dict[str, float] = {}
    for r in records:
        for tok, v in zip(r.tokens, r.values, strict=True):
            if v > 0 and tok.strip():
                weight[tok.strip()] = weight.get(tok.strip(), 0.0) + v
    top = sorted(weight, key=lambda t: (-weight[t], t))[:n]
    return ", ".join(f'"{t}"' for t in top) or '""'


def planted_suite(token_lists: list[list[str]], parts: tuple[str, ...] = PARTS,
                  min_activating: int = 24) -> list[dict[str, Any]]:
    """Per planted feature of ``parts``: its wordings, explain records, held-out score records and token list.

    Features with fewer than ``min_activating`` activating texts in ``token_lists`` are left out (and said).
    """
    suite = []
    for feature in PLANTED_FEATURES:
        if feature.part not in parts:
            continue
        top, quantile, non = planted_records(feature, token_lists, n_top=20, n_quantile=10, n_non_activating=20)
        if len(top) + len(quantile) < min_activating:
            print(f"  (left out {feature.name}: {len(top) + len(quantile)} activating texts)")
            continue
        split = held_out_split(top, quantile, non, n_explain=10, n_score_top=10, n_score_quantile=10,
                               n_score_non_activating=20)
        suite.append({"name": feature.name, "kind": feature.kind, "part": feature.part,
                      "explanations": list(feature.explanations), "explanation": feature.explanation,
                      "explain": split.explain, "score": split.score, "token_list": top_token_list(split.explain)})
    return suite


def _top1(true: float, others: list[float]) -> float:
    """1 when ``true`` beats every other score, 1/k when it ties k-1 of them for the best, else 0."""
    best = max(others, default=float("-inf"))
    if true > best:
        return 1.0
    return 1.0 / (1 + sum(1 for o in others if o == true)) if true == best else 0.0


def bench_scorer(scorer: Scorer, suite: list[dict[str, Any]], n_distractors: int = 0) -> list[dict[str, Any]]:
    """Score every wording of each feature's true explanation, the distractors and the token list.

    Returns one row per feature: ``true`` (a score per wording), ``distractors`` (the other features'
    first wordings, or the first ``n_distractors`` of them), ``token_list``, ``ms`` (time per score).
    """
    rows = []
    for i, feature in enumerate(suite):
        others = [(f["name"], f["explanation"]) for j, f in enumerate(suite) if j != i]
        if n_distractors:
            others = others[:n_distractors]
        if not scorer.uses_llm:
            scorer.score("warm-up", feature["score"])  # fills per-feature caches, as a served feature would have
        times: list[float] = []

        def timed(text: str, records: list[ActivationRecord] = feature["score"], times: list[float] = times) -> float:
            start = time.perf_counter()
            value = scorer.score(text, records).value
            times.append(time.perf_counter() - start)
            return float(value)

        true = [timed(text) for text in feature["explanations"]]
        distractors = [timed(text) for _, text in others]
        rows.append({"name": feature["name"], "kind": feature["kind"], "part": feature["part"], "true": true,
                     "distractors": distractors, "distractor_names": [n for n, _ in others],
                     "token_list": timed(feature["token_list"]), "ms": 1000 * float(np.median(times))})
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures over one part's rows: per wording, for each feature's worst wording, and wording effects."""
    if not rows:
        return {"features": 0}
    n_wordings = max(len(r["true"]) for r in rows)
    by_wording = {str(k): summarise_subset([r for r in rows if len(r["true"]) > k], k) for k in range(n_wordings)}
    worst = {
        "top1": float(np.mean([min(_top1(t, r["distractors"]) for t in r["true"]) for r in rows])),
        "auroc": min(w["auroc"] for w in by_wording.values()),
        "true_ge_token_list": float(np.mean([min(r["true"]) >= r["token_list"] for r in rows])),
    }
    ranks = [[1 + sum(d >= t for d in r["distractors"]) for t in r["true"]] for r in rows]
    wording = {
        "features_whose_top1_depends_on_wording": int(sum(len({_top1(t, r["distractors"]) >= 1 for t in r["true"]}) > 1
                                                          for r in rows)),
        "mean_rank_spread": float(np.mean([max(rk) - min(rk) for rk in ranks])),
        "mean_true_score_spread": float(np.mean([max(r["true"]) - min(r["true"]) for r in rows])),
    }
    return {"features": len(rows), "by_wording": by_wording,
            "worst_wording": worst, "wording_effect": wording,
            "mean_distractor": float(np.mean([d for r in rows for d in r["distractors"]])),
            "mean_token_list": float(np.mean([r["token_list"] for r in rows])),
            "ms_per_score": float(np.median([r["ms"] for r in rows]))}


def summarise_subset(rows: list[dict[str, Any]], k: int) -> dict[str, float]:
    """top-1, AUROC and true >= token list of wording ``k`` over the rows that have it."""
    trues = [r["true"][k] for r in rows]
    distractors = [d for r in rows for d in r["distractors"]]
    labels = [True] * len(trues) + [False] * len(distractors)
    return {"features": len(rows),
            "top1": float(np.mean([_top1(t, r["distractors"]) for t, r in zip(trues, rows, strict=True)])),
            "auroc": auroc(labels, trues + distractors),
            "true_ge_token_list": float(np.mean([t >= r["token_list"] for t, r in zip(trues, rows, strict=True)]))}


def explainer_figures(scorer: Scorer, suite: list[dict[str, Any]], rows: list[dict[str, Any]], texts: list[str],
                      parts: tuple[str, ...]) -> dict[str, Any]:
    """Per part: mean score of an explainer's texts, median ratio to the true explanation's score (first
    wording), the share ranked above every other feature's explanation, and the share >= the token list."""
    out: dict[str, Any] = {}
    for part in parts:
        got = [(scorer.score(t, f["score"]).value, r) for t, f, r in zip(texts, suite, rows, strict=True)
               if f["part"] == part]
        if not got:
            continue
        out[part] = {
            "mean": float(np.mean([v for v, _ in got])),
            "median_ratio_to_true": float(np.median([v / r["true"][0] if r["true"][0] else 0.0 for v, r in got])),
            "ranked_first": float(np.mean([v > max(r["distractors"], default=float("-inf")) for v, r in got])),
            "ge_token_list": float(np.mean([v >= r["token_list"] for v, r in got])),
        }
    return out


@torch.inference_mode()
def real_neuron_suite(model: Any, n_neurons: int, n_contexts: int, layer: int = 6,
                      spread: bool = False) -> list[dict[str, Any]]:
    """Top and non-activating records of the most selective neurons of one layer, or with ``spread`` of
    ``n_neurons`` evenly spaced over the layer (as the demo's source holds them all); values clipped at a
    threshold of 10% of the neuron's max, so "non-activating" means "never above it"."""
    spec = ContextSpec(corpus="default", ctx_len=RECORD_LEN + 1, seed=1)
    ids = torch.tensor(list(iter_contexts(model.tokenizer, spec, n_contexts)))  # [n, RECORD_LEN + 1]
    acts = torch.cat([model.run_to(f"blocks.{layer}.mlp.hook_post", batch)
                      for batch in ids.split(64)])[:, 1:].float()  # [n, RECORD_LEN, d_mlp]; BOS dropped
    peak = acts.amax(dim=(0, 1))  # [d_mlp]
    # Selective = the top contexts stand far above the typical token.
    selectivity = peak / acts.flatten(0, 1).std(dim=0).clamp_min(1e-6)
    neurons = (list(range(0, len(peak), max(1, len(peak) // n_neurons)))[:n_neurons] if spread
               else selectivity.argsort(descending=True)[:n_neurons].tolist())
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
        if not top or not non:
            continue  # never active, or active everywhere: nothing to explain or score
        split = held_out_split(top, quantile, non, n_explain=10, n_score_top=10, n_score_quantile=10,
                               n_score_non_activating=20)
        suite.append({"name": f"L{layer}/N{n}", "explain": split.explain, "score": split.score})
    return suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scorers", default="embedding,simulation,detection,fuzzing",
                        help="comma-separated scorer specs, e.g. embedding:view=context+before=6")
    parser.add_argument("--parts", default="dev,heldout", help="planted parts to run: dev, heldout or both")
    parser.add_argument("--quick", action="store_true", help="fewer distractors and real neurons")
    parser.add_argument("--distractors", type=int, default=0, help="distractors per feature (0 = all others)")
    parser.add_argument("--llm-distractors", type=int, default=3,
                        help="distractors per feature for LLM-judged scorers (they take seconds each)")
    parser.add_argument("--neurons", type=int, default=6, help="real layer-6 neurons for the agreement check")
    parser.add_argument("--contexts", type=int, default=1500, help="corpus contexts for the planted records")
    parser.add_argument("--explainers", default="token-list", help="explainers to run on the planted features")
    parser.add_argument("--explainer-neurons", type=int, default=0,
                        help="real layer-6 neurons, evenly spaced, on which to compare the explainers' "
                        "explanations by the default scorer on held-out examples (0 = none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts takes dev, heldout or both (comma-separated), not {args.parts!r}")
    if args.quick:
        args.distractors, args.neurons = args.distractors or 12, min(args.neurons, 4)

    model = get_model(DEFAULT_MODEL_ID)
    suite = planted_suite(corpus_token_lists(model, args.contexts), parts)
    for part in parts:
        names = [f["name"] for f in suite if f["part"] == part]
        print(f"planted features, {part} part ({len(names)}): {', '.join(names)}")
    specs = [parse_scorer(s.strip()) for s in args.scorers.split(",") if s.strip()]
    scorers = {label: get_scorer(name, **opts) for label, name, opts in specs}

    explained: dict[str, list[str]] = {}
    for name in filter(None, args.explainers.split(",")):
        explainer = get_explainer(name)
        start = time.perf_counter()
        explained[name] = [explainer.explain(f["explain"]) for f in suite]
        print(f"\nexplainer {name} ({(time.perf_counter() - start) / len(suite):.2f} s each):")
        for f, text in zip(suite, explained[name], strict=True):
            print(f"  {f['name']:<16} {text}")

    results: dict[str, Any] = {}
    for label, scorer in scorers.items():
        n_distractors = min(args.distractors or len(suite), args.llm_distractors) if scorer.uses_llm else \
            args.distractors
        start = time.perf_counter()
        rows = bench_scorer(scorer, suite, n_distractors)
        res: dict[str, Any] = {part: summarise([r for r in rows if r["part"] == part]) for part in parts}
        res["explainers"] = {name: explainer_figures(scorer, suite, rows, texts, parts)
                             for name, texts in explained.items()}
        res["seconds"] = round(time.perf_counter() - start, 1)
        results[label] = res
        print(f"\n{label}: per feature (part, true score per wording, best distractor and its feature, token list)")
        for r in rows:
            best = int(np.argmax(r["distractors"]))
            print(f"  {r['name']:<16} {r['part']:<7} {' '.join(f'{t:.3f}' for t in r['true']):<20} "
                  f"{r['distractors'][best]:.3f} {r['distractor_names'][best]:<16} {r['token_list']:.3f}")

    real = real_neuron_suite(model, args.neurons, 400 if args.quick else 800) if args.neurons else []
    agreement = real_agreement(real, scorers) if len(real) >= 2 and len(scorers) >= 2 else {}

    print("\n| scorer | part | features | top-1 (wordings) | worst-wording top-1 | AUROC (wordings) "
          "| true >= token list (wordings) | worst | ms/score |")
    print("| --- | --- | ---: | --- | ---: | --- | --- | ---: | ---: |")
    for label, r in results.items():
        for part in parts:
            p = r[part]
            if not p["features"]:
                continue
            w = list(p["by_wording"].values())

            def joined(key: str, w: list[dict[str, float]] = w) -> str:
                return " / ".join(f"{x[key]:.3f}" for x in w)

            print(f"| {label} | {part} | {p['features']} | {joined('top1')} | {p['worst_wording']['top1']:.3f} | "
                  f"{joined('auroc')} | {joined('true_ge_token_list')} | "
                  f"{p['worst_wording']['true_ge_token_list']:.3f} | {p['ms_per_score']:.1f} |")
    if agreement:
        print("\nSpearman agreement on token-list explanations of real neurons (each scored on every neuron):")
        for pair, rho in agreement["pairs"].items():
            print(f"  {pair}: {rho:.3f}")
    real_explained = real_explainer_figures(model, list(explained), args.explainer_neurons) \
        if args.explainer_neurons and explained else {}
    summary = {"features": {part: sum(f["part"] == part for f in suite) for part in parts}, "scorers": results,
               "real_neurons": [f["name"] for f in real], "agreement": agreement,
               "explainers_on_real_neurons": real_explained}
    print(json.dumps(summary, sort_keys=True))
    return 0


def real_explainer_figures(model: Any, explainers: list[str], n_neurons: int,
                           scorer_name: str = "form") -> dict[str, Any]:
    """Each explainer's explanation of ``n_neurons`` evenly spaced layer-6 neurons, scored on the neuron's
    held-out records: quartiles, range, CPU seconds per explanation, and how often each beats the first."""
    real = real_neuron_suite(model, n_neurons, 800, spread=True)
    scorer = get_scorer(scorer_name)
    values: dict[str, list[float]] = {}
    out: dict[str, Any] = {"neurons": len(real), "scorer": scorer_name}
    print(f"\nexplainers on {len(real)} evenly spaced real neurons, scored by {scorer_name} on held-out examples:")
    for name in explainers:
        explainer = get_explainer(name)
        start = time.process_time()
        texts = [explainer.explain(f["explain"]) for f in real]
        cpu = (time.process_time() - start) / max(1, len(real))
        values[name] = [float(scorer.score(t, f["score"]).value) for t, f in zip(texts, real, strict=True)]
        q1, med, q3 = np.percentile(values[name], [25, 50, 75])
        out[name] = {"median": float(med), "q1": float(q1), "q3": float(q3), "min": min(values[name]),
                     "max": max(values[name]), "cpu_s_per_explanation": round(cpu, 3)}
        print(f"  {name}: median {med:.3f} (quartiles {q1:.3f} / {q3:.3f}), {cpu:.2f} s CPU each")
        for f, t, v in zip(real, texts, values[name], strict=True):
            print(f"    {f['name']:<10} {v:.3f} {t}")
    first = explainers[0]
    for name in explainers[1:]:
        out[name][f"above_{first}"] = int(sum(a > b for a, b in zip(values[name], values[first], strict=True)))
        out[name][f"ties_{first}"] = int(sum(a == b for a, b in zip(values[name], values[first], strict=True)))
    return out


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
