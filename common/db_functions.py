"""Database functions the ORM lacks, for the engines the site runs on (PostgreSQL, SQLite)."""

import functools
from collections.abc import Callable

from django.db import connections
from django.db.models import FloatField, Func, QuerySet
from django.db.models.query import get_related_populators

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


def parameters_named(params, placeholders: dict[str, object]) -> list[str]:
    """The name of each parameter of a query the ORM wrote with `placeholders` (distinct
    values, by name, as the ORM passes them to the database), in order; raises when one is
    none of them or one is never used."""
    name_of = {value: name for name, value in placeholders.items()}
    order = [name_of.get(value) for value in params] if len(name_of) == len(placeholders) else []
    if None in order or set(order) != set(placeholders):
        raise ValueError(f"The query takes {params!r}, not {placeholders!r}.")
    return order


class CompiledOnce:
    """A queryset of model instances (select_related included) that the ORM compiles once
    per process; each run sends the same SQL with new parameters and builds the instances as
    the ORM would (the database's converters, related objects cached). For a query every
    page runs, where compiling a four-table select took longer than the database's answer.

    `build` returns the queryset and, by name, the distinct values it was made with, as the
    ORM passes them to the database (`adapt_datetimefield_value` for a datetime, say);
    `first` takes new values under the same names. It compiles when first run: the apps
    must be ready by then. It follows Django 5.2's ModelIterable (the compiler's select,
    klass_info and related populators): pyproject pins Django below 5.3, and the session
    tests fail if a release changes them.
    """

    def __init__(self, build: Callable[[], tuple[QuerySet, dict]]) -> None:
        self._build = build
        self._compiled = None

    def _compile(self):
        queryset, placeholders = self._build()
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        try:
            order = parameters_named(params, placeholders)
        except ValueError:
            order = []
        if len(order) != len(placeholders):
            raise ValueError(f"The query takes {params!r}, not {placeholders!r} once each.")
        select, klass_info = compiler.select, compiler.klass_info
        start, stop = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self._compiled = (
            queryset.db,
            sql,
            order,
            compiler.get_converters([column[0] for column in select[: compiler.col_count]]),
            klass_info["model"],
            [column[0].target.attname for column in select[start:stop]],
            (start, stop),
            get_related_populators(klass_info, select, queryset.db),
        )
        return self._compiled

    def first(self, **values):
        """The first row's instance, or None."""
        db, sql, order, converters, model, names, (start, stop), populators = (
            self._compiled or self._compile()
        )
        with connections[db].cursor() as cursor:
            cursor.execute(sql, [values[name] for name in order])
            row = cursor.fetchone()
        if row is None:
            return None
        if converters:
            # As the compiler's apply_converters, with this thread's connection (the compiler
            # held the one of the thread that compiled it).
            connection, row = connections[db], list(row)
            for position, (functions, expression) in converters.items():
                for convert in functions:
                    row[position] = convert(row[position], expression, connection)
        instance = model.from_db(db, names, row[start:stop])
        for populator in populators:
            populator.populate(row, instance)
        return instance
