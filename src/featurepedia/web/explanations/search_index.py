"""The vector index of live explanations: where it lives, how it is built, and how it follows the database.

The database is the truth and the index a per-process cache of it. Each process loads the file
``<data dir>/search/explanations.usearch`` (or builds it from the database when missing), then brings it up
to date with one scan of (id, source, updated) over the live explanations: new or changed rows are embedded,
vanished ones removed. So a stale, old or half-written file costs re-embedding, never wrong results.

After that it stays current two ways:

- writes in this process (the site's submit/edit/delete): Django signals, applied once the transaction
  commits. A single save embeds its one text inline (~5-20 ms, in the request that made it). Bulk writers
  (``featurepedia explain``) wrap their loop in :func:`deferred_updates`, which embeds once at the end in
  batches; a process that never searched has no index loaded and skips all of this.
- writes by other processes or hosts (workers, CLI runs, other web hosts): at most every
  ``SYNC_INTERVAL`` seconds a search compares the database's (live count, newest ``updated``) with what the
  index has seen; on a change it fetches the rows updated since, and does the full scan when counts still
  differ (deletions leave no row behind to fetch).

With several web hosts each keeps its own copy in its own data dir, kept current the same way; the file is
rewritten (atomically) after a build and every ``SAVE_EVERY`` changes, so a restart needs little embedding.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Q

from featurepedia.search import VectorIndex
from featurepedia.search.vectors import Allowed, Hit
from featurepedia.settings import get_settings
from featurepedia.web.explanations.models import Explanation

log = logging.getLogger(__name__)

SYNC_INTERVAL = 2.0  # seconds between checks for other processes' writes
SAVE_EVERY = 256  # changes between rewrites of the index file
# Rows are re-read from a little before the newest `updated` seen: a transaction that commits late can carry
# an `updated` older than rows already applied.
OVERLAP = timedelta(minutes=5)
EMBED_BATCH = 256


def index_path() -> Path:
    """The index file of this data dir; its sync state is the ``.json`` file beside it."""
    return get_settings().search_dir / "explanations.usearch"


def embed_texts(texts: list[str]) -> np.ndarray:
    """Unit sentence embeddings [n, 384] from the bundled MiniLM (the model loads on first use)."""
    from featurepedia.interp.backends.sentence import embed

    return embed(texts)


class ExplanationIndex:
    """The vector index of live explanations of one process, and its sync with the database."""

    def __init__(self, path: Path, vectors: VectorIndex | None = None, watermark: datetime | None = None) -> None:
        self.path = path
        self.vectors = vectors or VectorIndex()
        self.watermark = watermark  # the newest `updated` applied (None: nothing can be trusted)
        self._source_of: dict[int, int] = {}
        self._by_source: dict[int, set[int]] = {}
        self._applied: dict[int, datetime] = {}  # id -> `updated` applied, for rows inside OVERLAP
        self._fingerprint: tuple[int, datetime | None] | None = None
        self._checked = 0.0
        self._unsaved = 0
        self._write = threading.Lock()  # one syncing or updating thread at a time
        self._maps = threading.Lock()  # guards the source sets, which searches read while a writer fills them

    # -- reading

    def search(self, query: np.ndarray, k: int, source_ids: Iterable[int] | None = None) -> list[Hit]:
        """The k nearest live explanations to an embedded query, optionally within some sources."""
        allowed: Allowed | None = None
        if source_ids is not None:
            with self._maps:
                sets = [self._by_source.get(s, set()) for s in source_ids]
                # A small set is iterated by the scan, so it is copied; a large one is only probed with
                # `in`, which is safe while a writer adds to it.
                if len(sets) == 1 and len(sets[0]) >= self.vectors.exact_below:
                    allowed = sets[0]
                else:
                    allowed = set().union(*sets)
            if not allowed:
                return []
        return self.vectors.search(query, k, allowed)

    # -- keeping current

    def full_sync(self) -> int:
        """Make the index hold exactly the live explanations, re-embedding those changed since the watermark;
        returns how many rows were embedded or removed."""
        with self._write:
            # Taken before the scan: a write during it changes the fingerprint, so the next check sees it.
            fingerprint = self._db_fingerprint()
            rows = list(Explanation.objects.filter(status=Explanation.Status.LIVE)
                        .values_list("pk", "feature__source_id", "updated"))
            present = set(self.vectors.keys().tolist())
            since = self.watermark - OVERLAP if self.watermark is not None else None
            todo = [pk for pk, _, updated in rows if pk not in present or since is None
                    or (updated >= since and self._applied.get(pk) != updated)]
            source_of = {pk: source_id for pk, source_id, _ in rows}
            by_source: dict[int, set[int]] = {}
            for pk, source_id in source_of.items():
                by_source.setdefault(source_id, set()).add(pk)
            with self._maps:  # swapped whole, so a concurrent filtered search never sees them half-filled
                self._source_of, self._by_source = source_of, by_source
            changed = self._remove([pk for pk in present if pk not in source_of]) + self._embed(todo)
            self._fingerprint = fingerprint
            self._checked = time.monotonic()
            return changed

    def maybe_sync(self) -> None:
        """Catch up with other processes' writes, at most every SYNC_INTERVAL seconds; never blocks a search
        on another thread's sync (it uses the index as it is)."""
        if time.monotonic() - self._checked < SYNC_INTERVAL or not self._write.acquire(blocking=False):
            return
        try:
            self._checked = time.monotonic()
            fingerprint = self._db_fingerprint()
            if fingerprint == self._fingerprint:
                return
            since = self.watermark - OVERLAP if self.watermark is not None else None
            rows = Explanation.objects.all() if since is None else Explanation.objects.filter(updated__gte=since)
            self._apply_rows(rows.values_list("pk", "status", "feature__source_id", "updated"))
            self._fingerprint = fingerprint
            needs_scan = fingerprint[0] != len(self.vectors)
        finally:
            self._write.release()
        if needs_scan:
            self.full_sync()
        self._save_if_due()

    def apply(self, pks: Iterable[int]) -> None:
        """Bring these explanations' entries in line with the database (after they were written or deleted)."""
        pks = list(pks)
        if not pks:
            return
        with self._write:
            rows = Explanation.objects.filter(pk__in=pks).values_list("pk", "status", "feature__source_id", "updated")
            rows = list(rows)
            found = {pk for pk, *_ in rows}
            self._remove([pk for pk in pks if pk not in found])
            self._apply_rows(rows, force=True)
        self._save_if_due()

    def _apply_rows(self, rows: Iterable[tuple[int, str, int, datetime]], force: bool = False) -> None:
        todo, gone = [], []
        for pk, status, source_id, updated in rows:
            if status != Explanation.Status.LIVE:
                gone.append(pk)
            elif force or self._applied.get(pk) != updated:
                self._remember(pk, source_id)
                todo.append(pk)
        self._remove(gone)
        self._embed(todo)

    def _remember(self, pk: int, source_id: int) -> None:
        with self._maps:
            old = self._source_of.get(pk)
            if old is not None and old != source_id:
                self._by_source.get(old, set()).discard(pk)
            self._source_of[pk] = source_id
            self._by_source.setdefault(source_id, set()).add(pk)

    def _remove(self, pks: list[int]) -> int:
        with self._maps:
            for pk in pks:
                source_id = self._source_of.pop(pk, None)
                if source_id is not None:
                    self._by_source.get(source_id, set()).discard(pk)
                self._applied.pop(pk, None)
        removed = self.vectors.remove(pks) if pks else 0
        self._unsaved += removed
        return removed

    def _embed(self, pks: list[int]) -> int:
        done = 0
        for start in range(0, len(pks), EMBED_BATCH):
            chunk = pks[start:start + EMBED_BATCH]
            rows = list(Explanation.objects.filter(pk__in=chunk, status=Explanation.Status.LIVE)
                        .values_list("pk", "text", "updated"))
            if not rows:
                continue
            vectors = embed_texts([text for _, text, _ in rows])
            self.vectors.add([pk for pk, _, _ in rows], vectors)
            for pk, _, updated in rows:
                self._applied[pk] = updated
                if self.watermark is None or updated > self.watermark:
                    self.watermark = updated
            done += len(rows)
        if self.watermark is not None:
            horizon = self.watermark - OVERLAP
            self._applied = {pk: u for pk, u in self._applied.items() if u >= horizon}
        self._unsaved += done
        return done

    def _db_fingerprint(self) -> tuple[int, datetime | None]:
        agg = Explanation.objects.aggregate(live=Count("pk", filter=Q(status=Explanation.Status.LIVE)),
                                            last=Max("updated"))
        return int(agg["live"]), agg["last"]

    # -- the file

    def _save_if_due(self) -> None:
        if self._unsaved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        """Write the index, then its watermark: a crash between leaves an older watermark, which only means
        more rows are re-embedded at the next start."""
        with self._write:
            self.vectors.save(self.path)
            state = {"watermark": self.watermark.isoformat() if self.watermark else None, "count": len(self.vectors)}
            tmp = self.path.with_suffix(f".json.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path.with_suffix(".json"))
            self._unsaved = 0

    @classmethod
    def open(cls, path: Path) -> ExplanationIndex:
        """The saved index at ``path`` (an empty one if missing or unreadable), brought up to date."""
        vectors, watermark = None, None
        try:
            vectors = VectorIndex.load(path)
            state = json.loads(path.with_suffix(".json").read_text())
            watermark = datetime.fromisoformat(state["watermark"]) if state.get("watermark") else None
        except (ValueError, OSError, KeyError) as err:
            if path.exists():
                log.warning("rebuilding the explanation index: %s", err)
        index = cls(path, vectors, watermark)
        changed = index.full_sync()
        if changed or not path.exists():
            index.save()
        return index


_INDEX: ExplanationIndex | None = None
_LOADING = threading.Lock()
_DEFERRED = threading.local()


def explanation_index() -> ExplanationIndex:
    """This process's index, loaded (or built) on first use, caught up with the database."""
    global _INDEX
    if _INDEX is None:
        with _LOADING:
            if _INDEX is None:
                _INDEX = ExplanationIndex.open(index_path())
    _INDEX.maybe_sync()
    return _INDEX


def rebuild_index() -> int:
    """Embed every live explanation into a fresh index file and use it in this process; returns its size."""
    global _INDEX
    with _LOADING:
        index = ExplanationIndex(index_path())
        index.full_sync()
        index.save()
        _INDEX = index
    return len(index.vectors)


def loaded_index() -> ExplanationIndex | None:
    """The index if this process has loaded it (writes do not load it: only searches do)."""
    return _INDEX


def forget_index() -> None:
    """Drop this process's index (tests; or after the data dir changed)."""
    global _INDEX
    with _LOADING:
        _INDEX = None


@contextmanager
def deferred_updates() -> Iterator[None]:
    """Collect the index updates of the writes inside (in this thread) and apply them at the end, in batches."""
    outer = getattr(_DEFERRED, "pks", None)
    _DEFERRED.pks = outer if outer is not None else set()
    try:
        yield
    finally:
        if outer is None:
            pks, _DEFERRED.pks = _DEFERRED.pks, None
            index = loaded_index()
            if index is not None and pks:
                index.apply(sorted(pks))


def explanation_changed(pk: int) -> None:
    """Schedule an index update for one explanation once the current transaction commits (signal handler)."""
    if loaded_index() is None:
        return
    deferred = getattr(_DEFERRED, "pks", None)
    if deferred is not None:
        deferred.add(pk)
        return

    def update() -> None:
        index = loaded_index()
        if index is not None:
            try:
                index.apply([pk])
            except Exception:  # the write is committed; the next sync repairs the index
                log.exception("could not update the search index for explanation %s", pk)

    transaction.on_commit(update)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    def on_change(sender: Any, instance: Explanation, **kwargs: Any) -> None:
        explanation_changed(instance.pk)

    post_save.connect(on_change, sender=Explanation, dispatch_uid="explanation_search_save", weak=False)
    post_delete.connect(on_change, sender=Explanation, dispatch_uid="explanation_search_delete", weak=False)
