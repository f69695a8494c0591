from django.apps import AppConfig


class ExplanationsConfig(AppConfig):
    name = "featurepedia.web.explanations"
    label = "explanations"
    verbose_name = "Explanations"

    def ready(self) -> None:
        from featurepedia.web.explanations import panels

        panels.register()
