"""Revoke every API token issued before tokens were hashed, by dropping the table of DRF's
authtoken app (no longer installed) that held them in plain text.

Why revoke rather than hash them in place: each of those tokens was readable by every
administrator (the authtoken admin listed them, and the admin's log kept them as the name of
any token it added or deleted) and sits in plain text in every database dump and backup made
until now. Tokens never expire, so hashing in place would keep exactly those copies valid for
good; revoking makes them worthless. The cost is that each app signs in once more with
`POST /api/v1/auth/token/` (docs/api.md says so). Irreversible: the reverse does nothing.
"""

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

PLAINTEXT_TABLE = "authtoken_token"


def plaintext_tokens_drop(apps, schema_editor):
    connection = schema_editor.connection
    if PLAINTEXT_TABLE in connection.introspection.table_names():
        schema_editor.execute(
            schema_editor.sql_delete_table % {"table": schema_editor.quote_name(PLAINTEXT_TABLE)}
        )
    # So that installing authtoken again would create its table afresh.
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_sessions_name_the_reader_backends"),
    ]

    operations = [
        migrations.RunPython(plaintext_tokens_drop, migrations.RunPython.noop, elidable=False),
    ]
