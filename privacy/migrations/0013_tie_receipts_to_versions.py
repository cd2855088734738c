"""Fill what 0012 added, for the versions and receipts written before it.

Versions: each was public from its `published_at`, which was also when it took effect, so
both keep that time (the moment it was really saved was never recorded). A version that was
still scheduled counts as published now, when this runs, and keeps its later start. Each
keeps the purposes' notices as they read when this migration runs (earlier wording was never
recorded); a version that "changed purposes" changed all of them, as that flag meant. Their
readers are not emailed now: the emails are for versions published from here on.

Receipts: each is tied to the version it names. That name was written, and hashed into the
receipt, by the site when the receipt was given, as the version in effect then, so it is the
one record of that moment that a backdated version could not rewrite (the old check compared
times, which let a version dated in the past claim receipts given before it existed). A
receipt naming a version that no longer exists stays untied and counts as given before every
version: asked again about any purpose a version has changed.
"""

from django.db import migrations
from django.utils import timezone

from privacy.purposes import PURPOSES


def fill(apps, schema_editor):
    alias = schema_editor.connection.alias
    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    ConsentRecord = apps.get_model("privacy", "ConsentRecord")
    now = timezone.now()
    notices = {key: purpose.notice for key, purpose in PURPOSES.items()}
    for version in PolicyVersion.objects.using(alias).all():
        version.takes_effect_at = version.published_at
        version.published_at = min(version.published_at, now)
        version.purpose_notices = notices
        version.changed_purposes = list(PURPOSES) if version.changes_purposes else []
        version.emails_queued_at = now
        version.save(using=alias)
        ConsentRecord.objects.using(alias).filter(policy_version=version.version).update(
            policy=version.pk
        )


def unfill(apps, schema_editor):
    alias = schema_editor.connection.alias
    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    if PolicyVersion.objects.using(alias).filter(published_at__isnull=True).exists():
        raise RuntimeError(
            "Draft policy versions exist, which the earlier schema cannot hold (every version "
            "there is public from its date): publish or delete them first."
        )
    for version in PolicyVersion.objects.using(alias).all():
        version.published_at = version.takes_effect_at
        version.changes_purposes = bool(version.changed_purposes)
        version.save(using=alias)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0012_policy_drafts_and_receipt_versions")]
    operations = [migrations.RunPython(fill, unfill)]
