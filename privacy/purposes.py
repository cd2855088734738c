"""The optional purposes a reader can turn on, each explained in plain words.

The exact notice shown for a purpose is hashed into every consent receipt, so a receipt
proves which words the reader agreed to. A period the notice states is written as the name
of its setting (`{PRIVACY_HISTORY_RETENTION_DAYS}`) and read from the settings each time, so
the words agreed to are the rule the purge applies; a system check (privacy.checks) refuses
a period written by hand.
"""

import hashlib
import string
from dataclasses import dataclass

from django.conf import settings

POLICY_VERSION = "2026-11-01"


def settings_text(template: str) -> str:
    """`template` with each `{SETTING_NAME}` replaced by that setting's current value."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{name: getattr(settings, name) for name in names})


@dataclass(frozen=True)
class Purpose:
    key: str
    title: str
    reason: str  # one plain sentence: what it does for the reader
    stored: str  # what is kept
    retention_template: str  # for how long; periods as {SETTING_NAME}
    when_off: str  # what changes if it stays off

    @property
    def retention(self) -> str:
        return settings_text(self.retention_template)

    @property
    def notice(self) -> str:
        return " ".join((self.reason, self.stored, self.retention, self.when_off))

    @property
    def notice_sha256(self) -> str:
        return hashlib.sha256(self.notice.encode("utf-8")).hexdigest()


READING_HISTORY = Purpose(
    key="reading_history",
    title="Keep my reading history",
    reason="We use the articles you read here to suggest similar stories.",
    stored="We store which article you read and when, encrypted, visible only to you.",
    retention_template=(
        "Each entry is deleted after {PRIVACY_HISTORY_RETENTION_DAYS} days, or sooner when you "
        "delete it."
    ),
    when_off="If it stays off, we record nothing about what you read.",
)
POPULAR_COUNTING = Purpose(
    key="popular_counting",
    title='Count my reads toward "popular"',
    reason="Your reads help everyone see which stories are popular today.",
    stored=(
        "We store an unlinkable daily code with the article, turned into noisy totals "
        "(differential privacy) by the next day."
    ),
    retention_template=(
        "The raw daily entries are deleted once counted, within "
        "{PRIVACY_SIGNAL_RETENTION_HOURS} hours."
    ),
    when_off="If it stays off, your reads are not counted anywhere.",
)
DIGEST = Purpose(
    key="digest",
    title="Weekly email digest",
    reason="Once a week we email you the top stories in your topics.",
    stored="We use the email address of your account and your chosen topics.",
    retention_template="We keep this choice until you turn it off or delete your account.",
    when_off="If it stays off, we send you no newsletter.",
)
REGION = Purpose(
    key="region",
    title="Local news for a region you pick",
    reason="We show news from a region you choose yourself; we never use GPS or your IP.",
    stored="We store the region you pick, encrypted.",
    retention_template="We keep it until you change it, turn this off or delete your account.",
    when_off="If it stays off, we store no location of any kind.",
)

OPTIONAL_PURPOSES: tuple[Purpose, ...] = (READING_HISTORY, POPULAR_COUNTING, DIGEST, REGION)
PURPOSES: dict[str, Purpose] = {p.key: p for p in OPTIONAL_PURPOSES}
# Reading history is granted by choosing the "Topics + reading history" level, not a switch.
SWITCHABLE_PURPOSES: tuple[Purpose, ...] = (POPULAR_COUNTING, DIGEST, REGION)
