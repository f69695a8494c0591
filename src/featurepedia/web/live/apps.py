from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "featurepedia.web.live"
    label = "live"
    verbose_name = "Live inference"

    def ready(self) -> None:
        from featurepedia.web.live import panels

        panels.register()
