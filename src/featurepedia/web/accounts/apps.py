from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "featurepedia.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from featurepedia.web.accounts import signals  # noqa: F401  (connects sign-up/login handlers)
