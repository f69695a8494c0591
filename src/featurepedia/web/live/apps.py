from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "featurepedia.web.live"
    label = "live"
    verbose_name = "Live inference"
