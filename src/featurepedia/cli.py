"""The ``featurepedia`` command: build dashboards, move bundles, serve the site and inference, run the demo."""

from __future__ import annotations

import argparse
import logging
import sys
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
                           "  featurepedia build --model smollm2-135m --source all-mlp --out bundles --no-db",
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
    build.set_defaults(func=_cmd_build)

    export = sub.add_parser("export", help="write a stored source as a Parquet bundle")
    _model_source_args(export)
    export.add_argument("--out", metavar="DIR", required=True, help="bundle folder to write")
    export.set_defaults(func=_cmd_export)

    imp = sub.add_parser("import", help="load a Parquet bundle into the database")
    imp.add_argument("bundle", metavar="DIR", help="bundle folder (run.json, features.parquet, examples.parquet)")
    imp.set_defaults(func=_cmd_import)

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
    explain.add_argument("--explainer", default="token-list", help="token-list (default), pattern, local-lm, openai")
    explain.add_argument("--force", action="store_true", help="rewrite existing explanations by this method")
    explain.add_argument("--no-score", action="store_true", help="do not score the new explanations")
    explain.add_argument("--quiet", action="store_true", help="no progress bar")
    explain.set_defaults(func=_cmd_explain)

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

    worker = sub.add_parser("worker", help="run background tasks (scoring) in production mode")
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
                            progress=not args.quiet)
        print(f"built {info.source['n_features']} features of {info.model_id}/{info.source['source_id']} from "
              f"{info.n_tokens:,} tokens in {info.elapsed_s:.1f} s")
        return 0
    built = build_sources(config, sources, out=out, to_db=not args.no_db, fresh=args.fresh,
                          progress=not args.quiet)
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


def _cmd_explain(args: argparse.Namespace) -> int:
    _setup()
    from featurepedia.web.explanations.batch import explain_features, select_features

    source, features = select_features(args.model, args.source, args.features)
    done = explain_features(features, args.explainer, force=args.force, score=not args.no_score,
                            progress=not args.quiet)
    print(f"explained {done} features of {source} with {args.explainer}" + (
        "" if done else " (all already had one; --force rewrites)"))
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
    from django.core.management import call_command

    call_command("db_worker")
    return 0


def _cmd_inference(args: argparse.Namespace) -> int:
    from featurepedia.inference.http import sae_paths, serve_inference

    s = get_settings()
    serve_inference(args.model or s.default_model, args.host, args.port, sae=sae_paths(args.sae),
                    queue_size=s.inference_queue_size, timeout_s=s.inference_timeout, say=_say)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    _setup()
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
