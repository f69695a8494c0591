from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "featurepedia.web.catalog"
    label = "catalog"
    verbose_name = "Catalog"
