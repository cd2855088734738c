"""The optional purposes a reader can turn on, each explained in plain words.

The exact notice shown for a purpose is hashed into every consent receipt, so a receipt
proves which words the reader agreed to.
"""

import hashlib
from dataclasses import dataclass

POLICY_VERSION = "2026-11-01"


@dataclass(frozen=True)
class Purpose:
    key: str
    title: str
    reason: str  # one plain sentence: what it does for the reader
    stored: str  # what is kept
    retention: str  # for how long
    when_off: str  # what changes if it stays off

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
    retention="Each entry is deleted after 90 days, or sooner when you delete it.",
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
    retention="The raw daily entries are deleted once counted, within 48 hours.",
    when_off="If it stays off, your reads are not counted anywhere.",
)
DIGEST = Purpose(
    key="digest",
    title="Weekly email digest",
    reason="Once a week we email you the top stories in your topics.",
    stored="We use the email address of your account and your chosen topics.",
    retention="We keep this choice until you turn it off or delete your account.",
    when_off="If it stays off, we send you no newsletter.",
)
REGION = Purpose(
    key="region",
    title="Local news for a region you pick",
    reason="We show news from a region you choose yourself; we never use GPS or your IP.",
    stored="We store the region you pick, encrypted.",
    retention="We keep it until you change it, turn this off or delete your account.",
    when_off="If it stays off, we store no location of any kind.",
)

OPTIONAL_PURPOSES: tuple[Purpose, ...] = (READING_HISTORY, POPULAR_COUNTING, DIGEST, REGION)
PURPOSES: dict[str, Purpose] = {p.key: p for p in OPTIONAL_PURPOSES}
# Reading history is granted by choosing the "Topics + reading history" level, not a switch.
SWITCHABLE_PURPOSES: tuple[Purpose, ...] = (POPULAR_COUNTING, DIGEST, REGION)
