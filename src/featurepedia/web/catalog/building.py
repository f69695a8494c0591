"""Building sources into the catalog: dashboards builds with the database as one of their sinks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from featurepedia.dashboards import RunConfig, RunInfo, Sink
from featurepedia.dashboards.building import BuiltSource, Outputs, build_run, build_runs, plain
from featurepedia.dashboards.shards import ShardRunner
from featurepedia.dashboards.source_list import SourceList


def build_source(config: RunConfig, *, hook: str | None = None, out: Path | None = None, to_db: bool = True,
                 fresh: bool = False, progress: bool = True, shards: ShardRunner | None = None) -> RunInfo:
    """Run a dashboards build into the database and/or a Parquet bundle at ``out`` (``build`` and ``demo``).

    With ``to_db``, Django is set up (and migrated) once the model and source have loaded.
    """

    def database() -> Sequence[Sink]:
        if not to_db:
            return ()
        _setup()
        from featurepedia.web.catalog.sink import DatabaseSink  # needs the Django setup above

        return (DatabaseSink(),)

    return build_run(config, hook=hook, out=out, sinks=database, fresh=fresh, progress=progress, shards=shards)


def build_sources(template: RunConfig, sources: SourceList, *, out: Path | None = None, to_db: bool = True,
                  fresh: bool = False, progress: bool = True, shards: ShardRunner | None = None
                  ) -> list[BuiltSource]:
    """Build several sources in one pass (``build --source A,B,...``) into the database and/or one Parquet
    bundle per source under ``out``; see :func:`featurepedia.dashboards.building.build_runs`."""
    return build_runs(template, sources, out=out, outputs=DatabaseOutputs if to_db else Outputs, fresh=fresh,
                      progress=progress, shards=shards)


class DatabaseOutputs(Outputs):
    """Each source's results go to the catalog tables (Django is set up and migrated when this is made)."""

    def __init__(self) -> None:
        _setup()

    def sinks(self, config: RunConfig) -> Sequence[Sink]:
        from featurepedia.web.catalog.sink import DatabaseSink  # after the setup in __init__

        return (DatabaseSink(),)

    def holds(self, run: Mapping[str, Any]) -> bool:
        """The source is stored, ready, with every feature, from this very run."""
        from featurepedia.web.catalog.models import Source

        stored = Source.objects.filter(model__slug=run["model_id"], slug=run["source"]["source_id"],
                                       status=Source.Status.READY).first()
        return (stored is not None and plain(stored.config) == plain(run)
                and stored.features.count() == stored.n_features == run["source"]["n_features"])


def _setup() -> None:
    from featurepedia.web import setup

    setup()
