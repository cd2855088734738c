"""Encrypt the TOTP secrets and recovery-code seeds that allauth stored in plain text before
`accounts.adapters.MFAAdapter` sealed them (`accounts.mfa_secrets`). Readers keep their
authenticator app and recovery codes: only how the same secrets are stored changes. The
reverse puts them back in plain text, for the adapter-less code it would go back to."""

from django.db import migrations

from accounts.mfa_secrets import data_unsealed, mfa_secrets_rewrap

WITH_SECRETS = ("totp", "recovery_codes")


def secrets_seal(apps, schema_editor):
    Authenticator = apps.get_model("mfa", "Authenticator")
    mfa_secrets_rewrap(authenticators=Authenticator.objects.filter(type__in=WITH_SECRETS))


def secrets_unseal(apps, schema_editor):
    Authenticator = apps.get_model("mfa", "Authenticator")
    rows = list(Authenticator.objects.filter(type__in=WITH_SECRETS))
    for row in rows:
        row.data = data_unsealed(row.data)
    Authenticator.objects.bulk_update(rows, ["data"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_revoke_plaintext_api_tokens"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [
        migrations.RunPython(secrets_seal, secrets_unseal, elidable=False),
    ]
