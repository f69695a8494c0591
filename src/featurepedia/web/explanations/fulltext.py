"""Full-text search over explanation texts: SQLite FTS5 in embedded mode, PostgreSQL full text in production.

SQLite: an FTS5 table with the Porter stemmer ("cats" finds "cat"), kept in step with the explanation table by
triggers, so every write path is covered (``save``, ``bulk_create``, ``QuerySet.update``, cascades, raw SQL).
Django's SQLite schema editor rebuilds a table to alter it and the triggers go with the old table, so after
every ``migrate`` :func:`ensure_installed` puts them back (and refills the index) if they are missing.

PostgreSQL: a GIN index on ``to_tsvector('english', text)`` made by Django from the same ``SearchVector``
expression the queries use (the planner uses an expression index only for the identical expression), and
``websearch_to_tsquery`` ranking with ``ts_rank``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

from featurepedia.errors import UnavailableError
from featurepedia.search.text import fts5_query, websearch_query

FTS_TABLE = "explanation_fts"
EXPLANATION_TABLE = "explanations_explanation"
TEXT_CONFIG = "english"
PG_INDEX = "explanation_text_search"

_FTS_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(text, content='{EXPLANATION_TABLE}', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
]
_TRIGGERS = {
    f"{FTS_TABLE}_insert": f"AFTER INSERT ON {EXPLANATION_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
    f"{FTS_TABLE}_delete": f"AFTER DELETE ON {EXPLANATION_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); END",
    f"{FTS_TABLE}_update": f"AFTER UPDATE OF text ON {EXPLANATION_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); "
    f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
}


def text_vector() -> SearchVector:
    """The document expression, shared by the GIN index and the queries so that the index is used."""
    return SearchVector("text", config=TEXT_CONFIG)


def pg_index() -> GinIndex:
    return GinIndex(text_vector(), name=PG_INDEX)


def install(schema_editor: Any, apps: Any = None) -> None:
    """Create the full-text index for the connection's database (a migration step; safe to repeat)."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _install_sqlite(schema_editor.connection)
    elif vendor == "postgresql" and apps is not None:
        schema_editor.add_index(apps.get_model("explanations", "Explanation"), pg_index())


def uninstall(schema_editor: Any, apps: Any = None) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        with schema_editor.connection.cursor() as cursor:
            for name in _TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif vendor == "postgresql" and apps is not None:
        schema_editor.remove_index(apps.get_model("explanations", "Explanation"), pg_index())


def _install_sqlite(conn: Any) -> bool:
    """Create what is missing; True if anything was (the index is then refilled from the table)."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE %s",
                       [f"{FTS_TABLE}%"])
        present = {row[0] for row in cursor.fetchall()}
        missing = [name for name in (FTS_TABLE, *_TRIGGERS) if name not in present]
        if not missing:
            return False
        for statement in _FTS_DDL:
            cursor.execute(statement)
        for name, body in _TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
        # Rows written while a trigger was missing are not in the index: rebuild reads the whole table.
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    return True


def ensure_installed(using: str = "default", **kwargs: Any) -> None:
    """After ``migrate``: restore the SQLite triggers if a table rebuild dropped them (a post_migrate hook)."""
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [EXPLANATION_TABLE])
        if cursor.fetchone() is None:  # migrated backwards past the explanations table
            return
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = 'explanations' AND name = %s",
                       ["0002_explanation_search"])
        if cursor.fetchone() is None:  # not yet, or no longer, installed by its migration
            return
    _install_sqlite(conn)


def available() -> bool:
    """Whether this database can search by words (SQLite's FTS5 or PostgreSQL's full text)."""
    return connection.vendor in ("sqlite", "postgresql")


def text_search(matching: QuerySet[Any], query: str, offset: int, limit: int) -> tuple[list[tuple[int, float]], int]:
    """Rank the explanations of ``matching`` that contain the query's words; returns ((id, score) page, total).

    Scores are higher for better matches but are on each engine's own scale (-BM25 on SQLite, ts_rank on
    PostgreSQL).
    """
    if connection.vendor == "postgresql":
        return _postgres(matching, query, offset, limit)
    if connection.vendor == "sqlite":
        return _sqlite(matching, query, offset, limit)
    raise UnavailableError(f"full-text search needs SQLite or PostgreSQL, and this database is "
                           f"{connection.vendor}; set FEATUREPEDIA_DATABASE_URL to one of them, or search by "
                           "meaning (mode 'semantic'), which works on any database")


def _sqlite(matching: QuerySet[Any], query: str, offset: int, limit: int) -> tuple[list[tuple[int, float]], int]:
    expression = fts5_query(query)
    if not expression:
        return [], 0
    # The FTS subquery first narrows the rows, so the filters only run on matches, never the whole table.
    hits = matching.filter(pk__in=RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s",
                                         [expression]))
    total = hits.count()
    if not total or offset >= total:
        return [], total
    inner, params = hits.values("pk").query.sql_with_params()
    sql = (f"SELECT rowid, rank FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s AND rowid IN ({inner}) "
           "ORDER BY rank, rowid LIMIT %s OFFSET %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, *params, limit, offset])
        return [(int(pk), -float(rank)) for pk, rank in cursor.fetchall()], total


def _postgres(matching: QuerySet[Any], query: str, offset: int, limit: int) -> tuple[list[tuple[int, float]], int]:
    text = websearch_query(query)
    if not text:
        return [], 0
    search = SearchQuery(text, config=TEXT_CONFIG, search_type="websearch")
    hits = matching.annotate(document=text_vector()).filter(document=search)
    total = hits.count()
    page = (hits.annotate(score=SearchRank(F("document"), search)).order_by("-score", "pk")
            .values_list("pk", "score")[offset:offset + limit])
    return [(int(pk), float(score)) for pk, score in page], total
