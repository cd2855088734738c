"""Database functions the ORM lacks, for the engines the site runs on (PostgreSQL, SQLite)."""

import functools
from collections.abc import Callable

from django.db.models import FloatField, Func, QuerySet

# The reader id a query is built with by `one_reader_sql`, replaced by the real one when run.
ANY_READER = 0


class EpochSeconds(Func):
    """A timestamp as seconds since 1970 (0 for none), computed by the database: reading
    thousands of rows, parsing their datetimes in Python costs more than the query."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            # A float from the database itself: EXTRACT gives a numeric, which the driver
            # would hand over as a Decimal.
            compiler,
            connection,
            template="COALESCE(EXTRACT(EPOCH FROM %(expressions)s)::double precision, 0)",
        )

    def as_sqlite(self, compiler, connection, **extra):
        template = "COALESCE((julianday(%(expressions)s) - 2440587.5) * 86400.0, 0)"
        return self.as_sql(compiler, connection, template=template)


def one_reader_sql(build: Callable[..., QuerySet]) -> Callable[..., str]:
    """For the queries of one reader's rows that every personalized page runs: `build`
    returns the queryset for reader `ANY_READER`; the ORM writes it out once per process (and
    per set of arguments), and the caller runs the SQL with the reader's id as its only
    parameter. For a few hundred rows the ORM's compiling and per-row conversion cost more
    than the query itself."""

    @functools.cache
    def sql(*args, **kwargs) -> str:
        text, params = build(*args, **kwargs).query.sql_with_params()
        if list(params) != [ANY_READER]:
            raise ValueError(f"The query takes {params!r}, not only the reader's id.")
        return text

    return sql
