from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "featurepedia.web.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from featurepedia.web.catalog import pagecache, views

        # A first-time visitor's feature page is everyone's: kept whole while nothing it shows changes.
        pagecache.register_shared_page("feature", views.shared_feature_page)
