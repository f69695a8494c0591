from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "featurepedia.web.community"
    label = "community"
    verbose_name = "Lists, bookmarks and comments"

    def ready(self) -> None:
        from featurepedia.web.community import panels

        panels.register()
