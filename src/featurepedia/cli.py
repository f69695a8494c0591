"""The ``featurepedia`` command: build dashboards, export/import bundles, serve the site, run the demo."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from featurepedia import runtime
from featurepedia.settings import SettingsError, get_settings, settings_help

EPILOG = "settings (environment variables):\n" + "\n".join(
    f"  {name}  (default: {default})\n      {text}" for name, default, text in settings_help())


MIGRATE_LOCK = 0x46504D47  # PostgreSQL advisory lock key held while migrating ("FPMG")


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


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
    except (CommandError, SettingsError) as err:
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

    build = sub.add_parser("build", help="compute feature dashboards for a model's source and store them",
                           description="One streaming pass over the corpus computes every feature's top "
                           "examples, quantile samples, histogram, density, logit effects and neighbours. "
                           "Interrupted builds resume from their checkpoint when run again with the same "
                           "options.")
    _model_source_args(build)
    build.add_argument("--sae", metavar="PATH", help="SAELens folder (cfg.json + sae_weights.safetensors) for "
                       "an SAE source such as 6-res-sae")
    build.add_argument("--hook", metavar="NAME", help="hook point for the SAE when its cfg.json names none, "
                       "e.g. blocks.6.hook_resid_post")
    build.add_argument("--tokens", type=int, default=200_000, help="corpus tokens to read (default 200000)")
    build.add_argument("--corpus", default="default", help="'default' (bundled), a .txt/.jsonl/.parquet file, "
                       "or hf:NAME[:CONFIG][@SPLIT] (needs internet)")
    build.add_argument("--ctx-len", type=int, default=64, help="tokens per context, BOS included (default 64)")
    build.add_argument("--seed", type=int, default=0, help="seed for corpus order and sampling (default 0)")
    build.add_argument("--batch-size", type=int, default=64, help="contexts per forward pass (default 64)")
    build.add_argument("--out", metavar="DIR", help="also write a Parquet bundle to DIR")
    build.add_argument("--no-db", action="store_true", help="write only the Parquet bundle (needs --out)")
    build.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
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
                          "then serve the site while a low-priority background process scores the explanations "
                          "(resumable: a later run scores what is left). Idempotent: later runs start at once.")
    _serve_args(demo)
    demo.add_argument("--tokens", type=int, default=None, help="token budget of the default build "
                      "(default: FEATUREPEDIA_DEMO_TOKENS)")
    demo.add_argument("--no-serve", action="store_true", help="prepare, build, explain and score, then exit")
    demo.set_defaults(func=_cmd_demo)

    explain = sub.add_parser("explain", help="write explanations of stored features with an explainer",
                             description="Idempotent: a feature that already has an explanation by this "
                             "method is skipped (use --force to rewrite). New explanations are scored with "
                             "the default scorer unless --no-score.")
    _model_source_args(explain)
    explain.add_argument("--features", default="all", help="indices: all, 5, 0-99 or 1,2,10-20 (default all)")
    explain.add_argument("--explainer", default="token-list", help="token-list (default), local-lm, openai")
    explain.add_argument("--force", action="store_true", help="rewrite existing explanations by this method")
    explain.add_argument("--no-score", action="store_true", help="do not score the new explanations")
    explain.add_argument("--quiet", action="store_true", help="no progress bar")
    explain.set_defaults(func=_cmd_explain)

    score = sub.add_parser("score", help="score stored explanations with a scorer",
                           description="Idempotent and resumable: explanations that already have a score "
                           "from this scorer are skipped; failed scores are retried.")
    _model_source_args(score)
    score.add_argument("--features", default="all", help="indices: all, 5, 0-99 or 1,2,10-20 (default all)")
    score.add_argument("--scorer", default=None, help="embedding (default), simulation, detection, fuzzing")
    score.add_argument("--force", action="store_true", help="rescore explanations that already have a score")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    score.set_defaults(func=_cmd_score)

    worker = sub.add_parser("worker", help="run background tasks (scoring) in production mode")
    worker.set_defaults(func=_cmd_worker)

    models = sub.add_parser("models", help="list the registered model ids")
    models.set_defaults(func=_cmd_models)
    return parser


def _model_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model id, e.g. smollm2-135m (see `featurepedia models`), "
                   "a local folder, or a Hugging Face hub id")
    p.add_argument("--source", required=True, help="source id: <layer>-mlp for MLP neurons, e.g. 6-mlp; "
                   "<layer>-res-sae with --sae PATH for an SAE")


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=None, help="port (default: FEATUREPEDIA_PORT, 3000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")


def _django() -> None:
    from django.core.management import call_command

    from featurepedia.web import setup

    setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        call_command("migrate", verbosity=0, interactive=False)
        return
    # Several processes (web, workers) may start at once on a new database: one migrates, the others wait
    # for it (a session-level advisory lock) and then find nothing left to do.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK])
        try:
            call_command("migrate", verbosity=0, interactive=False)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK])


def _cmd_models(args: argparse.Namespace) -> int:
    from featurepedia.lm import list_models

    for model_id, description in list_models().items():
        print(f"{model_id:16} {description}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from featurepedia.corpus.contexts import ContextSpec
    from featurepedia.dashboards import RunConfig

    if args.no_db and not args.out:
        raise CommandError("--no-db writes nothing without --out DIR; add --out or drop --no-db")
    if args.tokens < 1:
        raise CommandError(f"--tokens is {args.tokens}; give a positive number of tokens, e.g. 200000")
    if args.tokens < args.ctx_len:
        raise CommandError(f"--tokens {args.tokens} is less than one context of {args.ctx_len} tokens")
    config = RunConfig(
        model=args.model, source=args.source, sae_path=args.sae, n_tokens=args.tokens,
        batch_size=args.batch_size, contexts=ContextSpec(corpus=args.corpus, ctx_len=args.ctx_len, seed=args.seed))
    info = build(config, hook=args.hook, out=Path(args.out) if args.out else None, to_db=not args.no_db,
                 fresh=args.fresh, progress=not args.quiet)
    print(f"built {info.source['n_features']} features of {info.model_id}/{info.source['source_id']} from "
          f"{info.n_tokens:,} tokens in {info.elapsed_s:.1f} s")
    return 0


def build(config, hook: str | None = None, out: Path | None = None, to_db: bool = True,  # type: ignore[no-untyped-def]
          fresh: bool = False, progress: bool = True):
    """Run a dashboards build into the database and/or a bundle (shared by `build` and `demo`)."""
    import torch

    from featurepedia.corpus import CorpusError
    from featurepedia.dashboards import ParquetSink, run_dashboards
    from featurepedia.dashboards.runner import CHECKPOINT
    from featurepedia.lm import HookPointError, ModelNotFoundError, load_model
    from featurepedia.sources import SourceError, source_for

    settings = get_settings()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    try:
        model = load_model(config.model)
        source = source_for(model, config.source, sae_path=config.sae_path, hook_name=hook)
    except (ModelNotFoundError, HookPointError, SourceError, OSError) as err:
        raise CommandError(str(err)) from None
    run_dir = settings.runs_dir / model.model_id / source.source_id
    if fresh:
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
    sinks: list = []  # type: ignore[type-arg]
    if to_db:
        _django()
        from featurepedia.web.catalog.sink import DatabaseSink

        sinks.append(DatabaseSink())
    if out is not None:
        sinks.append(ParquetSink(out))
    try:
        return run_dashboards(model, source, config, _Fanout(sinks), run_dir, progress=progress)
    except CorpusError as err:
        raise CommandError(str(err)) from None


class _Fanout:
    """Send a run's results to several sinks."""

    def __init__(self, sinks: list) -> None:  # type: ignore[type-arg]
        self.sinks = sinks

    def begin(self, run) -> None:  # type: ignore[no-untyped-def]
        for s in self.sinks:
            s.begin(run)

    def write_features(self, features) -> None:  # type: ignore[no-untyped-def]
        for s in self.sinks:
            s.write_features(features)

    def finish(self, run) -> None:  # type: ignore[no-untyped-def]
        for s in self.sinks:
            s.finish(run)

    def abort(self) -> None:
        for s in self.sinks:
            s.abort()


def _cmd_export(args: argparse.Namespace) -> int:
    _django()
    from featurepedia.web.catalog.bundles import CatalogError, export_source

    try:
        n = export_source(args.model, args.source, Path(args.out))
    except CatalogError as err:
        raise CommandError(str(err)) from None
    print(f"exported {n} features of {args.model}/{args.source} to {args.out}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    _django()
    from featurepedia.dashboards.parquet import BundleError
    from featurepedia.web.catalog.bundles import import_bundle

    try:
        run = import_bundle(Path(args.bundle))
    except BundleError as err:
        raise CommandError(str(err)) from None
    print(f"imported {run.model_id}/{run.source['source_id']} ({run.source['n_features']} features)")
    return 0


def parse_indices(spec: str, n_features: int) -> list[int]:
    """'all', '5', '0-99' or '1,2,10-20' -> sorted feature indices; errors say what is wrong."""
    if spec.strip() == "all":
        return list(range(n_features))
    out: set[int] = set()
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise CommandError(f"--features {spec!r}: {part!r} is not an index or range; use e.g. 0-99 or 1,2,10-20")
        first, last = int(lo), int(hi) if sep else int(lo)
        if first > last or last >= n_features:
            raise CommandError(f"--features {spec!r}: {part!r} is outside 0-{n_features - 1}")
        out.update(range(first, last + 1))
    return sorted(out)


def _stored_features(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    _django()
    from featurepedia.web.catalog.bundles import CatalogError, find_source

    try:
        source = find_source(args.model, args.source)
    except CatalogError as err:
        raise CommandError(str(err)) from None
    indices = parse_indices(args.features, source.n_features)
    return source, source.features.filter(index__in=indices).order_by("index")


def _cmd_explain(args: argparse.Namespace) -> int:
    source, features = _stored_features(args)
    done = explain_features(features, args.explainer, force=args.force, score=not args.no_score,
                            progress=not args.quiet)
    print(f"explained {done} features of {source} with {args.explainer}" + (
        "" if done else " (all already had one; --force rewrites)"))
    return 0


def explain_features(features, explainer: str, force: bool = False, score: bool = True,  # type: ignore[no-untyped-def]
                     progress: bool = True) -> int:
    """Explain (and score) features that lack an explanation by this method; returns how many were written."""
    from tqdm.auto import tqdm

    from featurepedia.interp import InterpError, get_explainer
    from featurepedia.web.explanations.scoring import explain_feature, score_explanation

    try:
        method = getattr(get_explainer(explainer), "method", explainer)
    except InterpError as err:
        raise CommandError(str(err)) from None
    if not force:
        features = features.exclude(explanations__method=method)
    written = 0
    for feature in tqdm(list(features.select_related("source")), desc=f"explain ({explainer})",
                        unit="feature", disable=not progress):
        try:
            explanation = explain_feature(feature, explainer)
        except InterpError as err:
            raise CommandError(f"feature {feature.index}: {err}") from None
        if score:
            score_explanation(explanation)
        written += 1
    return written


def _cmd_score(args: argparse.Namespace) -> int:
    source, features = _stored_features(args)
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER

    scorer = args.scorer or DEFAULT_SCORER
    done, failed = score_pending(features, scorer, force=args.force, progress=not args.quiet)
    print(f"scored {done} explanations of {source} with {scorer}" +
          (f"; {failed} failed (see their error; run again to retry)" if failed else ""))
    return 1 if failed else 0


def score_pending(features, scorer: str | None = None, force: bool = False,  # type: ignore[no-untyped-def]
                  progress: bool = False) -> tuple[int, int]:
    """Score live explanations of ``features`` without an OK score (all with force); (scored, failed)."""
    from tqdm.auto import tqdm

    from featurepedia.web.explanations.models import Explanation, ExplanationScore
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER, score_explanation

    scorer = scorer or DEFAULT_SCORER
    explanations = Explanation.objects.filter(feature__in=features, status=Explanation.Status.LIVE)
    if not force:
        explanations = explanations.exclude(scores__scorer=scorer, scores__status=ExplanationScore.Status.OK)
    todo = list(explanations.select_related("feature__source").order_by("feature__index", "pk"))
    failed = 0
    for explanation in tqdm(todo, desc=f"score ({scorer})", unit="explanation", disable=not progress):
        failed += score_explanation(explanation, scorer).status == ExplanationScore.Status.FAILED
    return len(todo) - failed, failed


def _cmd_worker(args: argparse.Namespace) -> int:
    _django()
    from django.core.management import call_command

    call_command("db_worker")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    _django()
    serve(args.host, args.port or get_settings().port)
    return 0


def serve(host: str, port: int) -> None:
    """Serve the site with waitress (multi-threaded, pure Python) until interrupted."""
    from waitress import serve as waitress_serve

    from featurepedia.web.wsgi import application

    print(f"Featurepedia is at http://{host}:{port}/  (Ctrl+C stops it)", flush=True)
    waitress_serve(application, host=host, port=port, threads=get_settings().threads, ident="featurepedia")


def _cmd_demo(args: argparse.Namespace) -> int:
    from featurepedia.corpus.contexts import ContextSpec
    from featurepedia.dashboards import RunConfig
    from featurepedia.lm import embedded

    settings = get_settings()
    print("preparing the embedded model (converted once, then cached in the data dir)...", flush=True)
    embedded.prepare()
    _django()
    from featurepedia.web.catalog.models import Source

    model_id, source_id = settings.default_model, settings.default_source
    stored = Source.objects.filter(model__slug=model_id, slug=source_id, status=Source.Status.READY).first()
    if stored is not None and stored.features.count() == stored.n_features:
        print(f"{model_id}/{source_id} is already built ({stored.n_features} features)")
    else:
        tokens = args.tokens or settings.demo_tokens
        print(f"building {model_id}/{source_id} from {tokens:,} tokens of the bundled corpus...", flush=True)
        config = RunConfig(model=model_id, source=source_id, n_tokens=tokens, contexts=ContextSpec())
        info = build(config)
        print(f"built {info.source['n_features']} features in {info.elapsed_s:.0f} s")
    from featurepedia.web.game.setup import ensure_default_campaign

    ensure_default_campaign(model_id, source_id)
    stored = Source.objects.get(model__slug=model_id, slug=source_id)
    written = explain_features(stored.features.all(), "token-list", score=False)
    if written:
        print(f"explained {written} features with token-list")
    if args.no_serve:
        scored, _ = score_pending(stored.features.all(), progress=True)
        if scored:
            print(f"scored {scored} explanations")
        return 0
    # Scoring every explanation takes minutes the first time: the site opens at once and a background
    # process (lower priority, resumable) scores them; scores appear on the pages as they finish.
    scorer = background_scoring(stored.features.all(), model_id, source_id)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that `kill` also stops the background scorer
    try:
        serve(args.host, args.port or settings.port)
    finally:
        if scorer is not None and scorer.poll() is None:
            scorer.terminate()
            scorer.wait()
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def background_scoring(features, model_id: str, source_id: str):  # type: ignore[no-untyped-def]
    """Start ``featurepedia score`` for the features' unscored explanations in a child process at low
    priority, or return None when none is left. What it has scored stays if it is stopped; the next run
    scores the rest."""
    import shutil
    import subprocess

    from featurepedia.web.explanations.models import Explanation, ExplanationScore
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER

    pending = (Explanation.objects.filter(feature__in=features, status=Explanation.Status.LIVE)
               .exclude(scores__scorer=DEFAULT_SCORER, scores__status=ExplanationScore.Status.OK).count())
    if not pending:
        return None
    print(f"scoring {pending} explanations in the background with {DEFAULT_SCORER}; the site works "
          "meanwhile and scores appear as they finish", flush=True)
    command = [sys.executable, "-m", "featurepedia.cli", "score", "--model", model_id, "--source", source_id,
               "--quiet"]
    nice = shutil.which("nice")
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # no library progress bars in the site's log
    return subprocess.Popen([nice, "-n", "10", *command] if nice else command, env=env)


if __name__ == "__main__":
    sys.exit(main())
