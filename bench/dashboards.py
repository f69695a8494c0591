"""Benchmark: the dashboards pipeline against the bare forward pass to the hook layer, same tokens.

Each size runs in a fresh process (so peak memory is its own): it loads the model, materialises the
contexts, then runs the bare forward pass and the full pipeline (tokenising the corpus, streaming pass,
finalisation, Parquet writes) --repeat times each, in adjacent pairs whose order alternates: F P, P F, F P,
P F ... The machine's speed drifts during a run (it slows under sustained load) and other tenants add
spikes, so:

- ``ratio`` is the median over the pairs of forward time / pipeline time: each pair's two runs see the
  same machine, alternating the order cancels the drift's bias, and the median ignores a spiked pair;
- ``ratio_fastest`` (fastest forward run / fastest pipeline run) and ``ratio_mean`` are printed beside it.
  With an even number of pairs both runs have the same slots on average; with drift, "fastest" favours
  whichever ran first. Every run's time is printed too.

``--source`` is one source id or a comma list (SAE sources with ``--sae ID=PATH``, ``all-mlp`` for every
layer's neurons). The bare forward pass ("forward" in the output says which) is:

- one source (neurons or an SAE): the forward pass to its hook point plus its ``encode``, so an SAE's ratio
  is its pipeline against what reading its features costs at the least;
- a list: the forward pass to the deepest of their hook points alone; the pipeline is one pass for them
  all, every source's encode included, then each source's finishing.

Beside it, in the same run (its own process, before the --source measurement), the existing figure: the
``--baseline`` source (default: the default source) alone, reported under "baseline". Peak memory is
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident set size) of the measuring process.

    python bench/dashboards.py [--model smollm2-135m] [--source 6-mlp] [--tokens 100000] [--growth 4]
    python bench/dashboards.py --source 6-res-sae --sae 6-res-sae=PATH
    python bench/dashboards.py --source 6-mlp,6-res-sae,3-mlp --sae 6-res-sae=PATH
    python bench/dashboards.py --also default --growth 0   # the baseline, the SAE and the multi-source figures

``--also SPEC`` (repeatable) measures more sources in the same run, each in its own process, reported under
"also" by spec; ``--also default`` stands for the two figures of the SAE targets when the package ships the
model's SAE: ``6-res-sae`` alone (against the forward pass plus its encode) and ``6-mlp,6-res-sae,3-mlp`` (one
pass, against the forward pass to the deepest hook point), both with the shipped SAE unless ``--sae`` gives
another.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from featurepedia import runtime  # noqa: E402
from featurepedia.settings import DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID  # noqa: E402

RUNTIME = runtime.configure()  # as the featurepedia command does, before torch loads: both runs share it


MEMORY = "peak RSS: resource.getrusage(RUSAGE_SELF).ru_maxrss of the measuring process"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(model_id: str, source_spec: str, sae: list[str], tokens: int, batch_size: int, repeat: int) -> dict:
    """One size, in this process."""
    import torch

    from featurepedia.corpus import ContextSpec, context_batches, iter_contexts
    from featurepedia.dashboards import ParquetSink, RunConfig, SourceRun, run_sources
    from featurepedia.dashboards.source_list import parse_source_list
    from featurepedia.lm import get_model
    from featurepedia.sources import source_for

    model = get_model(model_id)
    requests = parse_source_list(source_spec, sae).expand(model.n_layers)
    sources = [source_for(model, r.source_id, sae_path=r.sae_path, hook_name=r.hook) for r in requests]
    configs = [RunConfig(model=model_id, source=r.source_id, sae_path=r.sae_path, n_tokens=tokens,
                         batch_size=batch_size, contexts=ContextSpec(), checkpoint_seconds=1e9) for r in requests]
    config = configs[0]
    contexts = list(iter_contexts(model.tokenizer, config.contexts, config.n_contexts))
    batches = list(context_batches(contexts, batch_size))
    n_tokens = sum(b.numel() for b in batches)
    deepest = max((s.hook_name for s in sources), key=lambda name: model.hook_point(name).depth)
    if len(sources) == 1:
        only = sources[0]
        forward_kind = f"bare forward pass to {only.hook_name} + encode"

        def step(ids: torch.Tensor) -> None:
            only.encode(model.run_to(only.hook_name, ids))
    else:
        forward_kind = f"bare forward pass to the deepest hook point, {deepest} (no encode)"

        def step(ids: torch.Tensor) -> None:
            model.run_to(deepest, ids)

    def forward() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            for ids in batches:
                step(ids)
        return time.perf_counter() - start

    with torch.inference_mode():  # warm-up (allocator, kernels) on a few batches
        for ids in batches[:4]:
            for source in sources:
                source.encode(model.run_to(source.hook_name, ids))
    rss_base = peak_rss_mb()
    forwards, pipelines, timings = [], [], []
    rss_before = peak_rss_mb()

    def pipeline() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [SourceRun(s, c, ParquetSink(Path(tmp) / s.source_id), Path(tmp) / "run" / s.source_id)
                    for s, c in zip(sources, configs, strict=True)]
            start = time.perf_counter()
            infos = run_sources(model, runs, progress=False)
            pipelines.append(time.perf_counter() - start)
            # One shared pass, then each source's own finishing.
            timings.append({"pass_s": infos[0].timings["pass_s"],
                            "finalize_s": round(sum(i.timings["finalize_s"] for i in infos), 2)})

    for i in range(repeat):  # F P, P F, F P, ...: a drift in machine speed favours neither
        if i % 2 == 0:
            forwards.append(forward())
            pipeline()
        else:
            pipeline()
            forwards.append(forward())
    rss_after = peak_rss_mb()
    pair_ratios = [f / p for f, p in zip(forwards, pipelines, strict=True)]
    ratio = statistics.median(pair_ratios)
    # Times matching the headline ratio: the forward pass's median, and the pipeline time it implies.
    forward_s = statistics.median(forwards)
    pipeline_s = forward_s / ratio
    return {
        "tokens": n_tokens, "sources": [s.source_id for s in sources],
        "features": sum(s.n_features for s in sources), "forward": forward_kind,
        "forward_s": round(forward_s, 2), "pipeline_s": round(pipeline_s, 2),
        "forward_tok_s": round(n_tokens / forward_s, 1), "pipeline_tok_s": round(n_tokens / pipeline_s, 1),
        "ratio": round(ratio, 3), "pair_ratios": [round(r, 3) for r in pair_ratios],
        "ratio_fastest": round(min(forwards) / min(pipelines), 3),
        "ratio_mean": round(statistics.mean(forwards) / statistics.mean(pipelines), 3),
        # The streaming pass alone (without finishing) against the forward pass, the same way.
        "pass_ratio": round(statistics.median(f / t["pass_s"] for f, t in zip(forwards, timings, strict=True)), 3),
        "peak_rss_mb": round(rss_after, 1), "model_rss_mb": round(rss_base, 1),
        "pipeline_extra_rss_mb": round(max(0.0, rss_after - rss_before), 1), "memory": MEMORY,
        "forward_runs_s": [round(x, 2) for x in forwards], "pipeline_runs_s": [round(x, 2) for x in pipelines],
        "torch_threads": torch.get_num_threads(), "runtime": RUNTIME, "pass_s": min(t["pass_s"] for t in timings),
        "finalize_s": min(t["finalize_s"] for t in timings),
    }


def run_child(args: argparse.Namespace, source: str, sae: list[str], tokens: int, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--single", "--model", args.model, "--source", source,
           *[f"--sae={spec}" for spec in sae], "--tokens", str(tokens), "--batch-size", str(args.batch_size),
           "--repeat", str(repeat)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _line(result: dict) -> str:
    return (f"{result['tokens']:>9,} tokens, {','.join(result['sources'])}: forward {result['forward_tok_s']:>7.0f} "
            f"tok/s   pipeline {result['pipeline_tok_s']:>7.0f} tok/s   ratio {result['ratio']:.3f}   peak RSS "
            f"{result['peak_rss_mb']:.0f} MB (pipeline adds {result['pipeline_extra_rss_mb']:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL_ID)
    parser.add_argument("--source", default=DEFAULT_SOURCE_ID, help="a source id or a comma list of them "
                        "(one pass for all), e.g. 6-mlp,6-res-sae,3-mlp; all-mlp for every layer's neurons")
    parser.add_argument("--sae", action="append", default=[], metavar="ID=PATH",
                        help="SAELens folder of an SAE source in --source (repeatable)")
    parser.add_argument("--baseline", default=DEFAULT_SOURCE_ID,
                        help="source measured alone beside --source in the same run, when it differs from "
                        "--source (default: the default source; 'none' skips it)")
    parser.add_argument("--tokens", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--growth", type=int, default=4, help="also run growth x tokens (0 = skip)")
    parser.add_argument("--repeat", type=int, default=4,
                        help="pairs of runs (one of each, order alternating) at the base size")
    parser.add_argument("--growth-repeat", type=int, default=2, help="pairs of runs at the grown size")
    parser.add_argument("--also", action="append", default=[], metavar="SPEC",
                        help="another source or comma list measured in the same run (repeatable); 'default': "
                        "6-res-sae and 6-mlp,6-res-sae,3-mlp with the shipped SAE")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(measure(args.model, args.source, args.sae, args.tokens, args.batch_size, args.repeat)))
        return
    baseline = None
    if args.baseline not in ("none", "", args.source):
        baseline = run_child(args, args.baseline, [], args.tokens, args.repeat)
        print(_line(baseline) + "   (baseline)")
    base = run_child(args, args.source, args.sae, args.tokens, args.repeat)
    print(_line(base))
    result = {k: base[k] for k in ("tokens", "sources", "features", "forward", "pipeline_tok_s", "forward_tok_s",
                                   "ratio", "pair_ratios", "ratio_fastest", "ratio_mean", "pass_ratio",
                                   "peak_rss_mb", "pipeline_extra_rss_mb", "memory", "torch_threads", "runtime",
                                   "pass_s", "finalize_s", "forward_runs_s", "pipeline_runs_s")}
    result["model"], result["source"] = args.model, args.source
    if baseline is not None:
        result["baseline"] = {k: baseline[k] for k in (
            "sources", "features", "forward", "ratio", "pair_ratios", "ratio_fastest", "pass_ratio", "peak_rss_mb",
            "pipeline_extra_rss_mb", "forward_tok_s", "pipeline_tok_s", "pass_s", "finalize_s")}
    also = _also_specs(args)
    if also:
        result["also"] = {}
    for spec, sae in also:
        extra = run_child(args, spec, sae, args.tokens, args.repeat)
        print(_line(extra))
        result["also"][spec] = {k: extra[k] for k in (
            "sources", "features", "forward", "ratio", "pair_ratios", "ratio_fastest", "ratio_mean", "pass_ratio",
            "peak_rss_mb", "pipeline_extra_rss_mb", "forward_tok_s", "pipeline_tok_s", "pass_s", "finalize_s",
            "forward_runs_s", "pipeline_runs_s")}
    if args.growth:
        big = run_child(args, args.source, args.sae, args.tokens * args.growth, args.growth_repeat)
        print(_line(big))
        result["growth"] = {
            "factor": args.growth, "tokens": big["tokens"], "ratio": big["ratio"],
            "pair_ratios": big["pair_ratios"],
            "pipeline_time_x": round(big["pipeline_s"] / base["pipeline_s"], 2),
            "forward_time_x": round(big["forward_s"] / base["forward_s"], 2),
            "peak_rss_mb": big["peak_rss_mb"],
            "peak_rss_x": round(big["peak_rss_mb"] / base["peak_rss_mb"], 2),
            "forward_runs_s": big["forward_runs_s"], "pipeline_runs_s": big["pipeline_runs_s"],
        }
    print(json.dumps(result))


def _also_specs(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The --also measurements: (source spec, its --sae list)."""
    specs: list[tuple[str, list[str]]] = []
    for spec in args.also:
        if spec != "default":
            specs.append((spec, args.sae))
            continue
        from featurepedia.sources.sae.shipped import shipped_sae

        given = [s for s in args.sae if s.startswith("6-res-sae=")]
        path = shipped_sae(args.model, "6-res-sae")
        if not given and path is None:
            raise SystemExit(f"--also default needs the shipped SAE of {args.model} (none is shipped): "
                             "give --sae 6-res-sae=PATH")
        sae = given or [f"6-res-sae={path}"]
        specs += [("6-res-sae", sae), ("6-mlp,6-res-sae,3-mlp", sae)]
    return specs


if __name__ == "__main__":
    main()
