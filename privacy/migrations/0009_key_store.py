"""Moves readers' data keys and the daily salts to the key store (the `keys` database), and
keys the consent-receipt chain. Run `manage.py migrate --database=keys` before `migrate`:
the key store copies the keys from the main database, then the main database drops them
(0010 refuses to drop keys the key store does not hold)."""

import django.utils.timezone
from django.db import connections, migrations, models

import privacy.models

LEGACY_TABLES = {
    # Before this migration ran on the main database, and after (renamed, not yet dropped).
    "keys": ("privacy_userdatakey", "privacy_legacyuserdatakey"),
    "salts": ("privacy_dailysalt", "privacy_legacydailysalt"),
}


def _legacy_table(connection, which: str) -> str | None:
    """The main database's old table, while it still holds keys or salts (0010 empties it)."""
    present = set(connection.introspection.table_names())
    table = next((table for table in LEGACY_TABLES[which] if table in present), None)
    if table is None:
        return None
    with connection.cursor() as cursor:
        columns = {
            column.name for column in connection.introspection.get_table_description(cursor, table)
        }
    return table if {"wrapped_key", "salt"} & columns else None


def copy_keys_from_main(apps, schema_editor):
    """On the key store: copy every data key and salt still in the main database."""
    main = connections["default"]
    UserDataKey = apps.get_model("privacy", "UserDataKey")
    DailySalt = apps.get_model("privacy", "DailySalt")
    alias = schema_editor.connection.alias
    keys_table = _legacy_table(main, "keys")
    if keys_table:
        with main.cursor() as cursor:
            cursor.execute(
                f"SELECT user_id, wrapped_key, master_key_id, created_at, rotated_at "
                f"FROM {keys_table}"
            )
            rows = cursor.fetchall()
        UserDataKey.objects.using(alias).bulk_create(
            [
                UserDataKey(
                    user_id=user_id,
                    wrapped_key=bytes(wrapped),
                    master_key_id=master_key_id,
                    created_at=created_at,
                    rotated_at=rotated_at,
                )
                for user_id, wrapped, master_key_id, created_at, rotated_at in rows
            ],
            ignore_conflicts=True,
        )
    salts_table = _legacy_table(main, "salts")
    if salts_table:
        with main.cursor() as cursor:
            cursor.execute(f"SELECT day, salt FROM {salts_table}")
            rows = cursor.fetchall()
        DailySalt.objects.using(alias).bulk_create(
            [DailySalt(day=day, salt=bytes(salt)) for day, salt in rows], ignore_conflicts=True
        )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0008_ledger_noise_scale")]

    operations = [
        # The old tables stay in the main database (renamed) until 0010, for the copy.
        migrations.RenameModel("UserDataKey", "LegacyUserDataKey"),
        migrations.RenameModel("DailySalt", "LegacyDailySalt"),
        migrations.CreateModel(
            name="UserDataKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("user_id", models.BigIntegerField(unique=True)),
                (
                    "wrapped_key",
                    models.BinaryField(help_text="Nonce, then the data key sealed with AES-GCM."),
                ),
                (
                    "master_key_id",
                    models.CharField(
                        help_text="Fingerprint of the master key that wrapped the data key.",
                        max_length=16,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("rotated_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"db_table": "keystore_data_key"},
        ),
        migrations.CreateModel(
            name="DailySalt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(unique=True)),
                ("salt", models.BinaryField()),
            ],
            options={"db_table": "keystore_daily_salt"},
        ),
        migrations.CreateModel(
            name="KeyStoreSecret",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40, unique=True)),
                (
                    "wrapped_value",
                    models.BinaryField(help_text="Nonce, then the secret sealed with AES-GCM."),
                ),
                ("master_key_id", models.CharField(max_length=16)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("rotated_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"db_table": "keystore_secret"},
        ),
        migrations.RunPython(
            copy_keys_from_main, migrations.RunPython.noop, hints={"target_db": "keys"}
        ),
        migrations.AlterField(
            model_name="signalevent",
            name="id",
            field=models.BigIntegerField(
                default=privacy.models.random_event_id,
                editable=False,
                primary_key=True,
                serialize=False,
            ),
        ),
        migrations.AddField(
            model_name="consentrecord",
            name="unkeyed_hash",
            field=models.CharField(
                blank=True,
                help_text="The unkeyed SHA-256 this receipt had before the chain was keyed "
                "(migration 0010); empty on receipts written since.",
                max_length=64,
            ),
        ),
        migrations.CreateModel(
            name="ConsentChainDigest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "day",
                    models.DateField(help_text="The day whose end the digest covers.", unique=True),
                ),
                (
                    "covers_until",
                    models.DateTimeField(help_text="Receipts written before this are covered."),
                ),
                ("published_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("chains", models.PositiveIntegerField()),
                ("receipts", models.PositiveIntegerField()),
                ("heads", models.JSONField(blank=True, default=dict)),
                ("digest", models.CharField(max_length=64)),
                ("note", models.CharField(blank=True, max_length=200)),
            ],
            options={"ordering": ["-day"]},
        ),
    ]
