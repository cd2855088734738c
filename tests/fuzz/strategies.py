"""Hostile input for the fuzz tests, their hypothesis settings, and a snapshot of the database
that tells whether anything at all was written."""

import os

from django.apps import apps
from django.db import connections, router
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# HYPOTHESIS_PROFILE=long runs every test with 25 times the examples, in a fresh random order
# each run; the default stays small and derandomized, so the suite is quick and repeatable.
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
SCALE = 25 if LONG else 1


def fuzz_settings(max_examples: int, **overrides) -> settings:
    return settings(
        max_examples=max_examples * SCALE,
        deadline=None,
        derandomize=not LONG,
        database=None,
        # Each example runs in its own rolled-back savepoint (see rolled_back), so the `db`
        # fixture is safely shared by all examples of a test.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
        **overrides,
    )


# Text a browser, a script or a careless hand can send: any unicode, control characters, NUL,
# right-to-left marks, markup, very long strings, numbers in odd spellings.
CONTROL = st.sampled_from(["\x00", "\x07", "\x1b[31m", "\r\n", "\t", "\u202e", "\ufeff", "\x7f"])
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "NaN",
        "inf",
        "９",
        "１_０",
        "null",
        "None",
        "[]",
        "{}",
        "true",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "../../etc/passwd",
        "%00",
        "DELETE",
        " delete ",
        "x" * 5000,
        "é" * 300,
        "😀" * 100,
        "\U0010ffff",
    ]
)
JUNK_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
    TRICKY,
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=10), CONTROL, st.text(max_size=10)),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"\A[0-9]{1,25}\Z"),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "A" * n),
)
# Values that are not even text: what a form gets from code rather than a browser.
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=20),
)
ANY_VALUE = st.one_of(JUNK_TEXT, WRONG_TYPES)


def _model_tables() -> dict[str, list[str]]:
    """Every model's table, by the database it lives in (the key store is one of its own)."""
    by_database: dict[str, set[str]] = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            by_database.setdefault(router.db_for_write(model), set()).add(model._meta.db_table)
    return {alias: sorted(tables) for alias, tables in sorted(by_database.items())}


def database_snapshot() -> dict[str, int]:
    """Rows per table of every model (one query per database): equal snapshots mean no row
    was added or removed anywhere."""
    snapshot: dict[str, int] = {}
    for alias, tables in _model_tables().items():
        quote = connections[alias].ops.quote_name
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {quote(t)})" for t in tables)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            counts = cursor.fetchone()
        snapshot.update(zip(tables, counts, strict=True))
    return snapshot


def changed_tables(before: dict[str, int], after: dict[str, int], *, allowed=()) -> dict:
    return {
        table: (before[table], after[table])
        for table in before
        if before[table] != after[table] and table not in allowed
    }
