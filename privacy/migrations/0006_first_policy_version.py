"""The site's first privacy policy, the version every receipt so far was given under."""

from datetime import UTC, datetime

from django.db import migrations

FIRST_VERSION = "2026-11-01"

FULL_TEXT = """\
This site shows you news. You can read everything without an account, and then we keep nothing \
about you: no profile, no reading log, no tracking cookie. Django's session and security \
(CSRF) cookies are the only cookies we set.

With an account we keep your email address, your display name, your password (hashed), the \
topics you chose and how much personalization you want. We need these to run your account, and \
we keep them until you delete it.

Everything else is optional, off until you turn it on, and can be turned off at any time in the \
privacy center: keeping your reading history (encrypted, visible only to you, deleted after 90 \
days); counting your reads toward "popular" (an unlinkable daily code, turned into noisy totals \
with differential privacy and deleted within 48 hours); a weekly email digest; and local news \
for a region you pick (encrypted).

We honour Global Privacy Control and Do Not Track: while your browser sends either, we record \
no history and count no reads, unless you turn a purpose on again in the privacy center while \
the signal is on.

Our recommendations are trained only on the articles themselves and on differentially private \
totals, never on one person's reading log. Editors see only those totals, with small numbers \
hidden.

In the privacy center you can see every piece of data we hold about you, correct it, download \
a copy (JSON, CSV and a readable page), delete any part of it or your whole account, pause \
personalization, and read a log of every privacy action. Deleting your account destroys your \
encryption key first, so even copies in backups become unreadable.

We keep a receipt of every consent you give or withdraw (which words you saw and when) to prove \
what you agreed to, and a log of privacy actions for two years; neither holds what you read.\
"""


def create(apps, schema_editor):
    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    PolicyVersion.objects.get_or_create(
        version=FIRST_VERSION,
        defaults={
            "published_at": datetime(2026, 11, 1, tzinfo=UTC),
            "summary_of_changes": "First version.",
            "full_text": FULL_TEXT,
            "changes_purposes": False,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("privacy", "PolicyVersion").objects.filter(version=FIRST_VERSION).delete()


class Migration(migrations.Migration):
    dependencies = [("privacy", "0005_privacy_center")]
    operations = [migrations.RunPython(create, remove)]
