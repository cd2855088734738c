"""Accounts: the user model, sign-up wiring, onboarding and reader preferences."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from privacy.levels import level_source_register

        from . import checks  # noqa: F401  (registers the system checks)
        from .models import Preferences

        # Privacy decides what a read may record from the level; it is kept here.
        level_source_register(
            table=Preferences._meta.db_table,
            user_column=Preferences._meta.get_field("user").column,
            level_column=Preferences._meta.get_field("level").column,
        )
