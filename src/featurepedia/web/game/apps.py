from django.apps import AppConfig


class GameConfig(AppConfig):
    name = "featurepedia.web.game"
    label = "game"
    verbose_name = "Game"

    def ready(self) -> None:
        from featurepedia.web.game import panels, predict_hooks

        panels.register()
        predict_hooks.register()
