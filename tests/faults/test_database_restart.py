"""A PostgreSQL restart mid-traffic: workers keep their connections for a minute
(CONN_MAX_AGE), so the next request must notice a dead one and reconnect, not fail; and a
live one is used without a round trip to check it (common/postgresql/base.py)."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate_site_connections() -> int:
    """What a restart does to the site: every server process of its database ends, and the
    server answers again only once they have (a restart waits for them before it stops)."""
    params = settings.DATABASES["default"]
    with psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        pids = [
            pid
            for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [connection.settings_dict["NAME"]],
            ).fetchall()
        ]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
            ).fetchone()[0]
            if not left:
                break
            time.sleep(0.01)
    return len(pids)


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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL fault")
def test_a_kept_connection_is_checked_without_a_round_trip_until_the_server_ends_it(
    client, tmp_path
):
    article = ArticleFactory()
    assert client.get(article.get_absolute_url()).status_code == 200
    kept = connection.connection
    # Everything the site sends the server on this connection, as the protocol trace has it.
    trace = tmp_path / "protocol.trace"
    with trace.open("wb") as sink:
        kept.pgconn.trace(sink.fileno())
        close_old_connections()  # a new request: Django checks the kept connection first
        assert client.get(article.get_absolute_url()).status_code == 200
        kept.pgconn.untrace()
    assert connection.connection is kept  # kept, not reopened
    # The trace has both directions; the site's messages are marked F (frontend).
    sent = [line for line in trace.read_bytes().splitlines() if b"\tF\t" in line]
    assert any(b"news_article" in line for line in sent)  # the page's own query went here
    assert not [line for line in sent if b'"SELECT 1"' in line]  # none sent to check it

    # Ended by the server: the check notices, and the next page reconnects.
    assert _terminate_site_connections() >= 1
    assert connection.is_usable() is False
    close_old_connections()
    assert client.get(article.get_absolute_url()).status_code == 200
    assert connection.connection is not kept
