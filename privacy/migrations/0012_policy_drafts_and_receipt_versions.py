"""Policy versions become drafts until published, take effect no earlier than their
publication and keep each purpose's notice as it read then; receipts name the version they
were given under by key as well as by name. Fields only: 0013 fills them, 0014 drops the old
flag (three migrations, so no table is altered while rows updated beside it await their
deferred foreign-key checks on PostgreSQL)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("privacy", "0011_readers_per_level_release")]

    operations = [
        migrations.AddField(
            model_name="policyversion",
            name="takes_effect_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When it takes effect. Left empty, or a time already past when it is "
                "published, it takes effect at once; a later time schedules it.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="policyversion",
            name="purpose_notices",
            field=models.JSONField(
                blank=True,
                default=dict,
                editable=False,
                help_text="Each optional purpose's notice when it was published, by purpose key.",
            ),
        ),
        migrations.AddField(
            model_name="policyversion",
            name="changed_purposes",
            field=models.JSONField(
                blank=True,
                default=list,
                editable=False,
                help_text="The purposes whose notice differs from the previous version's.",
            ),
        ),
        migrations.AddField(
            model_name="policyversion",
            name="emails_queued_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="When the emails to readers who had a changed purpose on were queued.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="policyversion",
            name="published_at",
            field=models.DateTimeField(
                blank=True, editable=False, help_text="Empty while it is a draft.", null=True
            ),
        ),
        migrations.AddField(
            model_name="consentrecord",
            name="policy",
            field=models.ForeignKey(
                blank=True,
                help_text="The policy version in effect when it was given; empty only on a "
                "receipt naming a version that no longer exists (migration 0012).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="privacy.policyversion",
            ),
        ),
    ]
