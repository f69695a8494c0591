"""A stamp of what players and scorers have done to a feature, read in one query (for cache keys).

It changes whenever an explanation, a score, a vote, a This-vs-That comparison, an Odd-one-out answer or a
flag of the feature is added, changed or deleted, and when an author of its explanations is banned or
renamed: counts catch deletions, the latest ``updated`` (or id,
for rows that are only ever added) catches the rest. Every write path of these rows saves through the ORM
(``updated`` is ``auto_now``) or adds rows; a path that changed them with ``QuerySet.update`` would have to
set ``updated`` itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.game.models import Campaign, Comparison, Flag, OddOneAnswer, Profile


def _sql() -> str:
    e, s, v = Explanation._meta.db_table, ExplanationScore._meta.db_table, Vote._meta.db_table
    c, o, f = Comparison._meta.db_table, OddOneAnswer._meta.db_table, Flag._meta.db_table
    joined = "FROM {t} x JOIN " + e + " e ON x.explanation_id = e.id WHERE e.feature_id = %s"
    return "SELECT " + ", ".join([
        f"(SELECT COUNT(*) FROM {e} WHERE feature_id = %s)", f"(SELECT MAX(updated) FROM {e} WHERE feature_id = %s)",
        "(SELECT COUNT(*) " + joined.format(t=s) + ")", "(SELECT MAX(x.updated) " + joined.format(t=s) + ")",
        "(SELECT COUNT(*) " + joined.format(t=v) + ")", "(SELECT MAX(x.updated) " + joined.format(t=v) + ")",
        f"(SELECT COUNT(*) FROM {c} WHERE feature_id = %s)", f"(SELECT MAX(id) FROM {c} WHERE feature_id = %s)",
        f"(SELECT COUNT(*) FROM {o} WHERE feature_id = %s)", f"(SELECT MAX(id) FROM {o} WHERE feature_id = %s)",
        f"(SELECT COUNT(*) FROM {f} WHERE feature_id = %s)",
        f"(SELECT COUNT(*) FROM {f} WHERE feature_id = %s AND resolved)",
    ])


def stamp(feature_id: int) -> tuple[str, ...]:
    """The feature's activity stamp (equal stamps: nothing of the above changed in between)."""
    sql = _sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [feature_id] * sql.count("%s"))
        row = cursor.fetchone()
    return (*(str(v) for v in row), authors_stamp(feature_id))


def authors_stamp(feature_id: int) -> str:
    """The authors of the feature's explanations as pages show them: name, display name, banned (a ban hides
    their explanations, a new display name shows at once). Profiles have no ``updated``: read them all."""
    user_model = Explanation._meta.get_field("author").related_model
    users, profiles = user_model._meta.db_table, Profile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT e.author_id, u.username, p.display_name, p.banned FROM "
                       f"{Explanation._meta.db_table} e JOIN {users} u ON u.id = e.author_id LEFT JOIN {profiles} p "
                       "ON p.user_id = e.author_id WHERE e.feature_id = %s ORDER BY e.author_id", [feature_id])
        return repr([(a, u, d, bool(b)) for a, u, d, b in cursor.fetchall()])


def campaigns_stamp() -> tuple[str, ...]:
    """Every campaign as a page may show it (slug, title, source, running now) and the size of their lists of
    picked features, in one cheap query: which campaigns a feature is in follows from these."""
    table, picked = Campaign._meta.db_table, Campaign.features.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, slug, title, source_id, active, starts, ends, (SELECT COUNT(*) FROM {picked}), "
                       f"(SELECT MAX(id) FROM {picked}) FROM {table} ORDER BY id")
        rows = cursor.fetchall()
    now = timezone.now()
    return tuple(f"{pk}:{slug}:{title}:{source}:{_running(bool(active), starts, ends, now)}:{n}:{last}"
                 for pk, slug, title, source, active, starts, ends, n, last in rows)


def _running(active: bool, starts: object, ends: object, now: datetime) -> bool:
    """As Campaign.is_running, on raw column values (SQLite gives text or datetimes, PostgreSQL datetimes)."""
    starts_at, ends_at = (_as_datetime(v) for v in (starts, ends))
    return active and (starts_at is None or starts_at <= now) and (ends_at is None or now < ends_at)


def _as_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):  # SQLite's columns hold UTC without a zone
        parsed = timezone.make_aware(parsed, UTC)
    return parsed
