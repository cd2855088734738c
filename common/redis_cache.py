"""The default cache's own Redis, for the few writes that must be atomic on the server (a
script, a counter with a condition) rather than a plain get or set."""

import redis
from django.core.cache import caches
from django_redis import get_redis_connection


def cache_redis() -> redis.Redis | None:
    """The default cache's Redis client when the cache is django-redis; None otherwise (the
    process's memory or files: one process, no other writer to race)."""
    if not type(caches["default"]).__module__.startswith("django_redis"):
        return None
    return get_redis_connection("default")
