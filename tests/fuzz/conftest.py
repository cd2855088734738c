"""Fixtures of the fuzz tests: every example runs in a savepoint rolled back at its end."""

from contextlib import contextmanager

import pytest
from django.core.cache import cache
from django.db import transaction


class _Rollback(Exception):
    pass


@contextmanager
def _rolled_back():
    try:
        # Both databases: the key store's rows (data keys, salts) go back with the rest.
        with transaction.atomic(), transaction.atomic(using="keys"):
            yield
            raise _Rollback
    except _Rollback:
        pass
    # Rate limits count in the cache; each example starts from none.
    cache.clear()


@pytest.fixture
def rolled_back(db):
    """`with rolled_back():` around one example: whatever it wrote is gone afterwards."""
    return _rolled_back
