"""The Django project: catalog, explanations, game and accounts (see web/settings.py's INSTALLED_APPS)."""

import os

MIGRATE_LOCK = 0x46504D47  # PostgreSQL advisory lock key held while migrating ("FPMG")


def setup(migrate: bool = True) -> None:
    """Configure Django for use outside manage.py (the command line, notebooks) and bring the database's
    tables up to date.

    Args:
        migrate: run the migrations (on PostgreSQL, one process at a time: see below).
    """
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "featurepedia.web.settings")
    django.setup()
    if migrate:
        _migrate()


def _migrate() -> None:
    from django.core.management import call_command
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
