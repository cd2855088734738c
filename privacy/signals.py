"""What privacy announces to the layers above it, so it never has to import them.

`reader_data_changed` is the one way caches built from a reader's data (the recommender's
kept front page) learn that the data changed: preferences, consents, reading history, an
erased category or the whole account. Services send it with `reader_data_changed_send`,
which waits for the commit, so a page computed meanwhile from the old data is not kept.
`reader_read_queued` tells them a read is on its way to the history, not written yet.
"""

from django.db import transaction
from django.dispatch import Signal

# Receivers get `user_id`, and `read_appended` (True when the change is one read added to
# their history).
reader_data_changed = Signal()
# A read kept in the reader's history was queued, not yet written (privacy.read_queue): what
# is built from their history must leave the story out meanwhile. Receivers get `user_id`,
# `article_id` and `read_epoch` (seconds since 1970); `reader_data_changed` follows the write.
reader_read_queued = Signal()
# Sent once every data key is re-wrapped under the current master key: apps that seal their
# own secrets under a subkey of it (accounts: two-factor secrets) re-seal them, so the old key
# can be retired. No arguments.
master_key_rotated = Signal()


def reader_data_changed_send(*, user_id: int, read_appended: bool = False) -> None:
    """Announce the change once the surrounding transaction commits; at once outside one
    (Django runs an on-commit callback immediately when no transaction is open).
    `read_appended`: the change is one read added to their history, nothing else."""
    transaction.on_commit(
        lambda: reader_data_changed.send(
            sender=reader_data_changed_send, user_id=user_id, read_appended=read_appended
        )
    )
