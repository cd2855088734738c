"""A PostgreSQL restart mid-traffic: workers keep their connections for a minute
(CONN_MAX_AGE), so the next request must notice a dead one and reconnect, not fail."""

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate_site_connections() -> int:
    """What a restart does to the site: every server process of its database ends."""
    params = settings.DATABASES["default"]
    with psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        ).fetchall()
    return len(rows)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL fault")
def test_pages_are_served_again_right_after_the_database_restarts(client):
    article = ArticleFactory()
    assert client.get(article.get_absolute_url()).status_code == 200
    assert connection.connection is not None  # kept open between requests
    assert _terminate_site_connections() >= 1
    # What the WSGI handler does at the start of every request (Django's test client skips
    # it to keep the test's connection): with CONN_HEALTH_CHECKS the dead one is dropped.
    close_old_connections()
    assert client.get(article.get_absolute_url()).status_code == 200
    assert client.get("/").status_code == 200
