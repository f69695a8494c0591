"""``featurepedia demo``: the embedded model and corpus, the default source built and explained, the site.

Idempotent: a later run finds the source built and explained and starts at once; scoring, which takes
minutes the first time, resumes where it stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from featurepedia.settings import get_settings
from featurepedia.web import setup
from featurepedia.web.server import Say, serve

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from featurepedia.web.catalog.models import Feature


def run_demo(*, tokens: int | None, host: str, port: int | None, serve_site: bool = True, say: Say) -> None:
    """Prepare the model, build the default source if missing, explain its features, then serve the site
    while a background process scores the explanations (or, without ``serve_site``, score them here).

    Args:
        tokens: token budget of the default build (default: the FEATUREPEDIA_DEMO_TOKENS setting).
        port: port to serve on (default: the FEATUREPEDIA_PORT setting).
    """
    from featurepedia.lm import embedded

    settings = get_settings()
    say("preparing the embedded model (converted once, then cached in the data dir)...")
    embedded.prepare()
    setup()
    # Django models can be imported only now, after the setup.
    from featurepedia.web.explanations.batch import score_pending

    model_id, source_id = settings.default_model, settings.default_source
    features = prepare_default_source(model_id, source_id, tokens or settings.demo_tokens, say)
    if not serve_site:
        scored, _ = score_pending(features, progress=True)
        if scored:
            say(f"scored {scored} explanations")
        return
    # Scoring every explanation takes minutes the first time: the site opens at once and a background
    # process (lower priority, resumable) scores them; scores appear on the pages as they finish.
    scorer = background_scoring(features, model_id, source_id, say)
    # Loaded before serving: the first semantic search answers at once, and the site's writes update it.
    from featurepedia.web.explanations.search_index import explanation_index

    say("preparing the explanation search index (embedded once, then kept in the data dir)...")
    explanation_index()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that `kill` also stops the background scorer
    try:
        serve(host, port or settings.port, say)
    finally:
        if scorer is not None and scorer.poll() is None:
            scorer.terminate()
            scorer.wait()


def prepare_default_source(model_id: str, source_id: str, tokens: int, say: Say) -> QuerySet[Feature]:
    """Build the source unless it is fully built, create its campaign, give every feature a token-list
    explanation; returns the source's features."""
    from featurepedia.corpus.contexts import ContextSpec
    from featurepedia.dashboards import RunConfig
    from featurepedia.web.catalog.building import build_source
    from featurepedia.web.catalog.models import Source
    from featurepedia.web.explanations.batch import explain_features
    from featurepedia.web.game.setup import ensure_default_campaign

    stored = Source.objects.filter(model__slug=model_id, slug=source_id, status=Source.Status.READY).first()
    if stored is not None and stored.features.count() == stored.n_features:
        say(f"{model_id}/{source_id} is already built ({stored.n_features} features)")
    else:
        say(f"building {model_id}/{source_id} from {tokens:,} tokens of the bundled corpus...")
        config = RunConfig(model=model_id, source=source_id, n_tokens=tokens, contexts=ContextSpec())
        info = build_source(config)
        say(f"built {info.source['n_features']} features in {info.elapsed_s:.0f} s")
    ensure_default_campaign(model_id, source_id)
    features = Source.objects.get(model__slug=model_id, slug=source_id).features.all()
    written = explain_features(features, "token-list", score=False)
    if written:
        say(f"explained {written} features with token-list")
    return features


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def background_scoring(features: QuerySet[Feature], model_id: str, source_id: str,
                       say: Say) -> subprocess.Popen[bytes] | None:
    """Start ``featurepedia score`` for the features' unscored explanations in a child process at low
    priority, or return None when none is left. What it has scored stays if it is stopped; the next run
    scores the rest."""
    from featurepedia.web.explanations.batch import pending_explanations
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER

    pending = pending_explanations(features, DEFAULT_SCORER).count()
    if not pending:
        return None
    say(f"scoring {pending} explanations in the background with {DEFAULT_SCORER}; the site works "
        "meanwhile and scores appear as they finish")
    command = [sys.executable, "-m", "featurepedia.cli", "score", "--model", model_id, "--source", source_id,
               "--quiet"]
    nice = shutil.which("nice")
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # no library progress bars in the site's log
    return subprocess.Popen([nice, "-n", "10", *command] if nice else command, env=env)
