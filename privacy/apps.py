"""Privacy: data registry, consent, signal collection, retention, export and erasure."""

from django.apps import AppConfig
from django.conf import settings


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
        # A reader's kept copy of their reads is outdated by any change of their data.
        from .history_kept import history_reads_changed_receiver
        from .signals import reader_data_changed

        reader_data_changed.connect(
            history_reads_changed_receiver, dispatch_uid="reader-history-reads-kept"
        )
        # The key store is another database: no foreign key cascades a reader's deletion to
        # their data key, so it is shredded once the deletion is committed.
        from .crypto import data_key_destroy_after_reader_deletion

        post_delete.connect(
            data_key_destroy_after_reader_deletion,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="reader-deleted-shred-key",
        )
