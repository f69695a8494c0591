from django.apps import AppConfig


class GameConfig(AppConfig):
    name = "featurepedia.web.game"
    label = "game"
    verbose_name = "Game"

    def ready(self) -> None:
        from featurepedia.web.game import judgements, panels, players, predict_hooks, versus

        panels.register()
        predict_hooks.register()
        judgements.register()  # This-vs-That's ratings and Odd-one-out's consistency on feature pages
        versus.register()  # the ranking orders a feature's explanations once settled
        players.connect()  # a visitor's answers in those modes become theirs at sign-in
