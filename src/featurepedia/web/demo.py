"""``featurepedia demo``: the embedded model and corpus, the default source built and explained, the site.

The default source (``6-mlp``, the MLP neurons of layer 6) is built and explained with ``token-list``
before the site opens, as it always was (a few ms per feature, so every feature has an explanation at
once). The SAEs the package ships for the model (``6-res-sae``, see
:func:`featurepedia.sources.sae.shipped_saes`) are built, explained and added to the campaign by one
low-priority background process, which then scores every pending explanation of both (and rescores those
an older version of the default scorer scored), and then writes the site's default explainer's
(``pattern``) explanation of every feature of both and scores it at once: the best marker moves to it
where it scores better. Writing those before the site opened would have made the first start about half
an hour longer (about 1 s of CPU per feature on 2 cores, most of it embedding the words of its examples,
for 1,536 neurons). So the site opens
as soon as it did before they shipped. Building them first would have roughly doubled the first start
(the same forward pass again, three times as many features and examples to store, and 4,608 explanations
to embed for search) and made an existing install wait minutes on the first run after an upgrade, where
it used to start at once. Meanwhile the home page shows the SAE source as building.

Idempotent: a later run finds the sources built and explained and starts at once; whatever the background
process had left (an interrupted build resumes from its checkpoint; scoring where it stopped) it does again.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from featurepedia.errors import FeaturepediaError
from featurepedia.settings import get_settings
from featurepedia.sources.sae.shipped import shipped_saes
from featurepedia.web import setup
from featurepedia.web.server import Say, serve

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from featurepedia.web.catalog.models import Feature

log = logging.getLogger(__name__)

EXPLAINER = "token-list"  # before the site opens: fast, so every feature has an explanation at once
BACKGROUND_EXPLAINER = "pattern"  # the site's default explainer: a sentence naming what the feature does, with examples
INDEX_FOLLOW_SECONDS = 10.0  # how often the site's search index catches up with the background process


def run_demo(*, tokens: int | None, host: str, port: int | None, serve_site: bool = True, quiet: bool = False,
             say: Say) -> None:
    """Prepare the model, build the default source if missing, explain its features, then serve the site
    while a background process builds the shipped SAEs and scores the explanations (or, without
    ``serve_site``, do all of that here).

    Args:
        tokens: token budget of each build (default: the FEATUREPEDIA_DEMO_TOKENS setting).
        port: port to serve on (default: the FEATUREPEDIA_PORT setting).
        quiet: no progress bars and no word about work already done (as the background process runs).
    """
    from featurepedia.lm import embedded

    settings = get_settings()
    if not quiet:
        say("preparing the embedded model (converted once, then cached in the data dir)...")
    embedded.prepare()
    setup()
    model_id, source_id = settings.default_model, settings.default_source
    tokens = tokens or settings.demo_tokens
    saes = shipped_saes(model_id)
    prepare_default_source(model_id, source_id, tokens, say, progress=not quiet, saes=saes)
    if not serve_site:
        finish_demo(model_id, source_id, saes, tokens, say, progress=not quiet)
        return
    # Building the shipped SAEs and scoring every explanation take minutes the first time: the site opens
    # at once and a background process (lower priority, resumable) does them; they appear as they finish.
    worker = background_work(model_id, source_id, saes, tokens, say)
    # Loaded before serving: the first semantic search answers at once, and the site's writes update it.
    from featurepedia.web.explanations.search_index import explanation_index

    say("preparing the explanation search index (embedded once, then kept in the data dir)...")
    explanation_index()
    if worker is not None:
        follow_index(worker)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that `kill` also stops the background process
    try:
        serve(host, port or settings.port, say)
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait()


def prepare_default_source(model_id: str, source_id: str, tokens: int, say: Say, progress: bool = True,
                           saes: Mapping[str, Path] | None = None) -> QuerySet[Feature]:
    """Build the source unless it is fully built, create its campaign (with the features of those of
    ``saes`` that are ready), give every feature a token-list explanation; returns the source's features."""
    from featurepedia.web.game.contests import ensure_running_side_quest
    from featurepedia.web.game.setup import ensure_default_campaign

    features = prepare_source(model_id, source_id, None, tokens, say, progress)
    campaign = ensure_default_campaign(model_id, source_id, also=list(saes or ()))
    if campaign is not None:
        ensure_running_side_quest(campaign)
    return features


def prepare_source(model_id: str, source_id: str, sae_path: Path | None, tokens: int, say: Say,
                   progress: bool = True) -> QuerySet[Feature]:
    """Build one source from ``tokens`` tokens of the bundled corpus unless it is fully built (an SAE from
    its SAELens folder ``sae_path``), and give each of its features a token-list explanation; returns them."""
    from featurepedia.corpus.contexts import ContextSpec
    from featurepedia.dashboards import RunConfig
    from featurepedia.web.catalog.building import build_source
    from featurepedia.web.catalog.models import Source
    from featurepedia.web.explanations.batch import explain_features

    if source_built(model_id, source_id):
        if progress:
            say(f"{model_id}/{source_id} is already built")
    else:
        what = "SAE features" if sae_path is not None else "features"
        say(f"building the {what} of {model_id}/{source_id} from {tokens:,} tokens of the bundled corpus...")
        config = RunConfig(model=model_id, source=source_id, sae_path=str(sae_path) if sae_path else None,
                           n_tokens=tokens, contexts=ContextSpec())
        info = build_source(config, progress=progress)
        say(f"built {info.source['n_features']} {what} of {model_id}/{source_id} in {info.elapsed_s:.0f} s")
    features = Source.objects.get(model__slug=model_id, slug=source_id).features.all()
    written = explain_features(features, EXPLAINER, score=False, progress=progress)
    if written:
        say(f"explained {written} features of {model_id}/{source_id} with {EXPLAINER}")
    return features


def finish_demo(model_id: str, source_id: str, saes: Mapping[str, Path], tokens: int, say: Say,
                progress: bool = True) -> None:
    """What the background process does: build and explain each shipped SAE, add its features to the
    campaign, then score every pending explanation of the demo's sources (and rescore those scored by an
    older version of the default scorer), then give every feature of those sources a
    ``BACKGROUND_EXPLAINER`` explanation, each scored as it is written. An SAE that cannot be built is
    reported and left for the next run; the rest goes on. Each explanation and score is stored as it is
    done, so an interrupted run resumes where it stopped."""
    from featurepedia.web.explanations.batch import explain_features, score_pending
    from featurepedia.web.game.setup import ensure_default_campaign

    for sae_id, path in saes.items():
        try:
            prepare_source(model_id, sae_id, path, tokens, say, progress)
        except FeaturepediaError as err:
            say(f"could not build {model_id}/{sae_id} from {path}: {err.message}; the next run tries again")
    ensure_default_campaign(model_id, source_id, also=list(saes))
    make_maps(model_id, [source_id, *saes], say)
    scored, failed = score_pending(demo_features(model_id, [source_id, *saes]), progress=progress, rescore=True)
    if scored or failed:
        say(f"scored {scored} explanations" + (f" ({failed} failed; the next run retries them)" if failed else ""))
    for sid in [source_id, *saes]:
        if not source_built(model_id, sid):
            continue
        written = explain_features(demo_features(model_id, [sid]), BACKGROUND_EXPLAINER, score=True,
                                   progress=progress)
        if written:
            say(f"explained {written} features of {model_id}/{sid} with {BACKGROUND_EXPLAINER} and scored them")


def make_maps(model_id: str, source_ids: list[str], say: Say) -> None:
    """The map of each built source that has none (about a minute each on two cores)."""
    from featurepedia.web.catalog.feature_map import compute_map, needs_map

    for sid in source_ids:
        if source_built(model_id, sid) and needs_map(model_id, sid):
            try:
                row = compute_map(model_id, sid)
            except FeaturepediaError as err:
                say(f"could not map {model_id}/{sid}: {err.message}; the next run tries again")
                continue
            say(f"mapped the features of {model_id}/{sid} in {row.params['seconds']} s")


def source_built(model_id: str, source_id: str) -> bool:
    """True when the source is stored, ready, with all its features."""
    from featurepedia.web.catalog.models import Source

    stored = Source.objects.filter(model__slug=model_id, slug=source_id, status=Source.Status.READY).first()
    return stored is not None and stored.features.count() == stored.n_features


def demo_features(model_id: str, source_ids: list[str]) -> QuerySet[Feature]:
    from featurepedia.web.catalog.models import Feature

    return Feature.objects.filter(source__model__slug=model_id, source__slug__in=source_ids)


def work_left(model_id: str, source_id: str, saes: Mapping[str, Path]) -> list[str]:
    """What the background process would do, in words; empty when nothing is left.

    An SAE is done when it is fully built, every feature has a token-list explanation and the campaign
    holds its features; the scoring is done when no explanation of the demo's sources is pending or holds a
    score from an older version of the default scorer; the explaining when every feature of the built
    sources has a ``BACKGROUND_EXPLAINER`` explanation.
    """
    from featurepedia.interp import get_explainer
    from featurepedia.web.catalog.models import Source
    from featurepedia.web.explanations.batch import pending_explanations
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER
    from featurepedia.web.game.setup import default_campaign

    left = []
    campaign = default_campaign(model_id, source_id)
    method = get_explainer(EXPLAINER).method
    for sae_id in saes:
        if not source_built(model_id, sae_id):
            left.append(f"build the SAE features of {model_id}/{sae_id}")
            continue
        source = Source.objects.get(model__slug=model_id, slug=sae_id)
        in_campaign = campaign.feature_queryset().filter(source=source).count() if campaign is not None else 0
        if source.features.exclude(explanations__method=method).exists():
            left.append(f"explain the SAE features of {model_id}/{sae_id}")
        elif campaign is not None and in_campaign < source.n_features:
            left.append(f"add the SAE features of {model_id}/{sae_id} to the campaign")
    from featurepedia.web.catalog.feature_map import needs_map

    saes_left = bool(left)  # their explanations are yet to be written: they will be pending too
    unmapped = [sid for sid in [source_id, *saes] if source_built(model_id, sid) and needs_map(model_id, sid)]
    if unmapped:
        left.append("map the features of " + ", ".join(f"{model_id}/{sid}" for sid in unmapped))
    pending = pending_explanations(demo_features(model_id, [source_id, *saes]), DEFAULT_SCORER, rescore=True).count()
    if saes_left:
        now = f" ({pending:,} now, and theirs)" if pending else ""
        left.append(f"score the explanations with {DEFAULT_SCORER}{now}")
    elif pending:
        left.append(f"score {pending:,} explanations with {DEFAULT_SCORER}")
    background = get_explainer(BACKGROUND_EXPLAINER).method
    built = [sid for sid in [source_id, *saes] if source_built(model_id, sid)]
    unexplained = demo_features(model_id, built).exclude(explanations__method=background).count()
    if saes_left:
        now = f" ({unexplained:,} now, and theirs)" if unexplained else ""
        left.append(f"explain the features with {BACKGROUND_EXPLAINER} and score them{now}")
    elif unexplained:
        left.append(f"explain {unexplained:,} features with {BACKGROUND_EXPLAINER} and score them")
    return left


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def background_work(model_id: str, source_id: str, saes: Mapping[str, Path], tokens: int,
                    say: Say) -> subprocess.Popen[bytes] | None:
    """Start ``featurepedia demo --no-serve --quiet`` in a child process at low priority for what is left
    (see :func:`work_left`), or return None when nothing is. What it has done stays if it is stopped; the
    next run does the rest."""
    left = work_left(model_id, source_id, saes)
    if not left:
        return None
    say(f"in the background: {'; then '.join(left)}. The site works meanwhile; results appear as they finish")
    command = [sys.executable, "-m", "featurepedia.cli", "demo", "--no-serve", "--quiet", "--tokens", str(tokens)]
    nice = shutil.which("nice")
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # no library progress bars in the site's log
    return subprocess.Popen([nice, "-n", "10", *command] if nice else command, env=env)


def follow_index(worker: subprocess.Popen[bytes], every: float = INDEX_FOLLOW_SECONDS) -> threading.Thread:
    """While the background process runs, bring the site's search index up to date every few seconds on a
    thread of its own, so that the thousands of explanations it writes are embedded there and not in the
    first search request after them."""
    from django.db import DatabaseError, connection

    from featurepedia.web.explanations.search_index import explanation_index

    def follow() -> None:
        running = True
        while running:
            running = worker.poll() is None
            try:
                explanation_index()
            except (DatabaseError, OSError) as err:  # busy database, full disk: the next round tries again
                log.warning("the search index could not catch up with the background process: %s", err)
            finally:
                connection.close()  # this thread's own connection
            if running:
                time.sleep(every)

    thread = threading.Thread(target=follow, name="demo-index-follow", daemon=True)
    thread.start()
    return thread
