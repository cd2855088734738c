"""Reads of personal data that views, API, tasks and other apps share: consent state and
what a read may record, the reader's history (decrypted here, nowhere else), the data held
per registry category, the activity log, policy versions and the public DP releases."""

import bisect
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import DateTimeField, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from common.db_functions import ANY_READER, EpochSeconds, one_reader_sql, parameters_named
from common.sitewide import SiteWide
from news.models import Article

from .browser_signals import NO_SIGNALS, BrowserSignals
from .crypto import data_key_loaded_with, decrypt_many_for_user
from .diffs import SAME, DiffPiece, Rewording, paragraphs_diff, rewordings, word_diff
from .ldp import LOCAL_ARTICLE_QUERY
from .levels import SERVER_PERSONALIZED_LEVELS, Level, level_source
from .models import (
    ConsentChainDigest,
    ConsentRecord,
    ExportRequest,
    LevelCountRelease,
    PolicyVersion,
    PrivacyAuditEvent,
    PrivacyBudgetLedger,
    PurposeCountRelease,
    ReadingHistoryEntry,
)
from .purposes import OPTIONAL_PURPOSES, POPULAR_COUNTING, PURPOSES, READING_HISTORY, Purpose
from .registry import categories
from .releases import (
    LEVEL_QUERY,
    PURPOSE_QUERY,
    Estimate,
    noise_margin,
    noise_variance,
    ratio_estimate,
    share_estimate,
)

# --- Policy versions ----------------------------------------------------------------------


def _published(now: datetime | None = None):
    return PolicyVersion.objects.filter(
        published_at__isnull=False, takes_effect_at__lte=now or timezone.now()
    ).order_by("-takes_effect_at", "-id")


def policy_versions(*, now: datetime | None = None) -> list[PolicyVersion]:
    """Versions in effect or replaced since, newest first (a scheduled one is not shown)."""
    return list(_published(now))


def policy_current(*, now: datetime | None = None) -> PolicyVersion | None:
    return _published(now).first()


def policy_latest_published() -> PolicyVersion | None:
    """The last version published, scheduled or in effect: a new one follows it."""
    return (
        PolicyVersion.objects.filter(published_at__isnull=False)
        .order_by("-takes_effect_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class PublishedVersion:
    """What consent checks need of a published version: which it is, when it takes effect,
    which purposes it changed."""

    id: int
    version: str
    takes_effect_at: datetime
    changed_purposes: tuple[str, ...]


# Every published version, oldest first: consent is checked on every signed-in page (the
# re-consent banner) and every article view, so the list is kept in the shared cache and
# forgotten whenever a version is saved or deleted (privacy.apps). A scheduled version is in
# it too: it counts from its time on, with nothing to forget then.
PUBLISHED_VERSIONS_KEY = "privacy:published-policy-versions"
PUBLISHED_VERSIONS_SECONDS = 300


def _published_versions_compute() -> tuple[PublishedVersion, ...]:
    rows = (
        PolicyVersion.objects.filter(published_at__isnull=False)
        .order_by("takes_effect_at", "id")
        .values_list("id", "version", "takes_effect_at", "changed_purposes")
    )
    return tuple(
        PublishedVersion(id=pk, version=name, takes_effect_at=at, changed_purposes=tuple(changed))
        for pk, name, at, changed in rows
    )


published_versions = SiteWide(
    key=PUBLISHED_VERSIONS_KEY,
    compute=_published_versions_compute,
    seconds=PUBLISHED_VERSIONS_SECONDS,
)


def purpose_changes_forget(**kwargs) -> None:
    published_versions.forget()


@dataclass(frozen=True)
class ConsentTimeline:
    """The versions in effect now, oldest first, and for each purpose the versions whose
    grants of it still count: those from the last version that changed it on.

    A grant counts by the identity of the version it was given under (the receipt's
    `policy`), never by its time: a version dated in the past cannot claim the receipts given
    before it was published, and one published for later changes nothing until its time.
    """

    versions: tuple[PublishedVersion, ...]
    # Purpose -> ids of the versions whose grants count; absent: never changed, every grant.
    counting: dict[str, frozenset[int]]

    @property
    def current(self) -> PublishedVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def any_change(self) -> bool:
        return bool(self.counting)

    def changed_in(self, purpose: str) -> PublishedVersion | None:
        """The latest version in effect that changed the purpose."""
        return next((v for v in reversed(self.versions) if purpose in v.changed_purposes), None)

    def grant_counts(self, record: ConsentRecord | None) -> bool:
        """Whether a receipt is a grant that still counts (given under the version that last
        changed its purpose, or a later one)."""
        return bool(record and record.granted) and self.version_counts(
            purpose=record.purpose, policy_id=record.policy_id
        )

    def version_counts(self, *, purpose: str, policy_id: int | None) -> bool:
        counting = self.counting.get(purpose)
        return counting is None or policy_id in counting


def consent_timeline(*, now: datetime | None = None) -> ConsentTimeline:
    now = now or timezone.now()
    versions = tuple(v for v in published_versions.get() if v.takes_effect_at <= now)
    counting: dict[str, frozenset[int]] = {}
    for position, version in enumerate(versions):
        for purpose in version.changed_purposes:
            counting[purpose] = frozenset(v.id for v in versions[position:])
    return ConsentTimeline(versions=versions, counting=counting)


# --- Consent state ------------------------------------------------------------------------


def consent_latest(*, user, purpose: str) -> ConsentRecord | None:
    return (
        ConsentRecord.objects.filter(user=user, purpose=purpose)
        .order_by("-created_at", "-id")
        .first()
    )


def consent_is_current(*, user, purpose: str) -> bool:
    return consent_timeline().grant_counts(consent_latest(user=user, purpose=purpose))


def consents_latest(*, user) -> dict[str, ConsentRecord]:
    """The latest receipt per purpose (one query); a purpose never touched is absent."""
    latest: dict[str, ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(user=user).order_by("created_at", "id"):
        latest[record.purpose] = record
    return latest


@dataclass(frozen=True)
class PurposeState:
    """One optional purpose as it stands for a reader. Every page and the API say what a
    purpose's state is from this, so none says "on" while nothing is recorded.

    `on`: a grant that still counts is on file. `acting`: on, and acting on this request (a
    GPC/DNT signal pauses a grant not given in the privacy center despite it).
    `to_reconfirm`: the reader turned it on, but a later version changed its notice: it is
    off until they confirm it again (or leave it off).
    """

    purpose: Purpose
    on: bool
    acting: bool
    to_reconfirm: bool

    @property
    def paused_by_signal(self) -> bool:
        return self.on and not self.acting


def purpose_states(
    *, user, signals: BrowserSignals = NO_SIGNALS, timeline: ConsentTimeline | None = None
) -> dict[str, PurposeState]:
    """Every optional purpose's state for the reader (one query), in the purposes' order."""
    latest = consents_latest(user=user) if user.is_authenticated else {}
    timeline = timeline or consent_timeline()
    states = {}
    for key, purpose in PURPOSES.items():
        record = latest.get(key)
        on = timeline.grant_counts(record)
        states[key] = PurposeState(
            purpose=purpose,
            on=on,
            acting=on
            and receipt_in_effect(
                granted=True,
                source=record.source,
                browser_signal=record.browser_signal,
                signals=signals,
            ),
            to_reconfirm=bool(record and record.granted and not on),
        )
    return states


def consents_current(*, user) -> dict[str, bool]:
    """Every optional purpose and whether the reader has it on now."""
    return {key: state.on for key, state in purpose_states(user=user).items()}


def purposes_to_reconfirm(*, user) -> list[str]:
    """Purposes the reader had on before a version changed them, not yet confirmed again.
    Asked on every signed-in page: no query at all while no version in effect changed one."""
    timeline = consent_timeline()
    if not timeline.any_change or not user.is_authenticated:
        return []
    states = purpose_states(user=user, timeline=timeline)
    return [key for key, state in states.items() if state.to_reconfirm]


@dataclass(frozen=True)
class PurposeChange:
    """What changed in one purpose the reader must confirm again: in which version, the
    version's own summary, the notice word by word (from the words the reader agreed to, to
    the words they are asked about now) and each change as a short excerpt."""

    purpose: Purpose
    version: str
    summary_of_changes: str
    diff: list[DiffPiece]
    rewordings: list[Rewording]


def reconsent_requests(*, user, purposes: list[str] | None = None) -> list[PurposeChange]:
    """The purposes the reader must confirm again (or those of `purposes` among them), each
    with what changed for it. Two queries, and none while nothing is to be confirmed."""
    timeline = consent_timeline()
    if not timeline.any_change or not user.is_authenticated:
        return []
    latest = consents_latest(user=user)
    waiting = [
        key
        for key in PURPOSES
        if (purposes is None or key in purposes)
        and key in latest
        and latest[key].granted
        and not timeline.grant_counts(latest[key])
    ]
    if not waiting:
        return []
    changed_in = {key: timeline.changed_in(key) for key in waiting}
    wanted_ids = {latest[key].policy_id for key in waiting} | {v.id for v in changed_in.values()}
    versions = PolicyVersion.objects.in_bulk({pk for pk in wanted_ids if pk is not None})
    first = timeline.versions[0].id if timeline.versions else None
    if first is not None and first not in versions:
        versions.update(PolicyVersion.objects.in_bulk([first]))
    changes = []
    for key in waiting:
        agreed_under = versions.get(latest[key].policy_id) or versions.get(first)
        before = agreed_under.purpose_notices.get(key, "") if agreed_under else ""
        # The words asked about are the notice as it reads now: the very words the new
        # receipt's hash will prove were shown.
        after = PURPOSES[key].notice
        version = versions[changed_in[key].id]
        changes.append(
            PurposeChange(
                purpose=PURPOSES[key],
                version=version.version,
                summary_of_changes=version.summary_of_changes,
                diff=word_diff(before, after) if before else [DiffPiece(SAME, after)],
                rewordings=rewordings(before, after) if before else [],
            )
        )
    return changes


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
    consent, levels = ConsentRecord._meta.db_table, level_source()
    return (
        f"SELECT c.purpose, c.granted, c.policy_id, c.source, c.browser_signal, "
        f"p.{levels.level_column} "
        f"FROM {consent} c LEFT JOIN {levels.table} p ON p.{levels.user_column} = c.user_id "
        f"WHERE c.user_id = %s AND c.purpose IN (%s, %s) ORDER BY c.created_at, c.id"
    )


def read_permissions(*, user_id: int, signals: BrowserSignals) -> ReadOutcome:
    """What a read by this reader may record now, in one small query (it runs on every
    article view): the reader's level rides along with their receipts for the two purposes.
    Whether a grant still counts (the versions that changed its purpose since) is read from
    the cached list of versions, not from the database.

    Plain SQL on purpose: building this join through the ORM cost about a millisecond of
    Python per article view, ten times what the database spends on it.
    """
    timeline = consent_timeline()
    with connection.cursor() as cursor:
        cursor.execute(
            _read_permissions_sql(), [user_id, READING_HISTORY.key, POPULAR_COUNTING.key]
        )
        rows = cursor.fetchall()
    allowed: dict[str, bool] = {}
    level = None
    for purpose, granted, policy_id, source, browser_signal, reader_level in rows:
        allowed[purpose] = (
            bool(granted)
            and timeline.version_counts(purpose=purpose, policy_id=policy_id)
            and receipt_in_effect(
                granted=True, source=source, browser_signal=bool(browser_signal), signals=signals
            )
        )
        level = reader_level
    # Off (also what a reader without preferences has) records nothing at all, whatever else
    # is switched on: the level's own words promise "we store nothing about your reading", so
    # "count my reads toward popular" waits, switched on but idle, until personalization is.
    # "On this device only" records nothing either: the reads stay in the reader's browser.
    if level not in SERVER_PERSONALIZED_LEVELS:
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


class HistoryRead(NamedTuple):
    """One entry of a reader's history as the feed needs it: which article, and when. A named
    tuple: the feed makes hundreds on every personalized page, each at under half the cost
    of a frozen dataclass."""

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


def reads_wanted(
    reads: Sequence, *, since: float | None, newest: int, epoch_of: Callable[[object], float]
) -> int:
    """How many of these reads (newest first, each read at `epoch_of(read)`) a caller
    needs who wants the newest `newest` and every one read at or after `since` (seconds
    since 1970; None: all of them). Those are a prefix: the reads are newest first."""
    if since is None:
        return len(reads)
    recent = bisect.bisect_right(reads, -since, key=lambda read: -epoch_of(read))
    return max(min(newest, len(reads)), recent)


# Stand-ins the query below is written with, replaced by the real times when it runs.
_ANY_TIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
_FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


@functools.cache
def _history_reads_since_sql(*, limit: int | None, newest: int) -> tuple[str, tuple[str, ...]]:
    """`_history_reads_sql` of the reads at or after a time or among the newest `newest`
    (a prefix of them: a reader has one read an instant), written by the ORM once; with the
    names of its parameters in order ("reader", "since", "past")."""
    entries = ReadingHistoryEntry.objects.filter(user_id=ANY_READER)
    since = Value(_ANY_TIME, output_field=DateTimeField())
    if newest > 0:
        nth_newest = (
            # The reader's id again, not the row's: the database then finds that time once.
            ReadingHistoryEntry.objects.filter(user_id=ANY_READER)
            .order_by("-read_at")
            .values("read_at")[newest - 1 : newest]
        )
        past = Value(_FAR_PAST, output_field=DateTimeField())
        since = Least(since, Coalesce(Subquery(nth_newest), past))
    entries = entries.filter(read_at__gte=since).order_by("-read_at", "-id")
    if limit is not None:
        entries = entries[:limit]
    query = entries.values_list("pk", EpochSeconds("read_at"), "sealed_article")
    sql, params = query.query.sql_with_params()
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = {"reader": ANY_READER, "since": adapt(_ANY_TIME)}
    if newest > 0:
        placeholders["past"] = adapt(_FAR_PAST)
    return sql, tuple(parameters_named(params, placeholders))


def history_reads_for_user(
    *, user, limit: int | None = None, since: float | None = None, newest: int = 0
) -> list[HistoryRead]:
    """The reader's reads (newest first, decrypted) without their articles: the feed asks
    for this on every personalized page and names only the one or two it shows. With
    `since`, only the newest `newest` and those read at or after `since` (`reads_wanted`):
    the others are neither fetched nor opened."""
    with connection.cursor() as cursor:
        if since is None:
            cursor.execute(_history_reads_sql(limit=limit), [user.pk])
        else:
            sql, order = _history_reads_since_sql(limit=limit, newest=newest)
            # A second early in the query (the times are cut exactly below).
            if since >= 1e11:  # after any read (no candidate at all): only the newest
                bound = _FAR_FUTURE
            elif since <= 0:
                bound = _FAR_PAST
            else:
                bound = datetime.fromtimestamp(math.floor(since) - 1, UTC)
            values = {
                "reader": user.pk,
                "since": connection.ops.adapt_datetimefield_value(bound),
                "past": connection.ops.adapt_datetimefield_value(_FAR_PAST),
            }
            cursor.execute(sql, [values[name] for name in order])
        rows = cursor.fetchall()
    rows = rows[: reads_wanted(rows, since=since, newest=newest, epoch_of=itemgetter(1))]
    plaintexts = _open_articles(user=user, sealed=[sealed for _, _, sealed in rows])
    return [
        HistoryRead(pk, int(plaintext), epoch)
        for (pk, epoch, _), plaintext in zip(rows, plaintexts, strict=True)
    ]


def history_read_at(*, user, read_at: datetime) -> HistoryRead | None:
    """The reader's entry of that instant (one at most), as `history_reads_for_user` gives it.
    Usually their newest, asked for by the query written out once; else looked up by time."""
    newest = history_reads_for_user(user=user, limit=1)
    if newest and round(newest[0].read_epoch * 1e6) == round(read_at.timestamp() * 1e6):
        return newest[0]
    row = (
        ReadingHistoryEntry.objects.filter(user=user, read_at=read_at)
        .values_list("pk", EpochSeconds("read_at"), "sealed_article")
        .first()
    )
    if row is None:
        return None
    pk, epoch, sealed = row
    (plaintext,) = _open_articles(user=user, sealed=[sealed])
    return HistoryRead(pk, int(plaintext), epoch)


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
    "readers_per_purpose": "readers with each optional purpose on at the day's end",
    "consent_changes": "readers who turned each optional purpose on, or off, that day",
    "reads_in_followed_topics": "reads in a topic the reader follows, and reads elsewhere",
    "local_reads_per_article": "reads per article reported by private mode's browsers, "
    "each report randomized on its device (local differential privacy)",
    "federated_blend_update": "the average of private mode's updates of the front page's "
    "weights, each noised on its device (local differential privacy)",
}


# Counts of readers, not of reads: each reader is in each count at most once.
READER_QUERIES = frozenset({"readers_per_level", "readers_per_purpose", "consent_changes"})


@dataclass(frozen=True)
class LedgerLine:
    day: date
    what: str
    query: str
    epsilon: float
    delta: float
    mechanism: str
    contribution_bound: int
    noise_scale: float | None  # None on releases recorded before the ledger kept it

    @property
    def epsilon_text(self) -> str:
        return _epsilon_text(self.epsilon)

    @property
    def counts_readers(self) -> bool:
        return self.query in READER_QUERIES

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
    local_epsilon: float | None
    lines: list[LedgerLine]

    @property
    def total_epsilon_text(self) -> str:
        return _epsilon_text(self.total_epsilon)

    @property
    def local_epsilon_text(self) -> str:
        return _epsilon_text(self.local_epsilon) if self.local_epsilon is not None else ""


def _epsilon_text(epsilon: float) -> str:
    # "0.5", not "0.500000000001": the ledger keeps full precision, people read four digits.
    return f"{epsilon:.4g}"


# privacy.federated.FEDERATED_QUERY (which imports the aggregation, which imports this).
LOCAL_QUERIES = frozenset({LOCAL_ARTICLE_QUERY, "federated_blend_update"})


def ledger_summary(*, days: int = 90) -> list[LedgerDay]:
    """The privacy budget ledger of the last `days` days, newest first, totalled per day."""
    since = timezone.localdate() - timedelta(days=days)
    by_day: dict[date, list[LedgerLine]] = {}
    for entry in PrivacyBudgetLedger.objects.filter(day__gte=since).order_by("-day", "query"):
        by_day.setdefault(entry.day, []).append(
            LedgerLine(
                day=entry.day,
                what=QUERY_LABELS.get(entry.query, entry.query.replace("_", " ")),
                query=entry.query,
                epsilon=entry.epsilon,
                delta=entry.delta,
                mechanism=entry.mechanism,
                contribution_bound=entry.contribution_bound,
                noise_scale=entry.noise_scale,
            )
        )
    # Local reports spend each reporting browser's own budget, not the nightly release's: a
    # day's total is the central releases' alone, the local epsilon stated beside it (a
    # browser that sent both a report and a federated update spent both).
    return [
        LedgerDay(
            day=day,
            total_epsilon=sum(line.epsilon for line in lines if line.query not in LOCAL_QUERIES),
            local_epsilon=sum(line.epsilon for line in lines if line.query in LOCAL_QUERIES)
            if any(line.query in LOCAL_QUERIES for line in lines)
            else None,
            lines=lines,
        )
        for day, lines in by_day.items()
    ]


def display_count(value: int, k: int | None = None) -> str:
    """A released count as editors see it: "<k" under the suppression threshold, because a
    small noisy count is mostly noise and could hint at a handful of readers."""
    k = settings.DP_SUPPRESSION_THRESHOLD if k is None else k
    return f"<{k}" if value < k else str(value)


# --- Opt-in rates, from the released counts -----------------------------------------------

OPTIN_WINDOWS = (30, 90)
# The levels at which the reader chose personalization: on the site (the server ranks their
# page) and in their browser only. "On this device only" is opted in to personalization but
# not to any processing by the server: shown on its own row, never added to the other.
SITE_PERSONALIZED = "site"
# A share known only to within ±25 points says nothing yet: the table says so instead.
OPTIN_MAX_SHOWN_MARGIN = 0.25


@dataclass(frozen=True)
class OptInRate:
    """One share of readers (of all readers at any level) over each window, or None where
    there is not enough data."""

    key: str
    label: str
    estimates: dict[int, Estimate | None]

    def text(self, window: int) -> str:
        estimate = self.estimates.get(window)
        if estimate is None:
            return "not enough data"
        if estimate.margin > OPTIN_MAX_SHOWN_MARGIN:
            return f"too noisy yet (± {100 * estimate.margin:.0f} points)"
        # A share below 0% or above 100% is the noise's doing: shown at the bound it passed
        # (post-processing of public numbers), its margin unchanged.
        share = min(max(estimate.value, 0.0), 1.0)
        return f"{100 * share:.1f}% ± {100 * estimate.margin:.1f}"

    @property
    def cells(self) -> list[tuple[int, str]]:
        return [(window, self.text(window)) for window in OPTIN_WINDOWS]


@dataclass(frozen=True)
class OptInDay:
    """One released day's share of readers personalized by the site (None: under k)."""

    day: date
    estimate: Estimate | None


@dataclass(frozen=True)
class OptInRates:
    windows: tuple[int, ...]
    rates: list[OptInRate]
    daily: list[OptInDay]
    days_released: int  # in the longest window

    @property
    def any_data(self) -> bool:
        return any(e is not None for rate in self.rates for e in rate.estimates.values())


def _variances(query: str, since: date) -> dict[date, float]:
    lines = PrivacyBudgetLedger.objects.filter(
        query=query, day__gte=since, noise_scale__isnull=False
    ).values_list("day", "mechanism", "noise_scale")
    return {day: noise_variance(mechanism=m, scale=scale) for day, m, scale in lines}


def _level_groups() -> list[tuple[str, str, frozenset[str]]]:
    return [
        (
            SITE_PERSONALIZED,
            f"Personalized by the site ({Level.TOPICS.label} or {Level.TOPICS_HISTORY.label})",
            frozenset(SERVER_PERSONALIZED_LEVELS),
        ),
        (Level.TOPICS_HISTORY, Level.TOPICS_HISTORY.label, frozenset({Level.TOPICS_HISTORY})),
        (
            Level.DEVICE,
            f"{Level.DEVICE.label} (personalized in the browser, nothing processed by the site)",
            frozenset({Level.DEVICE}),
        ),
    ]


def _enough(*counts: float, days: int, k: int) -> bool:
    # A share is shown only when its counts average k readers a day or more: a smaller one is
    # mostly noise, and next to suppressed counts it would hint at a handful of readers.
    return days > 0 and all(count / days >= k for count in counts)


def _shown(estimate: Estimate | None) -> Estimate | None:
    # A day the noise swamps is left out of the chart, as the table says "too noisy yet".
    return estimate if estimate is not None and estimate.margin <= OPTIN_MAX_SHOWN_MARGIN else None


def optin_rates(*, today: date | None = None) -> OptInRates:
    """Shares of readers at the personalization levels and with each optional purpose on,
    pooled over the released days of each window (readers summed over the days, so a share is
    of reader-days), each with a 95% interval for the noise by the delta method on the ratio
    of two noisy sums (`releases.share_estimate`, `ratio_estimate`). Counts of the whole
    readership, so noise is the only error. Read from the public releases only."""
    today = today or timezone.localdate()
    k = settings.DP_SUPPRESSION_THRESHOLD
    since = today - timedelta(days=max(OPTIN_WINDOWS))
    levels: dict[date, dict[str, int]] = {}
    for day, level, n in LevelCountRelease.objects.filter(day__gte=since).values_list(
        "day", "level", "noisy_count"
    ):
        levels.setdefault(day, {})[level] = n
    purposes: dict[date, dict[str, int]] = {}
    for day, purpose, n in PurposeCountRelease.objects.filter(
        day__gte=since, kind=PurposeCountRelease.Kind.ON
    ).values_list("day", "purpose", "noisy_count"):
        purposes.setdefault(day, {})[purpose] = n
    level_noise, purpose_noise = _variances(LEVEL_QUERY, since), _variances(PURPOSE_QUERY, since)
    groups = _level_groups()

    def level_share(days: list[date], members: frozenset[str]) -> Estimate | None:
        part = rest = part_var = rest_var = 0.0
        for day in days:
            counts, variance = levels[day], level_noise.get(day, 0.0)
            inside = [n for level, n in counts.items() if level in members]
            outside = [n for level, n in counts.items() if level not in members]
            part, rest = part + sum(inside), rest + sum(outside)
            part_var += len(inside) * variance
            rest_var += len(outside) * variance
        if not _enough(part, part + rest, days=len(days), k=k):
            return None
        return share_estimate(part=part, rest=rest, part_variance=part_var, rest_variance=rest_var)

    def purpose_share(days: list[date], purpose: str) -> Estimate | None:
        days = [day for day in days if purpose in purposes.get(day, {})]
        on = sum(purposes[day][purpose] for day in days)
        total = sum(sum(levels[day].values()) for day in days)
        if not _enough(on, total, days=len(days), k=k):
            return None
        return ratio_estimate(
            numerator=on,
            denominator=total,
            numerator_variance=sum(purpose_noise.get(day, 0.0) for day in days),
            denominator_variance=sum(len(levels[day]) * level_noise.get(day, 0.0) for day in days),
        )

    in_window = {
        window: sorted(day for day in levels if day >= today - timedelta(days=window))
        for window in OPTIN_WINDOWS
    }
    rates = [
        OptInRate(
            key=key,
            label=label,
            estimates={w: level_share(in_window[w], members) for w in OPTIN_WINDOWS},
        )
        for key, label, members in groups
    ] + [
        OptInRate(
            key=purpose.key,
            label=purpose.title,
            estimates={w: purpose_share(in_window[w], purpose.key) for w in OPTIN_WINDOWS},
        )
        for purpose in OPTIONAL_PURPOSES
    ]
    daily = [
        OptInDay(day=day, estimate=_shown(level_share([day], groups[0][2])))
        for day in in_window[max(OPTIN_WINDOWS)]
    ]
    return OptInRates(
        windows=OPTIN_WINDOWS,
        rates=rates,
        daily=daily,
        days_released=len(in_window[max(OPTIN_WINDOWS)]),
    )


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
class PurposeNoticeChange:
    purpose: Purpose
    diff: list[DiffPiece]


@dataclass(frozen=True)
class PolicyChanges:
    """What a version changed since the one before it: the text, paragraph by paragraph and
    within a reworded paragraph word by word, and each purpose notice it changed."""

    paragraphs: list[list[DiffPiece]]
    purposes: list[PurposeNoticeChange]


def policy_changes(*, older: PolicyVersion, newer: PolicyVersion) -> PolicyChanges:
    return PolicyChanges(
        paragraphs=paragraphs_diff(older.paragraphs(), newer.paragraphs()),
        purposes=[
            PurposeNoticeChange(
                purpose=PURPOSES[key],
                diff=word_diff(
                    older.purpose_notices.get(key, ""), newer.purpose_notices.get(key, "")
                ),
            )
            for key in newer.changed_purposes
            if key in PURPOSES
        ],
    )


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
