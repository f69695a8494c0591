from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "featurepedia.web.api"
    label = "api"
    verbose_name = "API"
