"""Django's PostgreSQL backend, with a health check that costs no round trip while the
connection is quiet.

With CONN_HEALTH_CHECKS, Django checks a kept connection with `SELECT 1` before its first
query of every request: a round trip per database per page (two on a reader's page: the
main database and the key store) to find out what the socket already says. A server that
ends an idle connection (a restart, an administrator, an idle timeout) sends its goodbye on
it, so a connection whose socket has nothing to read is alive as far as a round trip could
tell; one with anything to read gets Django's own check.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None:
            return False
        pgconn = connection.pgconn
        if (
            pgconn.status != pq.ConnStatus.OK
            or pgconn.transaction_status != pq.TransactionStatus.IDLE
        ):
            return super().is_usable()
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError, psycopg.Error):
            return False
        return super().is_usable() if readable else True
