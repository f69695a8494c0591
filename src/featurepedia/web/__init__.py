"""The Django project: catalog, explanations, game, accounts, api, inference."""

import os


def setup() -> None:
    """Configure Django for use outside manage.py (CLI, notebooks)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "featurepedia.web.settings")
    django.setup()
