from django.apps import AppConfig


class ExplanationsConfig(AppConfig):
    name = "featurepedia.web.explanations"
    label = "explanations"
    verbose_name = "Explanations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from featurepedia.web.explanations import fulltext, panels, search_index

        panels.register()
        search_index.connect_signals()
        post_migrate.connect(fulltext.ensure_installed, sender=self, dispatch_uid="explanation_fts_triggers")
