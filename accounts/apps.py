"""Accounts: the user model, sign-up wiring, onboarding and reader preferences."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from privacy.aggregation import level_counts_source_register

        from . import checks  # noqa: F401  (registers the system checks)
        from .selectors import personalization_level_counts

        # The nightly DP release counts readers per level through this: privacy, a layer
        # below, may not import accounts.
        level_counts_source_register(personalization_level_counts)
