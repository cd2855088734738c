"""Reads of personal data that views, API, tasks and other apps share: consent state and
what a read may record, the reader's history (decrypted here, nowhere else), the data held
per registry category, the activity log, policy versions and the public DP releases."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from common.db_functions import ANY_READER, EpochSeconds, one_reader_sql
from common.sitewide import SiteWide
from news.models import Article

from .browser_signals import BrowserSignals
from .crypto import data_key_loaded_with, decrypt_many_for_user
from .levels import Level, level_source
from .models import (
    ConsentChainDigest,
    ConsentRecord,
    ExportRequest,
    PolicyVersion,
    PrivacyAuditEvent,
    PrivacyBudgetLedger,
    ReadingHistoryEntry,
)
from .purposes import POPULAR_COUNTING, PURPOSES, READING_HISTORY
from .registry import categories
from .releases import noise_margin, noise_variance

# --- Policy versions ----------------------------------------------------------------------


def policy_versions(*, now: datetime | None = None) -> list[PolicyVersion]:
    """Published versions, newest first (a version scheduled for later is not shown)."""
    return list(PolicyVersion.objects.filter(published_at__lte=now or timezone.now()))


def policy_current(*, now: datetime | None = None) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(published_at__lte=now or timezone.now()).first()


# When each policy version that changed purposes takes effect, newest first: asked on every
# signed-in page (the re-consent banner), so kept in the shared cache and forgotten whenever a
# policy version is saved or deleted (privacy.apps).
PURPOSE_CHANGES_KEY = "privacy:purpose-changes"
PURPOSE_CHANGES_SECONDS = 300


def _purpose_changes_compute() -> list[datetime]:
    return list(
        PolicyVersion.objects.filter(changes_purposes=True)
        .order_by("-published_at")
        .values_list("published_at", flat=True)
    )


purpose_changes = SiteWide(
    key=PURPOSE_CHANGES_KEY, compute=_purpose_changes_compute, seconds=PURPOSE_CHANGES_SECONDS
)


def purpose_changes_forget(**kwargs) -> None:
    purpose_changes.forget()


def reconsent_since(*, now: datetime | None = None) -> datetime | None:
    """When the latest policy that changed purposes took effect: grants given before then no
    longer count until the reader confirms them again. A version published for later takes
    effect when its time comes, with nothing forgotten."""
    now = now or timezone.now()
    return next((at for at in purpose_changes.get() if at <= now), None)


def grant_counts(record: ConsentRecord | None, since: datetime | None) -> bool:
    """Whether a receipt is a grant that still counts (not from before a purpose change)."""
    return bool(record and record.granted and (since is None or record.created_at >= since))


# --- Consent state ------------------------------------------------------------------------


def consent_latest(*, user, purpose: str) -> ConsentRecord | None:
    return (
        ConsentRecord.objects.filter(user=user, purpose=purpose)
        .order_by("-created_at", "-id")
        .first()
    )


def consent_is_current(*, user, purpose: str) -> bool:
    return grant_counts(consent_latest(user=user, purpose=purpose), reconsent_since())


def consents_latest(*, user) -> dict[str, ConsentRecord]:
    """The latest receipt per purpose (one query); a purpose never touched is absent."""
    latest: dict[str, ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(user=user).order_by("created_at", "id"):
        latest[record.purpose] = record
    return latest


def consents_current(*, user) -> dict[str, bool]:
    """Every optional purpose and whether the reader has it on now."""
    latest, since = consents_latest(user=user), reconsent_since()
    return {key: grant_counts(latest.get(key), since) for key in PURPOSES}


def purposes_to_reconfirm(*, user) -> list[str]:
    """Purposes the reader had on before a policy changed them, not yet confirmed again."""
    since = reconsent_since()
    if since is None or not user.is_authenticated:
        return []
    return [
        key
        for key, record in consents_latest(user=user).items()
        if record.granted and record.created_at < since
    ]


def receipt_in_effect(
    *, granted: bool, source: str, browser_signal: bool, signals: BrowserSignals
) -> bool:
    """Whether a receipt that still counts lets its purpose act on this request: always
    without a GPC/DNT signal; under one, only a choice made in the privacy center while the
    signal was on (the explicit opt-in the signal yields to)."""
    if not granted:
        return False
    if not signals.present:
        return True
    return source == ConsentRecord.Source.PRIVACY_CENTER and browser_signal


@dataclass(frozen=True)
class ReadOutcome:
    """What a read may record (or recorded): the reader's history, a popularity signal."""

    history_kept: bool
    counted: bool


NOTHING_RECORDED = ReadOutcome(history_kept=False, counted=False)


def _read_permissions_sql() -> str:
    consent, policy = ConsentRecord._meta.db_table, PolicyVersion._meta.db_table
    levels = level_source()
    # A grant given before the latest policy that changed purposes does not count any more.
    return (
        f"SELECT c.purpose, c.granted AND c.created_at >= COALESCE(("
        f"SELECT MAX(v.published_at) FROM {policy} v "
        f"WHERE v.changes_purposes AND v.published_at <= %s), c.created_at), "
        f"c.source, c.browser_signal, p.{levels.level_column} "
        f"FROM {consent} c LEFT JOIN {levels.table} p ON p.{levels.user_column} = c.user_id "
        f"WHERE c.user_id = %s AND c.purpose IN (%s, %s) ORDER BY c.created_at, c.id"
    )


def read_permissions(*, user_id: int, signals: BrowserSignals) -> ReadOutcome:
    """What a read by this reader may record now, in one small query (it runs on every
    article view): the reader's level rides along with their receipts for the two purposes.

    Plain SQL on purpose: building this join through the ORM cost about a millisecond of
    Python per article view, ten times what the database spends on it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _read_permissions_sql(),
            [
                connection.ops.adapt_datetimefield_value(timezone.now()),
                user_id,
                READING_HISTORY.key,
                POPULAR_COUNTING.key,
            ],
        )
        rows = cursor.fetchall()
    allowed: dict[str, bool] = {}
    level = None
    for purpose, granted, source, browser_signal, reader_level in rows:
        allowed[purpose] = receipt_in_effect(
            granted=bool(granted),
            source=source,
            browser_signal=bool(browser_signal),
            signals=signals,
        )
        level = reader_level
    # Off (also what a reader without preferences has) records nothing at all, whatever else
    # is switched on: the level's own words promise "we store nothing about your reading", so
    # "count my reads toward popular" waits, switched on but idle, until personalization is.
    if level in (None, Level.OFF):
        return NOTHING_RECORDED
    return ReadOutcome(
        history_kept=level == Level.TOPICS_HISTORY and allowed.get(READING_HISTORY.key, False),
        counted=allowed.get(POPULAR_COUNTING.key, False),
    )


HISTORY_CONTEXT = "history.article"


@dataclass(frozen=True)
class HistoryItem:
    entry_id: int
    article: Article | None  # None when the article has since been removed
    read_at: datetime


# What a history item needs of its article (title, link, date): never the body, which is
# most of a row and would be loaded for every entry on every personalized page.
HISTORY_ARTICLE_FIELDS = ("id", "title", "slug", "summary", "status", "published_at")


@dataclass(frozen=True)
class HistoryRead:
    """One entry of a reader's history as the feed needs it: which article, and when."""

    entry_id: int
    article_id: int
    read_epoch: float  # seconds since 1970: cheaper to read by the hundred than datetimes

    @property
    def read_at(self) -> datetime:
        return datetime.fromtimestamp(self.read_epoch, tz=UTC)


@one_reader_sql
def _history_reads_sql(*, limit: int | None) -> QuerySet:
    entries = ReadingHistoryEntry.objects.filter(user_id=ANY_READER).order_by("-read_at", "-id")
    if limit is not None:
        entries = entries[:limit]
    return entries.values_list("pk", EpochSeconds("read_at"), "sealed_article")


def history_reads_for_user(*, user, limit: int | None = None) -> list[HistoryRead]:
    """The reader's reads (newest first, decrypted) without their articles: the feed asks
    for this on every personalized page and names only the one or two it shows."""
    with connection.cursor() as cursor:
        cursor.execute(_history_reads_sql(limit=limit), [user.pk])
        rows = cursor.fetchall()
    plaintexts = _open_articles(user=user, sealed=[sealed for _, _, sealed in rows])
    return [
        HistoryRead(entry_id=pk, article_id=int(plaintext), read_epoch=epoch)
        for (pk, epoch, _), plaintext in zip(rows, plaintexts, strict=True)
    ]


def _open_articles(*, user, sealed) -> list[str]:
    return decrypt_many_for_user(
        user_id=user.pk,
        ciphertexts=[bytes(s) for s in sealed],
        context=HISTORY_CONTEXT,
        loaded_key=data_key_loaded_with(user),
    )


def history_for_user(*, user, limit: int | None = None) -> list[HistoryItem]:
    """The reader's own reading history, newest first, decrypted."""
    entries = ReadingHistoryEntry.objects.filter(user=user).order_by("-read_at", "-id")
    if limit is not None:
        entries = entries[:limit]
    rows = list(entries.values_list("pk", "read_at", "sealed_article"))
    article_ids = [int(p) for p in _open_articles(user=user, sealed=[s for _, _, s in rows])]
    articles = Article.objects.only(*HISTORY_ARTICLE_FIELDS).in_bulk(set(article_ids))
    return [
        HistoryItem(entry_id=pk, article=articles.get(article_id), read_at=read_at)
        for (pk, read_at, _), article_id in zip(rows, article_ids, strict=True)
    ]


# --- Differentially private releases ------------------------------------------------------

QUERY_LABELS = {
    "reads_per_article": "reads per article",
    "reads_per_topic": "reads per topic",
    "reads_per_list_type": "reads from personalised and non-personal feed cards",
    "readers_per_level": "readers at each personalization level",
}


@dataclass(frozen=True)
class LedgerLine:
    day: date
    what: str
    epsilon: float
    delta: float
    mechanism: str
    contribution_bound: int
    noise_scale: float | None  # None on releases recorded before the ledger kept it

    @property
    def epsilon_text(self) -> str:
        return _epsilon_text(self.epsilon)

    @property
    def noise_margin(self) -> int | None:
        """How far the noise moves one released count, 19 times in 20."""
        if self.noise_scale is None:
            return None
        return noise_margin(noise_variance(mechanism=self.mechanism, scale=self.noise_scale))


@dataclass(frozen=True)
class LedgerDay:
    day: date
    total_epsilon: float
    lines: list[LedgerLine]

    @property
    def total_epsilon_text(self) -> str:
        return _epsilon_text(self.total_epsilon)


def _epsilon_text(epsilon: float) -> str:
    # "0.5", not "0.500000000001": the ledger keeps full precision, people read four digits.
    return f"{epsilon:.4g}"


def ledger_summary(*, days: int = 90) -> list[LedgerDay]:
    """The privacy budget ledger of the last `days` days, newest first, totalled per day."""
    since = timezone.localdate() - timedelta(days=days)
    by_day: dict[date, list[LedgerLine]] = {}
    for entry in PrivacyBudgetLedger.objects.filter(day__gte=since).order_by("-day", "query"):
        by_day.setdefault(entry.day, []).append(
            LedgerLine(
                day=entry.day,
                what=QUERY_LABELS.get(entry.query, entry.query.replace("_", " ")),
                epsilon=entry.epsilon,
                delta=entry.delta,
                mechanism=entry.mechanism,
                contribution_bound=entry.contribution_bound,
                noise_scale=entry.noise_scale,
            )
        )
    return [
        LedgerDay(day=day, total_epsilon=sum(line.epsilon for line in lines), lines=lines)
        for day, lines in by_day.items()
    ]


def display_count(value: int, k: int | None = None) -> str:
    """A released count as editors see it: "<k" under the suppression threshold, because a
    small noisy count is mostly noise and could hint at a handful of readers."""
    k = settings.DP_SUPPRESSION_THRESHOLD if k is None else k
    return f"<{k}" if value < k else str(value)


# --- The privacy center -------------------------------------------------------------------


@dataclass(frozen=True)
class CategorySnapshot:
    """One registry category as the reader sees it: why we hold it, and what we hold."""

    key: str
    title: str
    purpose: str
    legal_basis: str
    retention: str
    rows: list[dict]
    reader_erasable: bool

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    @property
    def table(self) -> list[list]:
        return [[row.get(column, "") for column in self.columns] for row in self.rows]


def data_held(*, user) -> list[CategorySnapshot]:
    """Everything held about the reader, category by category, straight from the registry."""
    return [
        CategorySnapshot(
            key=entry.key,
            title=entry.title,
            purpose=entry.purpose,
            legal_basis=entry.legal_basis,
            retention=entry.retention(),
            rows=entry.rows_for(user=user),
            reader_erasable=entry.reader_erasable,
        )
        for entry in categories()
    ]


@dataclass(frozen=True)
class CategoryCount:
    """One registry category in the privacy center's overview: how much, and for how long."""

    key: str
    title: str
    retention: str
    count: int


def data_counts(*, user) -> list[CategoryCount]:
    """How many rows of each category are held about the reader, counted where they are
    kept (nothing is decrypted: the overview needs no history item's content)."""
    return [
        CategoryCount(
            key=entry.key,
            title=entry.title,
            retention=entry.retention(),
            count=entry.count_for(user=user),
        )
        for entry in categories()
    ]


def activity_for_user(*, user):
    return PrivacyAuditEvent.objects.filter(user=user).order_by("-created_at", "-id")


def consent_receipts(*, user):
    """The reader's full consent history, newest first."""
    return ConsentRecord.objects.filter(user=user).order_by("-created_at", "-id")


@dataclass(frozen=True)
class PolicyChange:
    kind: str  # "added", "removed" or "same"
    text: str


def policy_changes(*, older: PolicyVersion, newer: PolicyVersion) -> list[PolicyChange]:
    """Paragraph-level differences between two policy versions, in reading order."""
    import difflib

    before, after = older.paragraphs(), newer.paragraphs()
    changes: list[PolicyChange] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            changes += [PolicyChange("same", text) for text in after[b1:b2]]
            continue
        changes += [PolicyChange("removed", text) for text in before[a1:a2]]
        changes += [PolicyChange("added", text) for text in after[b1:b2]]
    return changes


# --- Copies of a reader's data ------------------------------------------------------------


def exports_for_user(*, user, limit: int = 10) -> list[ExportRequest]:
    """The reader's recent export requests, newest first."""
    return list(ExportRequest.objects.filter(user=user).order_by("-created_at")[:limit])


def export_for_user(*, user, export_id) -> ExportRequest | None:
    """One export of this reader; None for an unknown id and for anyone else's export alike, so
    a guessed id tells nothing about other readers."""
    return ExportRequest.objects.filter(pk=export_id, user=user).first()


def consent_digests_published(*, days: int = 90) -> list[ConsentChainDigest]:
    """The daily digests of the consent-receipt chain heads, newest first (the public part:
    the day, the counts and the digest, never the heads themselves)."""
    since = timezone.localdate() - timedelta(days=days)
    return list(
        ConsentChainDigest.objects.filter(day__gte=since)
        .order_by("-day")
        .only("day", "published_at", "chains", "receipts", "digest", "note")
    )
