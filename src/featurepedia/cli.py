"""The ``featurepedia`` command: build dashboards, move bundles, serve the site and inference, run the demo."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from pathlib import Path

from featurepedia import runtime
from featurepedia.errors import FeaturepediaError, UsageError
from featurepedia.settings import get_settings, settings_help

EPILOG = "settings (environment variables):\n" + "\n".join(
    f"  {name}  (default: {default})\n      {text}" for name, default, text in settings_help())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``featurepedia`` command."""
    runtime.configure()  # before torch loads (see runtime.py)
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except FeaturepediaError as err:  # what the user can fix: the message says how, no traceback
        print(f"featurepedia {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a build resumes from its last checkpoint when run again", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featurepedia", description="Featurepedia: the Wikipedia for neurons.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = sub.add_parser("build", help="compute feature dashboards for one or more of a model's sources and "
                           "store them",
                           description="One streaming pass over the corpus computes every feature's top examples,\n"
                           "quantile samples, histogram, density, logit effects and neighbours. Several sources\n"
                           "(--source 6-mlp,6-res-sae,3-mlp or all-mlp) share one pass: the model runs once per batch\n"
                           "to the deepest of their hook points, and each source gets the results, run folder and\n"
                           "checkpoint a build of it alone would have (see docs/dashboards.md).\n\n"
                           "Interrupted builds resume from their checkpoints when run again with the same options;\n"
                           "the sources of a list that are already built with them are skipped.",
                           epilog="examples:\n"
                           "  featurepedia build --model smollm2-135m --source 6-mlp\n"
                           "  featurepedia build --model smollm2-135m --source 6-mlp,6-res-sae,3-mlp "
                           "--sae 6-res-sae=/data/saes/6\n"
                           "  featurepedia build --model smollm2-135m --source all-mlp --out bundles --no-db\n"
                           "  featurepedia build --model smollm2-135m --source 6-mlp --ray auto\n"
                           "  featurepedia build --model smollm2-135m --source 6-mlp --ray head.example:6379 "
                           "--ray-cpus 2",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("--model", required=True, help="model id, e.g. smollm2-135m (see `featurepedia models`), "
                       "a local folder, or a Hugging Face hub id")
    build.add_argument("--source", required=True, metavar="ID[,ID...]",
                       help="source id <layer>-<set>: <layer>-mlp for MLP neurons (e.g. 6-mlp), <layer>-res-sae "
                       "(any other set) for an SAE given by --sae; or a comma list of ids, built in one pass "
                       "(e.g. 6-mlp,6-res-sae,3-mlp); all-mlp stands for 0-mlp .. <n_layers-1>-mlp (needs --out, "
                       "and --no-db or --db)")
    build.add_argument("--sae", action="append", default=[], metavar="[ID=]PATH",
                       help="the SAE of an SAE source, once per SAE source (the bare PATH when there is only one), "
                       "e.g. --sae 6-res-sae=/data/saes/6: a SAELens folder (cfg.json + sae_weights.safetensors); "
                       "a sparsify folder (cfg.json + sae.safetensors, or a folder of those named by hook point, "
                       "e.g. layers.6); or from the Hugging Face hub (needs internet once; kept in the data dir): "
                       "saelens:RELEASE/SAE_ID, e.g. saelens:gpt2-small-res-jb/blocks.8.hook_resid_pre, or "
                       "sparsify:ORG/REPO[/HOOKPOINT]. See docs/saes.md")
    build.add_argument("--hook", action="append", default=[], metavar="[ID=]NAME",
                       help="hook point of an SAE whose cfg.json names none, e.g. 6-res-sae=blocks.6.hook_resid_post "
                       "(the bare NAME when there is only one SAE source)")
    build.add_argument("--tokens", type=int, default=200_000, help="corpus tokens to read (default 200000)")
    build.add_argument("--corpus", default="default", help="'default' (bundled), a .txt/.jsonl/.parquet file, "
                       "or hf:NAME[:CONFIG][@SPLIT] (needs internet)")
    build.add_argument("--ctx-len", type=int, default=64, help="tokens per context, BOS included (default 64)")
    build.add_argument("--seed", type=int, default=0, help="seed for corpus order and sampling (default 0)")
    build.add_argument("--batch-size", type=int, default=64, help="contexts per forward pass (default 64)")
    build.add_argument("--out", metavar="DIR", help="also write a Parquet bundle to DIR (for a list of sources, "
                       "one per source: DIR/<source id>)")
    build.add_argument("--no-db", action="store_true", help="write only the Parquet bundles (needs --out)")
    build.add_argument("--db", action="store_true", help="write to the database even with all-mlp (one source per "
                       "layer), which otherwise refuses to; other builds write to it unless --no-db")
    build.add_argument("--fresh", action="store_true", help="ignore existing checkpoints (and, for a list, "
                       "finished sources) and start over")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument("--ray", metavar="auto|ADDRESS",
                       help="run the pass as shards of contexts on a Ray cluster and merge them (the same results "
                       "as without): 'auto' joins this machine's cluster or starts a local one, ADDRESS is a "
                       "head node's HOST:6379 (every node needs the same install, model and SAE files; see "
                       "docs/dashboards.md). Needs the ray extra")
    build.add_argument("--ray-cpus", type=int, default=1, metavar="N",
                       help="CPUs (torch threads) of each Ray shard task (default 1)")
    build.set_defaults(func=_cmd_build)

    export = sub.add_parser("export", help="write a stored source as a Parquet bundle")
    _model_source_args(export)
    export.add_argument("--out", metavar="DIR", required=True, help="bundle folder to write")
    export.set_defaults(func=_cmd_export)

    imp = sub.add_parser("import", help="load a Parquet bundle into the database")
    imp.add_argument("bundle", metavar="DIR", help="bundle folder (run.json, features.parquet, examples.parquet)")
    imp.set_defaults(func=_cmd_import)

    export_data = sub.add_parser(
        "export-data", help="write a source's or a campaign's human data and scores as Parquet or a Hugging "
        "Face datasets folder, with a data card",
        description=textwrap.fill("Explanations, votes, This-vs-That choices, Odd-one-out answers, human simulations "
        "(Predict) and automatic scores of a source's or a campaign's features, one table each, with a data "
        "card (README.md). People appear by the display name they chose, else by a stable anonymous id; no "
        "e-mail, user name or password is written (see docs/data.md).", 100),
        epilog="examples:\n"
        "  featurepedia export-data --source smollm2-135m/6-mlp --format parquet out/6-mlp\n"
        "  featurepedia export-data --campaign smollm2-6 --format hf --license cc0-1.0 out/campaign",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    which = export_data.add_mutually_exclusive_group(required=True)
    which.add_argument("--source", metavar="MODEL/SOURCE", help="a stored source, e.g. smollm2-135m/6-mlp")
    which.add_argument("--campaign", metavar="SLUG", help="a campaign's features (and the answers given in it)")
    export_data.add_argument("--format", choices=["parquet", "hf"], default="parquet",
                             help="parquet: one <table>.parquet per table (datasets.load_dataset(OUT, TABLE) "
                             "reads one); hf: a datasets.DatasetDict folder (datasets.load_from_disk(OUT)); "
                             "default parquet")
    export_data.add_argument("--license", default="cc-by-4.0", help="license id written in the data card "
                             "(a Hugging Face license id; default cc-by-4.0)")
    export_data.add_argument("--include-hidden", action="store_true", help="also export explanations hidden "
                             "by moderation (status hidden) and what points at them")
    export_data.add_argument("out", metavar="OUT", help="a new (or empty) folder to write")
    export_data.set_defaults(func=_cmd_export_data)

    np_import = sub.add_parser(
        "import-neuronpedia", help="load Neuronpedia's dataset exports (features, activations, explanations) "
        "into the database",
        description=textwrap.fill("Read Neuronpedia's public dataset exports: a source's folder (model.jsonl, source.jsonl, "
        "features/, activations/, explanations/ of batch-N.jsonl.gz) or single JSON/JSONL(.gz) files, "
        "including features as their API returns them (with nested activations and explanations). "
        "Idempotent: importing again updates the same features, examples and explanations (method "
        "neuronpedia:<typeName>:<explanationModelName>). See docs/data.md.", 100),
        epilog="example (with internet, their public bucket):\n"
        "  aws s3 sync --no-sign-request s3://neuronpedia-datasets/v1/gpt2-small/6-res-jb np/6-res-jb\n"
        "  featurepedia import-neuronpedia np/6-res-jb",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    np_import.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched recursively)")
    np_import.add_argument("--model", help="our model id (default: the records' modelId)")
    np_import.add_argument("--source", help="our source id (default: the records' layer, e.g. 6-res-jb)")
    np_import.add_argument("--kind", choices=["neurons", "sae"], help="what the features are (default: "
                           "neurons for a source id ending in -mlp, else sae)")
    np_import.set_defaults(func=_cmd_import_neuronpedia)

    oa_import = sub.add_parser(
        "import-openai-neurons", help="load OpenAI neuron-explainer records (activations and scored "
        "explanations) into the database",
        description=textwrap.fill("Read OpenAI's neuron-explainer data: NeuronRecord files (collated-activations/<layer>/"
        "<neuron>.json: top and random activation records) and NeuronSimulationResults files "
        "(explanations/<layer>/<neuron>.jsonl: scored explanations). Each layer becomes the source "
        "<layer>-mlp; explanations get the method openai-neuron-explainer and their correlation score the "
        "scorer openai-simulation. Idempotent: importing again updates the same rows. See docs/data.md.", 100),
        epilog="example (with internet; the public GPT-2 small data):\n"
        "  curl -O https://openaipublic.blob.core.windows.net/neuron-explainer/gpt2_small_data/"
        "collated-activations/6/0.json\n"
        "  featurepedia import-openai-neurons --model gpt2-small data/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    oa_import.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched recursively)")
    oa_import.add_argument("--model", required=True, help="our model id (their files do not name it), e.g. "
                           "gpt2-xl or gpt2-small")
    oa_import.add_argument("--source", help="one source id for every neuron (default <layer>-mlp per layer)")
    oa_import.set_defaults(func=_cmd_import_openai_neurons)

    serve = sub.add_parser("serve", help="serve the site")
    _serve_args(serve)
    serve.set_defaults(func=_cmd_serve)

    demo = sub.add_parser("demo", help="prepare the embedded model and corpus, build the default source if "
                          "missing, explain its features, then serve",
                          description="Prepare the embedded model and corpus, build the default source if it is "
                          "missing, give every feature a token-list explanation and create the default campaign, "
                          "then serve the site while a low-priority background process builds and explains the "
                          "SAEs shipped for the model (adding their features to the campaign) and scores the "
                          "explanations (resumable: a later run does what is left). Idempotent: later runs "
                          "start at once.")
    _serve_args(demo)
    demo.add_argument("--tokens", type=int, default=None, help="token budget of each build "
                      "(default: FEATUREPEDIA_DEMO_TOKENS)")
    demo.add_argument("--no-serve", action="store_true", help="prepare, build (the shipped SAEs too), explain "
                      "and score, then exit")
    demo.add_argument("--quiet", action="store_true", help="no progress bars, and no word about work already "
                      "done (how the background process runs)")
    demo.set_defaults(func=_cmd_demo)

    explain = sub.add_parser("explain", help="write explanations of stored features with an explainer",
                             description="Idempotent: a feature that already has an explanation by this "
                             "method is skipped (use --force to rewrite). New explanations are scored with "
                             "the default scorer unless --no-score.")
    _model_source_args(explain)
    explain.add_argument("--features", default="all", help="indices: all, 5, 0-99 or 1,2,10-20 (default all)")
    explain.add_argument("--explainer", default="pattern",
                         help="pattern (default: a sentence naming the pattern, with examples), token-list, "
                         "local-lm, openai")
    explain.add_argument("--force", action="store_true", help="rewrite existing explanations by this method")
    explain.add_argument("--no-score", action="store_true", help="do not score the new explanations")
    explain.add_argument("--quiet", action="store_true", help="no progress bar")
    explain.set_defaults(func=_cmd_explain)

    fmap = sub.add_parser("map", help="lay out a stored source's features in 2-D (UMAP of their decoder "
                          "directions) for its map page")
    _model_source_args(fmap)
    fmap.add_argument("--neighbors", type=int, default=15, help="UMAP's n_neighbors (default 15)")
    fmap.add_argument("--min-dist", type=float, default=0.1, help="UMAP's min_dist (default 0.1)")
    fmap.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same map")
    fmap.set_defaults(func=_cmd_map)

    score = sub.add_parser("score", help="score stored explanations with a scorer",
                           description="Idempotent and resumable: explanations that already have a score "
                           "from this scorer are skipped; failed scores are retried. After a scorer changes "
                           "version, --rescore recomputes the scores of older versions (points already earned "
                           "stay; the best explanation follows the new scores).")
    _model_source_args(score)
    score.add_argument("--features", default="all", help="indices: all, 5, 0-99 or 1,2,10-20 (default all)")
    score.add_argument("--scorer", default=None, help="form (default), embedding, simulation, detection, fuzzing")
    score.add_argument("--rescore", action="store_true",
                       help="also recompute scores made by an older version of the scorer (resumable)")
    score.add_argument("--force", action="store_true", help="recompute every score, whatever its version")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    score.set_defaults(func=_cmd_score)

    inference = sub.add_parser("inference", help="serve live inference for one model over HTTP (production)",
                               description="Answer the web processes' inference requests (activations, search, "
                               "attribution, steering) for one model: set FEATUREPEDIA_INFERENCE_URL to its address.")
    inference.add_argument("--model", default=None, help="model id (default: FEATUREPEDIA_DEFAULT_MODEL)")
    inference.add_argument("--port", type=int, default=3001, help="port (default 3001; 0 picks a free one)")
    inference.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    inference.add_argument("--sae", action="append", default=[], metavar="SOURCE=PATH",
                           help="the SAE of a source, e.g. 6-res-sae=/data/saes/6: a SAELens or sparsify folder, "
                           "or saelens:RELEASE/SAE_ID or sparsify:ORG/REPO[/HOOKPOINT] (as build --sae; "
                           "repeatable)")
    inference.set_defaults(func=_cmd_inference)

    train = sub.add_parser("train-sae", help="train a sparse autoencoder on a model's activations",
                           description="Train a TopK (or JumpReLU) SAE with SAELens's trainer on the corpus's "
                           "training part and write it in SAELens's format (cfg.json + sae_weights.safetensors). "
                           "Checkpoints are written every --checkpoint-every tokens; running the same command "
                           "again resumes from the newest one.")
    train.add_argument("--model", default=None, help="model id (default: FEATUREPEDIA_DEFAULT_MODEL)")
    train.add_argument("--hook", required=True, help="hook point, e.g. blocks.6.hook_resid_post")
    train.add_argument("--d-sae", type=int, required=True, help="number of latents, e.g. 4608")
    train.add_argument("--k", type=int, default=32, help="active latents per token (TopK; default 32)")
    train.add_argument("--tokens", type=int, required=True, help="total training tokens, repeats included")
    train.add_argument("--architecture", default="topk", help="topk (default) or jumprelu")
    train.add_argument("--out", required=True, help="folder for the SAE and its checkpoints")
    train.add_argument("--cache-dir", default=None, help="record one pass of activations into this fp16 cache "
                       "and reuse it for every epoch (default: stream fresh activations, re-cut each epoch)")
    train.add_argument("--cache-tokens", type=int, default=None, help="tokens the cache holds (default: one "
                       "whole pass over the corpus's training part)")
    train.add_argument("--corpus", default="default", help="corpus (as for build; default: the bundled one)")
    train.add_argument("--ctx-len", type=int, default=128, help="tokens per context, BOS included (default 128)")
    train.add_argument("--batch-size", type=int, default=4096, help="tokens per step (default 4096)")
    train.add_argument("--lr", type=float, default=4e-4, help="learning rate (default 4e-4)")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    train.add_argument("--checkpoint-every", type=int, default=2_000_000, help="tokens between checkpoints "
                       "(default 2000000)")
    train.add_argument("--restart", action="store_true", help="ignore existing checkpoints in --out")
    train.add_argument("--no-autocast", action="store_true", help="fp32 matmuls (slower; default bf16 autocast)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train_sae)

    evaluate = sub.add_parser("eval-sae", help="evaluate an SAE on held-out tokens (fve, L0, dead, CE, KL)",
                              description="Evaluate a SAELens-format SAE on the corpus's held-out part. The last "
                              "line printed is one JSON object with fve, l0, dead_frac, dense_frac, "
                              "ce_loss_recovered and kl_div.")
    evaluate.add_argument("path", help="SAELens folder (cfg.json + sae_weights.safetensors)")
    evaluate.add_argument("--model", default=None, help="model id (default: the SAE's cfg.json, then "
                          "FEATUREPEDIA_DEFAULT_MODEL)")
    evaluate.add_argument("--hook", default=None, help="hook point when cfg.json names none")
    evaluate.add_argument("--tokens", type=int, default=500_000, help="held-out tokens for fve, L0, dead and "
                          "dense (default 500000)")
    evaluate.add_argument("--ce-tokens", type=int, default=20_000, help="held-out tokens for CE and KL "
                          "(default 20000)")
    evaluate.add_argument("--corpus", default="default", help="corpus (default: the bundled one)")
    evaluate.add_argument("--part", default="heldout", help="corpus part: heldout (default; never trained on) or "
                          "train (to measure the gap to text the SAE has seen)")
    evaluate.add_argument("--out", default=None, help="also write the JSON to this file")
    evaluate.set_defaults(func=_cmd_eval_sae)

    stack = sub.add_parser("stack", help="run the production stack on this machine: web, worker and inference "
                           "processes (a Procfile run by honcho)",
                           description="Check the production settings (FEATUREPEDIA_MODE=production, a real\n"
                           "FEATUREPEDIA_SECRET_KEY, a PostgreSQL FEATUREPEDIA_DATABASE_URL, FEATUREPEDIA_REDIS_URL),\n"
                           "migrate the database, collect the static files, then run the Procfile: gunicorn web\n"
                           "processes (FEATUREPEDIA_WEB_WORKERS x FEATUREPEDIA_THREADS), `featurepedia worker` and\n"
                           "`featurepedia inference`. When one process stops, the others are stopped and the command\n"
                           "exits with its code: run it under a process manager that restarts it. /healthz and\n"
                           "/readyz tell a load balancer whether the site is up (see docs/deploy.md).",
                           epilog="examples:\n"
                           "  featurepedia stack --port 3000\n"
                           "  featurepedia stack --only web,worker      # inference elsewhere "
                           "(FEATUREPEDIA_INFERENCE_URL)\n"
                           "  featurepedia stack --procfile Procfile    # write the Procfile for another runner",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    stack.add_argument("--port", type=int, default=None, help="port of the web processes (default: FEATUREPEDIA_PORT)")
    stack.add_argument("--host", default="127.0.0.1", help="address the web processes listen on (default 127.0.0.1, "
                       "behind a reverse proxy; 0.0.0.0 for every interface)")
    stack.add_argument("--inference-port", type=int, default=3001, help="port of the inference process on 127.0.0.1 "
                       "(default 3001)")
    stack.add_argument("--model", default=None, help="the inference process's model (default: "
                       "FEATUREPEDIA_DEFAULT_MODEL)")
    stack.add_argument("--only", default="web,worker,inference", metavar="NAMES",
                       help="the processes to run, comma-separated from web, worker, inference (default all)")
    stack.add_argument("--workers", type=int, default=1, help="task worker processes (default 1)")
    stack.add_argument("--procfile", metavar="PATH", help="write the Procfile to PATH ('-': print it) and exit, "
                       "for honcho, foreman or a platform that runs Procfiles")
    stack.set_defaults(func=_cmd_stack)

    worker = sub.add_parser("worker", help="run background tasks (scoring) in production mode; requeues tasks "
                            "whose worker died (FEATUREPEDIA_TASK_STALE_AFTER)")
    worker.set_defaults(func=_cmd_worker)

    models = sub.add_parser("models", help="list the registered model ids")
    models.set_defaults(func=_cmd_models)
    return parser


def _model_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model id, e.g. smollm2-135m (see `featurepedia models`), "
                   "a local folder, or a Hugging Face hub id")
    p.add_argument("--source", required=True, help="source id: <layer>-mlp for MLP neurons, e.g. 6-mlp; "
                   "<layer>-res-sae with --sae PATH (or a hub SAE) for an SAE")


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=None, help="port (default: FEATUREPEDIA_PORT, 3000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")


def _say(text: str) -> None:
    """How the long-running commands (demo, serve) tell the user what they are doing."""
    print(text, flush=True)


def _setup() -> None:
    from featurepedia.web import setup

    setup()


def _cmd_models(args: argparse.Namespace) -> int:
    from featurepedia.lm import list_models

    for model_id, description in list_models().items():
        print(f"{model_id:16} {description}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    shards = None
    if args.ray is not None:  # first: ray is imported before anything that could load usearch
        from featurepedia.dashboards.ray_shards import RayShards

        shards = RayShards(args.ray, args.ray_cpus)
    elif args.ray_cpus != 1:
        raise UsageError("--ray-cpus sets the CPUs of Ray shard tasks; add --ray auto (or --ray ADDRESS)")
    from featurepedia.corpus.contexts import ContextSpec
    from featurepedia.dashboards import RunConfig
    from featurepedia.dashboards.source_list import parse_source_list
    from featurepedia.web.catalog.building import build_source, build_sources

    if args.no_db and not args.out:
        raise UsageError("--no-db writes nothing without --out DIR; add --out or drop --no-db")
    if args.no_db and args.db:
        raise UsageError("--db and --no-db contradict each other; give one of them")
    if args.tokens < 1:
        raise UsageError(f"--tokens is {args.tokens}; give a positive number of tokens, e.g. 200000")
    if args.tokens < args.ctx_len:
        raise UsageError(f"--tokens {args.tokens} is less than one context of {args.ctx_len} tokens")
    sources = parse_source_list(args.source, args.sae, args.hook)
    if sources.all_mlp and not args.out:
        raise UsageError("--source all-mlp builds the MLP neurons of every layer as Parquet bundles, one per layer "
                         "in DIR/<layer>-mlp: add --out DIR")
    if sources.all_mlp and not (args.no_db or args.db):
        raise UsageError("--source all-mlp would put every layer's neurons in the database (one source per layer); "
                         "add --no-db to write only the bundles under --out (`featurepedia import DIR/<layer>-mlp` "
                         "loads the ones you want), or --db to write them all to the database too")
    out = Path(args.out) if args.out else None
    config = RunConfig(
        model=args.model, source=args.source, n_tokens=args.tokens, batch_size=args.batch_size,
        contexts=ContextSpec(corpus=args.corpus, ctx_len=args.ctx_len, seed=args.seed))
    if not sources.is_list:
        request = sources.single()
        config.sae_path = request.sae_path
        info = build_source(config, hook=request.hook, out=out, to_db=not args.no_db, fresh=args.fresh,
                            progress=not args.quiet, shards=shards)
        print(f"built {info.source['n_features']} features of {info.model_id}/{info.source['source_id']} from "
              f"{info.n_tokens:,} tokens in {info.elapsed_s:.1f} s")
        return 0
    built = build_sources(config, sources, out=out, to_db=not args.no_db, fresh=args.fresh,
                          progress=not args.quiet, shards=shards)
    for one in built:
        info = one.info
        name = f"{info.model_id}/{one.source_id}"
        if one.skipped:
            print(f"{name} was already built with these options: skipped (--fresh builds it again)")
        else:
            print(f"built {info.source['n_features']} features of {name} from {info.n_tokens:,} tokens "
                  f"(finished in {info.timings.get('finalize_s', 0.0):.1f} s)"
                  + (f" -> {out / one.source_id}" if out else ""))
    done = [one.info for one in built if not one.skipped]
    if done:
        print(f"{len(done)} of {len(built)} sources built in one pass of {done[0].n_tokens:,} tokens in "
              f"{max(info.elapsed_s for info in done):.1f} s (pass {done[0].timings.get('pass_s', 0.0):.1f} s)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.catalog.bundles import export_source

    n = export_source(args.model, args.source, Path(args.out))
    print(f"exported {n} features of {args.model}/{args.source} to {args.out}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.catalog.bundles import import_bundle

    run = import_bundle(Path(args.bundle))
    print(f"imported {run.model_id}/{run.source['source_id']} ({run.source['n_features']} features)")
    return 0


def _cmd_export_data(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.data_io.export import export_data, scope_for_campaign, scope_for_source

    scope = (scope_for_source(args.source, args.include_hidden) if args.source
             else scope_for_campaign(args.campaign, args.include_hidden))
    result = export_data(scope, Path(args.out), args.format, args.license)
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in result.counts.items())
    print(f"exported {scope.title} to {result.folder} ({result.format}): {counts}")
    return 0


def _cmd_import_neuronpedia(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.data_io.neuronpedia import import_neuronpedia

    for source, counts in import_neuronpedia([Path(p) for p in args.paths], args.model, args.source, args.kind):
        print(f"imported {source}: {counts}")
    return 0


def _cmd_import_openai_neurons(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.data_io.openai_neurons import import_openai_neurons

    for source, counts in import_openai_neurons([Path(p) for p in args.paths], args.model, args.source):
        print(f"imported {source}: {counts}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.explanations.batch import explain_features, select_features

    source, features = select_features(args.model, args.source, args.features)
    done = explain_features(features, args.explainer, force=args.force, score=not args.no_score,
                            progress=not args.quiet)
    print(f"explained {done} features of {source} with {args.explainer}" + (
        "" if done else " (all already had one; --force rewrites)"))
    return 0


def _cmd_map(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.maps import MapParams
    from featurepedia.web.catalog.feature_map import compute_map

    row = compute_map(args.model, args.source, MapParams(args.neighbors, args.min_dist, args.seed))
    print(f"mapped {row.params['n_features']} features of {args.model}/{args.source} in "
          f"{row.params['seconds']} s; see /{args.model}/{args.source}/map")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.explanations.batch import score_pending, select_features
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER

    source, features = select_features(args.model, args.source, args.features)
    scorer = args.scorer or DEFAULT_SCORER
    done, failed = score_pending(features, scorer, force=args.force, progress=not args.quiet, rescore=args.rescore)
    print(f"scored {done} explanations of {source} with {scorer}" + (" (older versions rescored)" if args.rescore else "") +
          (f"; {failed} failed (see their error; run again to retry)" if failed else ""))
    return 1 if failed else 0


def _cmd_train_sae(args: argparse.Namespace) -> int:
    from featurepedia.lm import get_model
    from featurepedia.training.train import TrainSettings, train_sae

    model_id = args.model or get_settings().default_model
    settings = TrainSettings(
        model_id=model_id, hook=args.hook, d_sae=args.d_sae, k=args.k, tokens=args.tokens,
        architecture=args.architecture, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        ctx_len=args.ctx_len, corpus=args.corpus, autocast=not args.no_autocast,
        checkpoint_every=args.checkpoint_every, cache_dir=args.cache_dir, cache_tokens=args.cache_tokens)
    model = get_model(model_id)
    model.hook_point(args.hook)  # an unknown hook point fails before any work
    out = train_sae(model, settings, Path(args.out), restart=args.restart, show_bar=not args.quiet)
    print(f"trained {settings.architecture} SAE ({settings.d_sae} latents) on {settings.tokens:,} tokens of "
          f"{model_id} {args.hook}; wrote {out}")
    return 0


def _cmd_eval_sae(args: argparse.Namespace) -> int:
    import json

    from featurepedia.training.evaluate import evaluate_sae

    result = evaluate_sae(Path(args.path), model_id=args.model, hook=args.hook, n_tokens=args.tokens,
                          ce_tokens=args.ce_tokens, corpus=args.corpus, say=_say, part=args.part)
    line = json.dumps(result)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(line)
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.worker import run_worker

    run_worker()
    return 0


def _cmd_stack(args: argparse.Namespace) -> int:
    from featurepedia.web import stack

    s = get_settings()
    only = stack.parse_only(args.only)
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: run at least 1 task worker, or leave worker out of --only")
    text = stack.procfile(host=args.host, port=args.port or s.port, inference_port=args.inference_port,
                          model=args.model or s.default_model, only=only, workers=args.workers)
    if args.procfile:
        if args.procfile == "-":
            print(text, end="")
        else:
            Path(args.procfile).write_text(text)
            _say(f"wrote {args.procfile}; before another runner starts it, bring the database and static files up "
                 "to date: python -m django migrate --settings featurepedia.web.settings, then the same with "
                 "collectstatic --noinput (featurepedia stack does both itself)")
        return 0
    stack.check_production(s, only)
    stack.prepare(_say)
    return stack.run(text, _say)


def _cmd_inference(args: argparse.Namespace) -> int:
    from featurepedia.inference.http import sae_paths, serve_inference

    s = get_settings()
    serve_inference(args.model or s.default_model, args.host, args.port, sae=sae_paths(args.sae),
                    queue_size=s.inference_queue_size, timeout_s=s.inference_timeout, say=_say)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    _setup()
    if get_settings().mode == "production":  # hashed static file names: the manifest must exist
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
    from featurepedia.web.server import serve

    serve(args.host, args.port or get_settings().port, _say)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from featurepedia.web.demo import run_demo

    run_demo(tokens=args.tokens, host=args.host, port=args.port, serve_site=not args.no_serve, quiet=args.quiet,
             say=_say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
