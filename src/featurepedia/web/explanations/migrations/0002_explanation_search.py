"""Full-text search over explanation texts: an FTS5 table and triggers on SQLite, a GIN index on PostgreSQL.

One RunPython step for both engines because each needs its own DDL and Django has no FTS5 operations.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from featurepedia.web.explanations import fulltext

    fulltext.install(schema_editor, apps)


def backwards(apps, schema_editor):
    from featurepedia.web.explanations import fulltext

    fulltext.uninstall(schema_editor, apps)


class Migration(migrations.Migration):

    dependencies = [
        ("explanations", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
