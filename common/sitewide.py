"""Values that are the same for every visitor and shown on every page (the topic navigation,
when the privacy policy last changed what the purposes do): kept in the shared cache, and for
a few seconds in each process too, so a page does not ask Redis for them every time.

`forget()` drops both, now and again after the surrounding commit; another process keeps its
copy at most `PROCESS_SECONDS` longer."""

import threading
import time
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

PROCESS_SECONDS = 5.0

_all: list["SiteWide"] = []


class SiteWide:
    def __init__(self, *, key: str, compute: Callable[[], object], seconds: int) -> None:
        self.key, self.compute, self.seconds = key, compute, seconds
        self._local = threading.local()
        _all.append(self)

    def get(self):
        local = self._local
        if getattr(local, "until", 0.0) > time.monotonic():
            return local.value
        value = cache.get_or_set(self.key, self.compute, self.seconds)
        local.value, local.until = value, time.monotonic() + PROCESS_SECONDS
        return value

    def forget(self) -> None:
        self._drop()
        # A page rendered meanwhile may have read the old value: drop it again after commit.
        transaction.on_commit(self._drop)

    def _drop(self) -> None:
        self._local.until = 0.0
        cache.delete(self.key)


def sitewide_forget_all_in_process() -> None:
    """Drop every process copy (tests: each starts with an empty cache and new rows)."""
    for value in _all:
        value._local.until = 0.0
