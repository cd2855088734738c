"""Readers per personalization level, released nightly with differential privacy (the ledger's
`readers_per_level` query) instead of being counted live for the editors' dashboard."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0010_rekey_consent_chain_drop_main_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="LevelCountRelease",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("level", models.CharField(max_length=20)),
                (
                    "noisy_count",
                    models.IntegerField(help_text="Released count; may be negative or zero."),
                ),
            ],
            options={
                "ordering": ["-day", "level"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "level"), name="level_count_once_per_day"
                    )
                ],
            },
        ),
    ]
