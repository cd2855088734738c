"""Every write of personal data: consent receipts, recorded reads, retention purges."""

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, router, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from common.queueing import enqueue_on_commit
from news.models import Article

from .audit import Action, audit_record
from .browser_signals import BrowserSignals
from .crypto import consent_chain_key, data_keys_remembered, encrypt_for_user
from .exports import export_file_delete, export_orphans_delete
from .followed_topics import in_followed_topic
from .history_kept import (
    history_reads_appended,
    history_reads_before_append,
    history_reads_changed,
)
from .models import (
    ConsentChainDigest,
    ConsentRecord,
    DailySalt,
    ExportRequest,
    PolicyChangeEmail,
    PolicyVersion,
    PrivacyAuditEvent,
    ReadingHistoryEntry,
    SignalEvent,
)
from .purposes import POLICY_VERSION, PURPOSES
from .read_queue import read_enqueue, reads_drain
from .registry import categories
from .selectors import (
    HISTORY_CONTEXT,
    NOTHING_RECORDED,
    ReadOutcome,
    consent_latest,
    consent_timeline,
    read_permissions,
    receipt_in_effect,
    reconsent_requests,
)
from .signals import reader_data_changed_send, reader_read_queued

logger = logging.getLogger(__name__)


def _receipt_canonical(record) -> bytes:
    return json.dumps(
        {
            "user": record.user_id,
            "purpose": record.purpose,
            "granted": record.granted,
            "policy_version": record.policy_version,
            "notice_sha256": record.notice_sha256,
            "browser_signal": record.browser_signal,
            "source": record.source,
            "created_at": record.created_at.isoformat(),
            "previous_hash": record.previous_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def receipt_hash(record, *, key: bytes) -> str:
    """The receipt's link in its reader's chain: HMAC-SHA256 under the consent-chain key (kept
    in the key store) of its content and its predecessor's hash. Without the key nobody, a
    writer of the main database included, can make a receipt or a chain that verifies."""
    return hmac.new(key, _receipt_canonical(record), hashlib.sha256).hexdigest()


def unkeyed_receipt_hash(record) -> str:
    """The hash receipts had before the chain was keyed (kept in `unkeyed_hash`)."""
    return hashlib.sha256(_receipt_canonical(record)).hexdigest()


@transaction.atomic
def consent_set(
    *,
    user,
    purpose: str,
    granted: bool,
    source: str,
    signals: BrowserSignals,
    notice_sha256: str | None = None,
    despite_signal: bool = False,
) -> ConsentRecord | None:
    """Record a grant or withdrawal, if it changes the reader's current state.

    `despite_signal`: this is one explicit choice made in the privacy center while the
    browser sends GPC/DNT, the opt-in the signal yields to; it is receipted even when an
    earlier grant, paused by the signal, is on file.

    `notice_sha256` is the hash of the notice the reader was shown; when given it must match
    the current notice, so a receipt never claims agreement to words the reader did not see.
    Returns the new receipt, or None when nothing changed.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown purpose: {purpose}")
    current_notice = PURPOSES[purpose].notice_sha256
    if notice_sha256 is not None and notice_sha256 != current_notice:
        raise ValueError("The notice shown is not the current one.")
    # Lock the reader's row so two receipts never chain onto the same predecessor.
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    previous = ConsentRecord.objects.filter(user=user).order_by("-created_at", "-id").first()
    # Unchanged state writes nothing; a purpose never granted is off, so nothing to withdraw.
    # A grant from before a policy change no longer counts: granting writes a fresh receipt,
    # and withdrawing writes one too, so the reader is not asked about it again.
    latest = consent_latest(user=user, purpose=purpose)
    paused_by_signal = (
        despite_signal
        and signals.present
        and source == ConsentRecord.Source.PRIVACY_CENTER
        and latest is not None
        and not receipt_in_effect(
            granted=True,
            source=latest.source,
            browser_signal=latest.browser_signal,
            signals=signals,
        )
    )
    timeline = consent_timeline()
    if granted and timeline.grant_counts(latest) and not paused_by_signal:
        return None
    if not granted and not (latest and latest.granted):
        return None
    # Given under the version in effect now, by identity: that version, and no other, is what
    # decides whether the grant still counts once later versions change the purpose.
    current = timeline.current
    record = ConsentRecord(
        user=user,
        purpose=purpose,
        granted=granted,
        policy_version=current.version if current else POLICY_VERSION,
        policy_id=current.id if current else None,
        notice_sha256=current_notice,
        browser_signal=signals.present,
        source=source,
        created_at=timezone.now(),
        previous_hash=previous.record_hash if previous else "",
    )
    record.record_hash = receipt_hash(record, key=consent_chain_key())
    record.full_clean()
    record.save()
    reader_data_changed_send(user_id=user.pk)
    audit_record(
        user=user,
        action=Action.CONSENT_GRANTED if granted else Action.CONSENT_WITHDRAWN,
        category="consent_receipts",
        detail=PURPOSES[purpose].title,
    )
    return record


@dataclass(frozen=True)
class ChainProblem:
    user_id: int | None
    record_id: int | None
    problem: str


@dataclass(frozen=True)
class ChainReport:
    """What `consent_chains_verify` found: receipts and digests checked, receipts re-keyed
    from the unkeyed chain (migration 0010), and every problem."""

    checked: int
    digests: int
    rekeyed: int
    problems: list[ChainProblem]


def _chain_code(*, user_id: int, key: bytes) -> str:
    # A reader's chain in a published digest is named by a keyed code, never by their id.
    return hmac.new(key, f"chain:{user_id}".encode(), hashlib.sha256).hexdigest()


def _digest_of(heads: dict[str, str]) -> str:
    canonical = "\n".join(f"{code}:{head}" for code, head in sorted(heads.items()))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _chain_heads(*, until: datetime, key: bytes) -> tuple[dict[str, str], int]:
    """Each reader's chain head among the receipts written before `until`, and how many."""
    heads: dict[str, str] = {}
    count = 0
    receipts = ConsentRecord.objects.filter(created_at__lt=until).order_by(
        "user_id", "created_at", "id"
    )
    for user_id, record_hash in receipts.values_list("user_id", "record_hash").iterator():
        heads[_chain_code(user_id=user_id, key=key)] = record_hash
        count += 1
    return heads, count


def consent_digest_publish(*, day: date) -> ConsentChainDigest:
    """Publish the digest of every receipt chain's head at the end of `day` (idempotent: the
    day's digest, once published, is never recomputed)."""
    existing = ConsentChainDigest.objects.filter(day=day).first()
    if existing is not None:
        return existing
    until = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    heads, receipts = _chain_heads(until=until, key=consent_chain_key())
    digest = ConsentChainDigest(
        day=day,
        covers_until=until,
        chains=len(heads),
        receipts=receipts,
        heads=heads,
        digest=_digest_of(heads),
    )
    digest.full_clean()
    try:
        with transaction.atomic():
            digest.save()
    except IntegrityError:  # published meanwhile by another run
        return ConsentChainDigest.objects.get(day=day)
    return digest


def consent_chains_verify() -> ChainReport:
    """Recompute every reader's keyed receipt chain and check it against every published
    digest: a receipt rewritten, inserted or removed since shows, even with its chain
    recomputed, unless whoever did it also held the chain key and rewrote every digest (which
    anyone's earlier copy of the transparency page would then contradict)."""
    key = consent_chain_key()
    problems: list[ChainProblem] = []
    checked = rekeyed = 0
    previous_by_user: dict[int, str] = {}
    version_names = dict(PolicyVersion.objects.values_list("pk", "version"))
    for record in ConsentRecord.objects.order_by("user_id", "created_at", "id").iterator():
        checked += 1
        rekeyed += bool(record.unkeyed_hash)
        expected_previous = previous_by_user.get(record.user_id, "")
        if record.previous_hash != expected_previous:
            problems.append(
                ChainProblem(record.user_id, record.pk, "does not follow the previous receipt")
            )
        if not hmac.compare_digest(receipt_hash(record, key=key), record.record_hash):
            problems.append(
                ChainProblem(record.user_id, record.pk, "content does not match its keyed hash")
            )
        # The version a grant counts by is the key beside the hashed name: they must agree.
        tied_to = version_names.get(record.policy_id) if record.policy_id else None
        if record.policy_id is not None and tied_to != record.policy_version:
            problems.append(
                ChainProblem(
                    record.user_id,
                    record.pk,
                    f"names policy version {record.policy_version} but is tied to "
                    f"{tied_to or 'a missing version'}",
                )
            )
        previous_by_user[record.user_id] = record.record_hash
    digests = 0
    user_ids = set(get_user_model().objects.values_list("pk", flat=True))
    code_to_user = {_chain_code(user_id=user_id, key=key): user_id for user_id in user_ids}
    for published in ConsentChainDigest.objects.order_by("day"):
        digests += 1
        problems.extend(_digest_problems(published, key=key, code_to_user=code_to_user))
    return ChainReport(checked=checked, digests=digests, rekeyed=rekeyed, problems=problems)


def _digest_problems(
    published: ConsentChainDigest, *, key: bytes, code_to_user: dict[str, int]
) -> list[ChainProblem]:
    day = f"the digest of {published.day:%Y-%m-%d}"
    if _digest_of(published.heads) != published.digest:
        return [ChainProblem(None, None, f"{day} does not match the chain heads it lists")]
    problems = []
    now_heads, _ = _chain_heads(until=published.covers_until, key=key)
    for code in published.heads.keys() | now_heads.keys():
        then, now = published.heads.get(code), now_heads.get(code)
        if then == now:
            continue
        user_id = code_to_user.get(code)
        if now is None and user_id is None:
            continue  # the reader's account was erased since, and their receipts with it
        problems.append(
            ChainProblem(
                user_id,
                None,
                f"the receipts written before {day} was published differ from it "
                "(rewritten, inserted or removed since)",
            )
        )
    return problems


# --- Recording reads ----------------------------------------------------------------------


def daily_salt(*, day: date) -> bytes:
    """The day's random pseudonym key, created on first use.

    Read from the database every time: a per-process copy could outlive the row (erasure,
    a rolled-back transaction) and sign events nobody can later unlink or erase.
    """
    existing = DailySalt.objects.filter(day=day).values_list("salt", flat=True).first()
    if existing is None:
        try:
            with transaction.atomic(using=router.db_for_write(DailySalt)):
                existing = DailySalt.objects.create(day=day, salt=os.urandom(32)).salt
        except IntegrityError:  # another process created it first
            existing = DailySalt.objects.get(day=day).salt
    return bytes(existing)


def pseudonym_for(*, user_id: int, salt: bytes) -> str:
    return hmac.new(salt, str(user_id).encode(), hashlib.sha256).hexdigest()


def read_record(
    *,
    user,
    article: Article,
    signals: BrowserSignals,
    list_type: str = "",
    now: datetime | None = None,
) -> ReadOutcome:
    """Decide what a read may record: the reader's own history at the top level, and an
    unlinkable daily signal when they chose to count toward "popular".

    The decision is made here, in the request; the writes are queued for after the commit so
    the page does not wait for them (`read_store` re-checks the consent when it runs).
    """
    if not user.is_authenticated:
        return NOTHING_RECORDED  # nothing per person is ever stored for anonymous visitors
    if list_type not in SignalEvent.ListType.values:
        list_type = ""  # an unknown marker is not a feed card: counted, but not per list type
    now = now or timezone.now()
    outcome = read_permissions(user_id=user.pk, signals=signals)
    if outcome.history_kept or outcome.counted:
        payload = {
            "user_id": user.pk,
            "article_id": article.pk,
            "read_at": now.isoformat(),
            "list_type": list_type,
            "gpc": signals.gpc,
            "dnt": signals.dnt,
        }

        def after_commit() -> None:
            queued = read_enqueue(payload, store=read_store)
            if not outcome.history_kept:
                return
            # The story read leaves the reader's feed now, not after the queued write.
            if queued:
                reader_read_queued.send(
                    sender=read_record,
                    user_id=user.pk,
                    article_id=article.pk,
                    read_epoch=now.timestamp(),
                )
            else:
                reader_data_changed_send(user_id=user.pk)

        transaction.on_commit(after_commit)
    return outcome


def _history_erased_since(*, user_id: int, moment: datetime) -> bool:
    """Whether the reader cleared or erased their whole reading history (or reset their
    recommendations) at or after `moment`: a read queued before must not be written into
    the history after it. Told by their activity log, where each of those is recorded with
    the reading history as its category; deleting one entry is not erasing the rest."""
    return (
        PrivacyAuditEvent.objects.filter(
            user_id=user_id, category="reading_history", created_at__gte=moment
        )
        .exclude(action=Action.HISTORY_ENTRY_DELETED)
        .exists()
    )


def _history_write(*, user, article_id: int, when: datetime) -> None:
    """The sealed history entry of one read, announced after it is written; the reader's copy
    of their reads, if they use one, brought up to date with it (`privacy.history_kept`)."""
    before = history_reads_before_append(user=user)
    with transaction.atomic():
        ReadingHistoryEntry.objects.bulk_create(
            [
                ReadingHistoryEntry(
                    user=user,
                    sealed_article=encrypt_for_user(
                        user=user, plaintext=str(article_id), context=HISTORY_CONTEXT
                    ),
                    read_at=when,
                )
            ],
            ignore_conflicts=True,  # one entry per reader and instant: redelivery is a no-op
        )
    # Again after the write: a page computed since the read still showed the story.
    reader_data_changed_send(user_id=user.pk, read_appended=True)
    transaction.on_commit(lambda: _history_kept_appended(user=user, when=when, before=before))


def _history_kept_appended(*, user, when: datetime, before) -> None:
    try:
        history_reads_appended(user=user, read_at=when, before=before)
    except Exception:
        # The token must move whatever failed: what was kept from before the read is not used.
        logger.exception("Bringing a reader's kept reads up to date failed; dropping them.")
        history_reads_changed(user_id=user.pk)


def read_store(
    *,
    user_id: int,
    article_id: int,
    read_at: str,
    list_type: str = "",
    gpc: bool = False,
    dnt: bool = False,
) -> ReadOutcome:
    """Write what `read_record` decided, if the reader still allows it now.

    Consent is checked again because a withdrawal between the read and this write must win.
    Idempotent: a redelivered task finds its rows already there and adds nothing.
    """
    outcome = read_permissions(user_id=user_id, signals=BrowserSignals(gpc=gpc, dnt=dnt))
    if not (outcome.history_kept or outcome.counted):
        return NOTHING_RECORDED
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not Article.objects.filter(pk=article_id).exists():
        return NOTHING_RECORDED  # erased or deleted since: nothing left to record against
    when = datetime.fromisoformat(read_at)
    # Two transactions, never one: on PostgreSQL every row carries the id of the transaction
    # that wrote it (xmin), and a shared one would link the sealed history entry to the
    # signal's article and pseudonym. A crash in between leaves half a read; the redelivered
    # task writes the missing half (each write ignores its own duplicate).
    if outcome.history_kept and not _history_erased_since(user_id=user_id, moment=when):
        with data_keys_remembered():  # one key-store lookup for the entry and the copy
            _history_write(user=user, article_id=article_id, when=when)
    if outcome.counted:
        day = when.date()
        pseudonym = pseudonym_for(user_id=user_id, salt=daily_salt(day=day))
        # Asked here, seconds after the read, not in the request: the page does not wait.
        followed = in_followed_topic(user_id=user_id, article_id=article_id)
        with transaction.atomic():
            SignalEvent.objects.bulk_create(
                [
                    SignalEvent(
                        day=day,
                        pseudonym=pseudonym,
                        article_id=article_id,
                        list_type=list_type,
                        in_followed_topic=followed,
                    )
                ],
                ignore_conflicts=True,  # one event per reader, article and day
            )
    return outcome


def reads_store_queued() -> int:
    """Store every read the article pages queued; returns how many were handled."""
    return reads_drain(store=read_store)


def signal_events_erase(*, user_id: int) -> int:
    """Delete the not-yet-aggregated signal events of a reader (only days whose salt still
    exists can be linked to them at all)."""
    deleted = 0
    for day, salt in DailySalt.objects.values_list("day", "salt"):
        pseudonym = pseudonym_for(user_id=user_id, salt=bytes(salt))
        deleted += SignalEvent.objects.filter(day=day, pseudonym=pseudonym).delete()[0]
    return deleted


# --- Retention ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    """What the retention purge removed: {what: how many}, in the registry's order."""

    counts: dict[str, int]

    def __getitem__(self, what: str) -> int:
        return self.counts.get(what, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def retention_purge(*, now: datetime | None = None) -> PurgeResult:
    """Delete everything past its retention period, category by category as the registry
    declares it. Idempotent: a second run deletes nothing."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for entry in categories():
        with transaction.atomic():
            counts.update(entry.purge(now=now))
    return PurgeResult(counts=counts)


def exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry and mark them expired; returns how many.

    Row by row, file before status: a crash in between leaves an export that is expired on
    paper and is tried again (deleting a missing file is a no-op)."""
    now = now or timezone.now()
    expired = 0
    stale = ExportRequest.objects.filter(status=ExportRequest.Status.READY, expires_at__lte=now)
    for export in stale:
        export_file_delete(export)
        ExportRequest.objects.filter(pk=export.pk).update(
            status=ExportRequest.Status.EXPIRED, file_name=""
        )
        audit_record(
            user=export.user,
            action=Action.EXPORT_EXPIRED,
            category="exports",
            actor=PrivacyAuditEvent.Actor.SYSTEM,
        )
        expired += 1
    return expired


# --- Reading history and the recommender profile ------------------------------------------


def history_entry_delete(*, user, entry_id: int) -> bool:
    """Delete one of the reader's own history entries; False when they have no such entry."""
    with transaction.atomic():
        deleted = ReadingHistoryEntry.objects.filter(user=user, pk=entry_id).delete()[0]
        if deleted:
            reader_data_changed_send(user_id=user.pk)
            audit_record(user=user, action=Action.HISTORY_ENTRY_DELETED, category="reading_history")
    return bool(deleted)


def history_entries_delete_all(*, user) -> int:
    """Delete every entry of the reader's history and announce it; the caller audits why."""
    deleted = ReadingHistoryEntry.objects.filter(user=user).delete()[0]
    reader_data_changed_send(user_id=user.pk)
    return deleted


def history_clear(*, user) -> int:
    with transaction.atomic():
        deleted = history_entries_delete_all(user=user)
        audit_record(
            user=user,
            action=Action.HISTORY_CLEARED,
            category="reading_history",
            detail=f"{deleted} entries",
        )
    return deleted


def exports_purge(*, now: datetime | None = None) -> int:
    """Expire the exports past their expiry and delete files no ready export owns (left by a
    killed build); returns how many exports or files went."""
    now = now or timezone.now()
    return exports_expire(now=now) + export_orphans_delete(now=now)


# --- Policy versions, and the emails about the purposes they change ----------------------

QUEUE_EMAILS_TASK = "privacy.tasks.policy_change_emails_queue"
SEND_EMAIL_TASK = "privacy.tasks.policy_change_email_send"
DUE_EMAILS_SWEEP = "privacy.tasks.policy_change_emails_queue_due"


def _when(at: datetime) -> str:
    return timezone.localtime(at).strftime("%d %B %Y, %H:%M %Z").lstrip("0")


def policy_draft_save(*, draft: PolicyVersion) -> PolicyVersion:
    """Save a new or edited draft. A published version is refused and stays as it was: it is
    the record of what readers were told."""
    draft.full_clean()
    draft.save()  # the model refuses to rewrite a published version
    return draft


def policy_draft_delete(*, policy: PolicyVersion) -> None:
    """Delete a draft; a published version is refused (and any receipt given under a version
    protects it in the database too)."""
    policy.delete()


@transaction.atomic
def policy_publish(*, policy: PolicyVersion, now: datetime | None = None) -> PolicyVersion:
    """Publish a draft. It takes effect at the time it asks for, or now if that is empty or
    past (never earlier than its publication), and after every version published before it.

    It keeps each purpose's notice as it reads now; those that differ from the previous
    version's are the purposes it changes, the only ones readers are asked about again. When
    there are some, the readers who had one on are emailed once the version is in effect.
    """
    now = now or timezone.now()
    # Every version locked: two publications at once would both follow the same last one.
    versions = {v.pk: v for v in PolicyVersion.objects.select_for_update().order_by("pk")}
    draft = versions.get(policy.pk)
    if draft is None:
        raise ValidationError("This draft was deleted meanwhile. Nothing was published.")
    if draft.published_at is not None:
        raise ValidationError(
            f"Version {draft.version} was already published on {_when(draft.published_at)}. "
            "Nothing changed."
        )
    published = [v for v in versions.values() if v.published_at is not None]
    previous = max(published, key=lambda v: (v.takes_effect_at, v.pk), default=None)
    takes_effect_at = max(draft.takes_effect_at or now, now)
    if previous is not None and takes_effect_at <= previous.takes_effect_at:
        raise ValidationError(
            f"Version {previous.version} takes effect on {_when(previous.takes_effect_at)}, and "
            "a new version must take effect after it. Set a later time, or publish this one "
            f"once {previous.version} is in effect. Nothing was published."
        )
    notices = {key: purpose.notice for key, purpose in PURPOSES.items()}
    draft.purpose_notices = notices
    # The first version changes nothing: there was no earlier text to agree to.
    draft.changed_purposes = (
        [key for key in PURPOSES if previous.purpose_notices.get(key) != notices[key]]
        if previous is not None
        else []
    )
    draft.takes_effect_at = takes_effect_at
    draft.published_at = now
    draft.full_clean()
    draft.save()
    if draft.changed_purposes:
        enqueue_on_commit(QUEUE_EMAILS_TASK, draft.pk, sweep=DUE_EMAILS_SWEEP)
    return draft


def _readers_to_email(*, policy: PolicyVersion):
    """Readers whose latest choice of a purpose the version changed is a grant given under an
    earlier version (so it no longer counts) and who were not emailed about it yet."""
    since_this = PolicyVersion.objects.filter(
        published_at__isnull=False, takes_effect_at__gte=policy.takes_effect_at
    ).values("pk")
    latest = (
        ConsentRecord.objects.filter(user=OuterRef("user"), purpose=OuterRef("purpose"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    emailed = PolicyChangeEmail.objects.filter(user=OuterRef("user"), policy=policy)
    return (
        ConsentRecord.objects.filter(
            purpose__in=policy.changed_purposes,
            granted=True,
            pk=Subquery(latest),
            user__is_active=True,
        )
        .exclude(policy__in=since_this)
        .exclude(Exists(emailed))
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


def policy_change_emails_queue(*, policy_id: int, now: datetime | None = None) -> int:
    """Queue one email to each reader whom the version's purpose changes turned something
    off; returns how many were queued. Nothing before the version takes effect (the periodic
    sweep queues them then: a reader can only confirm under a version in effect).

    Idempotent: a reader already emailed is not queued again, and the email task sends once
    per reader and version whatever reaches it. With the broker down, the version is left for
    the sweep to queue again.
    """
    now = now or timezone.now()
    policy = PolicyVersion.objects.filter(pk=policy_id, published_at__isnull=False).first()
    if policy is None or not policy.changed_purposes or policy.takes_effect_at > now:
        return 0

    def leave_for_the_sweep() -> None:
        PolicyVersion.objects.filter(pk=policy.pk).update(emails_queued_at=None)

    with transaction.atomic():
        readers = list(_readers_to_email(policy=policy))
        for user_id in readers:
            enqueue_on_commit(
                SEND_EMAIL_TASK, policy.pk, user_id, when_broker_down=leave_for_the_sweep
            )
        PolicyVersion.objects.filter(pk=policy.pk).update(emails_queued_at=now)
    return len(readers)


def policy_change_emails_queue_due(*, now: datetime | None = None) -> int:
    """Queue the emails of every version in effect whose emails were not queued yet (one
    scheduled for later, or published while the broker was down); returns how many."""
    now = now or timezone.now()
    due = PolicyVersion.objects.filter(
        published_at__isnull=False, takes_effect_at__lte=now, emails_queued_at__isnull=True
    ).values_list("pk", "changed_purposes")
    return sum(policy_change_emails_queue(policy_id=pk, now=now) for pk, changed in due if changed)


def policy_change_email_send(*, policy_id: int, user_id: int) -> bool:
    """Email one reader what the version changed in each purpose they had on, which is off
    until they confirm it, with a link to confirm. Returns whether an email went.

    Once per reader and version, never twice: the reader's row is claimed (a unique
    constraint) before sending, so a repeated or concurrent task finds it and sends nothing.
    Only a failed send gives the claim back, for the task's retry. A worker killed between
    the claim and the send leaves the reader unemailed rather than risk a second email; the
    banner on every page and the privacy center still ask them.
    """
    policy = PolicyVersion.objects.filter(pk=policy_id, published_at__isnull=False).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if policy is None or user is None or not user.email:
        return False
    changes = reconsent_requests(user=user, purposes=policy.changed_purposes)
    if not changes:
        return False  # confirmed or turned off meanwhile: nothing to ask
    try:
        with transaction.atomic():
            claim = PolicyChangeEmail.objects.create(user=user, policy=policy)
    except IntegrityError:
        return False
    context = {
        "site_name": settings.SITE_NAME,
        "version": policy.version,
        "takes_effect_at": timezone.localtime(policy.takes_effect_at),
        "summary_of_changes": policy.summary_of_changes,
        "changes": changes,
        "confirm_url": settings.SITE_URL + reverse("privacy:consents") + "#reconfirm",
        "policy_url": settings.SITE_URL + reverse("privacy:policy_version", args=[policy.version]),
    }
    subject = " ".join(render_to_string("privacy/email/policy_change_subject.txt", context).split())
    try:
        send_mail(
            subject,
            render_to_string("privacy/email/policy_change_body.txt", context),
            None,
            [user.email],
        )
    except Exception:
        PolicyChangeEmail.objects.filter(pk=claim.pk).delete()
        raise
    PolicyChangeEmail.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
    audit_record(
        user=user,
        action=Action.POLICY_CHANGE_EMAILED,
        category="policy_change_emails",
        detail=f"Policy version {policy.version}",
        actor=PrivacyAuditEvent.Actor.SYSTEM,
    )
    return True
