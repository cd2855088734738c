"""Privacy: data registry, consent, signal collection, retention, export and erasure."""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import checks, tasks  # noqa: F401  (system checks; tasks queued by name)
        from .registry import autodiscover

        autodiscover()  # every app's personal_data.py registers its categories
        from .models import PolicyVersion
        from .selectors import purpose_changes_forget

        # The re-consent banner's cached list of purpose changes.
        post_save.connect(
            purpose_changes_forget, sender=PolicyVersion, dispatch_uid="purpose-changes-save"
        )
        post_delete.connect(
            purpose_changes_forget, sender=PolicyVersion, dispatch_uid="purpose-changes-delete"
        )
