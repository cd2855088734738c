"""Signals other apps listen to, so news does not depend on them."""

from django.dispatch import Signal

# Sent after articles changed in bulk (no post_save), e.g. scheduled articles going live.
articles_changed = Signal()
