"""The version's own list of changed purposes replaces the old all-or-nothing flag; a
published version takes effect no earlier than its publication; one row per reader and
version records the policy-change email, so none is ever sent twice."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0013_tie_receipts_to_versions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveField(model_name="policyversion", name="changes_purposes"),
        migrations.AlterModelOptions(
            name="policyversion",
            options={
                "ordering": [
                    models.OrderBy(models.F("takes_effect_at"), descending=True, nulls_first=True),
                    "-id",
                ]
            },
        ),
        migrations.AlterField(
            model_name="policyversion",
            name="version",
            field=models.CharField(
                help_text='For example "2026-12-01".', max_length=20, unique=True
            ),
        ),
        migrations.AddConstraint(
            model_name="policyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("published_at__isnull", True),
                    models.Q(
                        ("takes_effect_at__gte", models.F("published_at")),
                        ("takes_effect_at__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="policy_takes_effect_once_published",
            ),
        ),
        migrations.CreateModel(
            name="PolicyChangeEmail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("claimed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="privacy.policyversion",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="policy_change_emails",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "policy"), name="policy_email_once_per_reader"
                    )
                ],
            },
        ),
        migrations.AlterField(
            model_name="privacyauditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("consent_granted", "Turned a purpose on"),
                    ("consent_withdrawn", "Turned a purpose off"),
                    ("level_changed", "Changed the personalization level"),
                    ("personalization_paused", "Paused personalization"),
                    ("personalization_resumed", "Resumed personalization"),
                    ("profile_reset", "Reset recommendations"),
                    ("data_corrected", "Corrected data"),
                    ("history_entry_deleted", "Deleted a reading-history entry"),
                    ("history_cleared", "Cleared the reading history"),
                    ("category_erased", "Erased a category of data"),
                    ("export_requested", "Asked for a copy of the data"),
                    ("export_ready", "Copy of the data ready"),
                    ("export_failed", "Copy of the data failed"),
                    ("export_downloaded", "Downloaded the copy of the data"),
                    ("export_expired", "Copy of the data expired and was deleted"),
                    ("policy_change_emailed", "Emailed about a policy change"),
                    ("account_erased", "Erased the account"),
                ],
                max_length=30,
            ),
        ),
    ]
