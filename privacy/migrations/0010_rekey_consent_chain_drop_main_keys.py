"""The main database gives up its data keys and salts (copied to the key store by 0009 run on
`--database=keys`), and the consent-receipt chain is re-keyed once under the chain key.

Re-keying is recorded on each receipt: `unkeyed_hash` keeps the hash it had before, so a copy
of the old unkeyed chain still matches it."""

from django.db import connections, migrations

from privacy.crypto import consent_chain_key
from privacy.services import receipt_hash, unkeyed_receipt_hash

MIGRATE_KEYS_FIRST = (
    "The main database still holds {count} {what} that the key store does not: run "
    "`manage.py migrate --database=keys` first (it copies them), then `manage.py migrate`."
)


def _missing_from_key_store(main, *, table: str, column: str, keys_table: str) -> int:
    with main.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")
        in_main = {row[0] for row in cursor.fetchall()}
    if not in_main:
        return 0
    store = connections["keys"]
    if keys_table not in store.introspection.table_names():
        return len(in_main)
    with store.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {keys_table}")
        in_store = {row[0] for row in cursor.fetchall()}
    return len(in_main - in_store)


def give_up_main_keys(apps, schema_editor):
    """Refuse while the key store lacks a key or salt; else empty the old tables."""
    main = schema_editor.connection
    for table, column, keys_table, what in (
        ("privacy_legacyuserdatakey", "user_id", "keystore_data_key", "data keys"),
        ("privacy_legacydailysalt", "day", "keystore_daily_salt", "daily salts"),
    ):
        missing = _missing_from_key_store(main, table=table, column=column, keys_table=keys_table)
        if missing:
            raise RuntimeError(MIGRATE_KEYS_FIRST.format(count=missing, what=what))
    apps.get_model("privacy", "LegacyUserDataKey").objects.using(main.alias).all().delete()


def rekey_consent_chain(apps, schema_editor):
    ConsentRecord = apps.get_model("privacy", "ConsentRecord")
    receipts = ConsentRecord.objects.using(schema_editor.connection.alias).order_by(
        "user_id", "created_at", "id"
    )
    if not receipts.exists():
        return
    key = consent_chain_key()
    previous_by_user: dict[int, str] = {}
    for record in receipts.iterator():
        old_hash = record.record_hash
        if record.unkeyed_hash:  # already re-keyed (a re-run)
            previous_by_user[record.user_id] = old_hash
            continue
        if unkeyed_receipt_hash(record) != old_hash:
            raise RuntimeError(
                f"Consent receipt {record.pk} does not match its unkeyed hash: it was altered "
                "before the chain was keyed. Investigate before re-keying (nothing was changed "
                "for this receipt or later ones of its reader)."
            )
        record.unkeyed_hash = old_hash
        record.previous_hash = previous_by_user.get(record.user_id, "")
        record.record_hash = receipt_hash(record, key=key)
        ConsentRecord.objects.using(schema_editor.connection.alias).filter(pk=record.pk).update(
            unkeyed_hash=record.unkeyed_hash,
            previous_hash=record.previous_hash,
            record_hash=record.record_hash,
        )
        previous_by_user[record.user_id] = record.record_hash


class Migration(migrations.Migration):
    dependencies = [("privacy", "0009_key_store")]

    operations = [
        migrations.RunPython(
            give_up_main_keys, migrations.RunPython.noop, hints={"target_db": "default"}
        ),
        migrations.RemoveField("legacyuserdatakey", "wrapped_key"),
        migrations.RemoveField("legacyuserdatakey", "master_key_id"),
        migrations.RemoveField("legacyuserdatakey", "created_at"),
        migrations.RemoveField("legacyuserdatakey", "rotated_at"),
        migrations.DeleteModel("LegacyDailySalt"),
        migrations.RunPython(
            rekey_consent_chain, migrations.RunPython.noop, hints={"target_db": "default"}
        ),
    ]
