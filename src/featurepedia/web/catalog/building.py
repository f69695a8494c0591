"""Building a source into the catalog: a dashboards build with the database as one of its sinks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from featurepedia.dashboards import RunConfig, RunInfo, Sink
from featurepedia.dashboards.building import build_run


def build_source(config: RunConfig, *, hook: str | None = None, out: Path | None = None, to_db: bool = True,
                 fresh: bool = False, progress: bool = True) -> RunInfo:
    """Run a dashboards build into the database and/or a Parquet bundle at ``out`` (``build`` and ``demo``).

    With ``to_db``, Django is set up (and migrated) once the model and source have loaded.
    """

    def database() -> Sequence[Sink]:
        if not to_db:
            return ()
        from featurepedia.web import setup

        setup()
        from featurepedia.web.catalog.sink import DatabaseSink  # needs the Django setup above

        return (DatabaseSink(),)

    return build_run(config, hook=hook, out=out, sinks=database, fresh=fresh, progress=progress)
