"""Accounts: the user model, sign-up wiring, onboarding and reader preferences."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from privacy.aggregation import level_counts_source_register
        from privacy.followed_topics import followed_topic_source_register
        from privacy.levels import level_source_register
        from privacy.signals import master_key_rotated

        from . import checks  # noqa: F401  (registers the system checks)
        from .mfa_secrets import mfa_secrets_follow_master_key
        from .models import Preferences
        from .selectors import personalization_level_counts, read_in_followed_topic

        # Privacy, a layer below, may not import accounts: it learns where the levels are
        # kept (to decide what a read may record) and how to count readers per level (for
        # the nightly DP release) from what accounts registers here.
        level_source_register(
            table=Preferences._meta.db_table,
            user_column=Preferences._meta.get_field("user").column,
            level_column=Preferences._meta.get_field("level").column,
        )
        level_counts_source_register(personalization_level_counts)
        # And whether a counted read is in a topic its reader follows (the loyalty release).
        followed_topic_source_register(read_in_followed_topic)
        # Two-factor secrets are sealed under a subkey of the master key: re-sealed with the
        # data keys, or retiring the old key would lock every reader with two-factor out.
        master_key_rotated.connect(
            mfa_secrets_follow_master_key, dispatch_uid="accounts-mfa-secrets-follow-master-key"
        )
