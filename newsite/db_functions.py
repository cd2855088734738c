"""Database functions the ORM lacks, for the engines the site runs on (PostgreSQL, SQLite)."""

from django.db.models import FloatField, Func


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
