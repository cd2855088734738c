"""Every write to accounts: users, demo accounts, preferences and the onboarding wizard."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from news.models import Topic
from news.permissions import EDITORS_GROUP
from privacy.browser_signals import BrowserSignals
from privacy.crypto import encrypt_for_user
from privacy.levels import SERVER_PERSONALIZED_LEVELS
from privacy.models import ConsentRecord
from privacy.purposes import PURPOSES, READING_HISTORY, REGION, SWITCHABLE_PURPOSES
from privacy.selectors import consent_latest, purposes_to_reconfirm
from privacy.services import Action, audit_record, consent_set, history_entries_delete_all
from privacy.signals import reader_data_changed_send

from .models import DEFAULT_TOPIC_WEIGHT, Preferences, PreferredTopic, User
from .selectors import REGION_CONTEXT

Level = Preferences.Level
Source = ConsentRecord.Source
ONBOARDING_STEPS = 3
_TOPICS_STAY_ON_DEVICE = (
    "At “On this device only” your topics stay in your browser and we keep none: pick them "
    "on the private mode page, or choose another level first. Nothing was changed."
)


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    display_name: str = "",
    is_editor: bool = False,
    is_admin: bool = False,
    email_verified: bool = False,
) -> User:
    user = User(
        email=User.objects.normalize_email(email),
        display_name=display_name,
        is_staff=is_editor or is_admin,
        is_superuser=is_admin,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    if is_editor:
        user.groups.add(Group.objects.get(name=EDITORS_GROUP))
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=email_verified)
    return user


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str | None  # None when the account already existed: its password is unchanged
    created: bool


DEMO_ACCOUNTS = (
    ("reader", "reader@example.com", "Demo Reader", False, False),
    ("editor", "editor@example.com", "Demo Editor", True, False),
    ("admin", "admin@example.com", "Demo Admin", False, True),
)


def demo_accounts_ensure(*, fixed_passwords: bool) -> list[DemoAccount]:
    """Create the reader, editor and admin demo accounts if missing.

    With `fixed_passwords` (local demo) each password is '<role>-demo-pass'; otherwise a
    random one is generated and shown once. Existing accounts are left untouched.
    """
    accounts = []
    for role, email, name, is_editor, is_admin in DEMO_ACCOUNTS:
        if User.objects.filter(email=email).exists():
            accounts.append(DemoAccount(role=role, email=email, password=None, created=False))
            continue
        password = f"{role}-demo-pass" if fixed_passwords else secrets.token_urlsafe(12)
        user_create(
            email=email,
            password=password,
            display_name=name,
            is_editor=is_editor,
            is_admin=is_admin,
            email_verified=True,
        )
        accounts.append(DemoAccount(role=role, email=email, password=password, created=True))
    return accounts


# --- Preferences --------------------------------------------------------------------------


def preferences_for(*, user: User) -> Preferences:
    preferences, _ = Preferences.objects.get_or_create(user=user)
    return preferences


def preferences_note_browser_signal(*, user: User, signals: BrowserSignals) -> None:
    """Remember when a GPC/DNT signal was first seen from this reader."""
    if signals.present:
        Preferences.objects.filter(user=user, browser_signal_seen_at__isnull=True).update(
            browser_signal_seen_at=timezone.now()
        )


def _topics_by_id(ids: Iterable[int]) -> list[Topic]:
    ids = set(ids)
    topics = list(Topic.objects.filter(pk__in=ids))
    if len(topics) != len(ids):
        raise ValidationError("One of the chosen topics does not exist.")
    return topics


@transaction.atomic
def preferences_set_topics(
    *,
    user: User,
    topic_ids: Iterable[int],
    blocked_ids: Iterable[int] = (),
    require_one: bool = True,
) -> Preferences:
    """Replace the followed and blocked topics; weights of topics kept are unchanged."""
    chosen, blocked = _topics_by_id(topic_ids), _topics_by_id(blocked_ids)
    if require_one and not chosen:
        raise ValidationError("Pick at least one topic.")
    overlap = {t.name for t in chosen} & {t.name for t in blocked}
    if overlap:
        raise ValidationError(
            f"A topic cannot be both followed and blocked: {', '.join(sorted(overlap))}."
        )
    preferences = preferences_for(user=user)
    preferences.preferred_topics.exclude(topic__in=chosen).delete()
    kept = set(preferences.preferred_topics.values_list("topic_id", flat=True))
    PreferredTopic.objects.bulk_create(
        [PreferredTopic(preferences=preferences, topic=t) for t in chosen if t.pk not in kept]
    )
    preferences.blocked_topics.set(blocked)
    preferences.save(update_fields=["updated_at"])
    reader_data_changed_send(user_id=user.pk)
    return preferences


@transaction.atomic
def preferences_set_level(
    *, user: User, level: str, source: str, signals: BrowserSignals, despite_signal: bool = False
) -> Preferences:
    """Set the personalization level. The top level is the reading-history consent."""
    if level not in Level.values:
        raise ValidationError(f"Unknown personalization level: {level!r}.")
    preferences = preferences_for(user=user)
    if level in SERVER_PERSONALIZED_LEVELS and not preferences.preferred_topics.exists():
        raise ValidationError("Pick at least one topic before turning personalization on.")
    if level == Level.DEVICE:
        _interests_forget(user=user, preferences=preferences)
    changed = preferences.level != level
    preferences.level = level
    preferences.full_clean()
    preferences.save(update_fields=["level", "updated_at"])
    reader_data_changed_send(user_id=user.pk)
    if changed:
        audit_record(
            user=user,
            action=Action.LEVEL_CHANGED,
            category="preferences",
            detail=Level(level).label,
        )
    consent_set(
        user=user,
        purpose=READING_HISTORY.key,
        granted=level == Level.TOPICS_HISTORY,
        source=source,
        signals=signals,
        despite_signal=despite_signal,
    )
    return preferences


def _interests_forget(*, user: User, preferences: Preferences) -> None:
    """At "On this device only" the reader's topics and reads live in their browser, so the
    server keeps the level and nothing about their interests (the level's explanation says
    so): chosen and blocked topics and any reading history kept are deleted."""
    preferences.preferred_topics.all().delete()
    preferences.blocked_topics.clear()
    history_entries_delete_all(user=user)


@transaction.atomic
def preferences_set_purposes(
    *,
    user: User,
    wanted: dict[str, bool],
    region: str,
    source: str,
    signals: BrowserSignals,
    left_as_they_are: frozenset[str] = frozenset(),
) -> Preferences:
    """Turn the optional purposes on or off; a region is kept only while its purpose is on.

    `left_as_they_are`: purposes awaiting confirmation after a policy change that this save
    leaves off as shown: nothing is written for them (neither a grant nor a withdrawal), so
    the reader is still asked, with what changed, and a kept region stays until they answer.
    """
    allowed = {p.key for p in SWITCHABLE_PURPOSES}
    unknown = set(wanted) - allowed
    if unknown:
        raise ValidationError(f"Unknown purpose: {', '.join(sorted(unknown))}.")
    region_on = wanted.get(REGION.key, False)
    if region_on and region not in Preferences.Region.values:
        raise ValidationError("Pick a region to get local news, or turn local news off.")
    preferences = preferences_for(user=user)
    for purpose in SWITCHABLE_PURPOSES:
        if purpose.key in left_as_they_are and not wanted.get(purpose.key, False):
            continue
        consent_set(
            user=user,
            purpose=purpose.key,
            granted=wanted.get(purpose.key, False),
            source=source,
            signals=signals,
        )
    if REGION.key in left_as_they_are and not region_on:
        return preferences
    preferences.region_sealed = (
        encrypt_for_user(user=user, plaintext=region, context=REGION_CONTEXT) if region_on else None
    )
    preferences.save(update_fields=["region_sealed", "updated_at"])
    return preferences


@transaction.atomic
def preferences_update(
    *,
    user: User,
    topic_ids: Iterable[int],
    blocked_ids: Iterable[int],
    level: str,
    wanted: dict[str, bool],
    region: str,
    signals: BrowserSignals,
) -> Preferences:
    """Everything the preferences page edits, applied together or not at all.

    A purpose awaiting confirmation after a policy change is shown off, and a save that
    leaves it so (the level "Topics + reading history" left chosen, for reading history) is
    no answer to the change: it stays awaiting, asked with what changed, in the privacy center.
    """
    awaiting = frozenset(purposes_to_reconfirm(user=user))
    level_untouched = preferences_for(user=user).level == level
    if level != Level.DEVICE:  # at "On this device only" no topic is kept here
        preferences_set_topics(
            user=user,
            topic_ids=topic_ids,
            blocked_ids=blocked_ids,
            require_one=level in SERVER_PERSONALIZED_LEVELS,
        )
    if not (level_untouched and level == Level.TOPICS_HISTORY and READING_HISTORY.key in awaiting):
        preferences_set_level(user=user, level=level, source=Source.PREFERENCES, signals=signals)
    return preferences_set_purposes(
        user=user,
        wanted=wanted,
        region=region,
        source=Source.PREFERENCES,
        signals=signals,
        left_as_they_are=awaiting,
    )


@transaction.atomic
def preferences_reset_topic_weights(*, user: User) -> int:
    """Every chosen topic back to full weight (undoes "show less like this")."""
    reader_data_changed_send(user_id=user.pk)
    # Moves the preferences' version, which is what a cached front page is checked against.
    Preferences.objects.filter(user=user).update(updated_at=timezone.now())
    return PreferredTopic.objects.filter(preferences__user=user).update(weight=DEFAULT_TOPIC_WEIGHT)


@transaction.atomic
def personalization_pause(*, user: User, signals: BrowserSignals) -> Preferences:
    """Restriction / objection: personalization Off at once, chosen topics kept for later.

    Off also withdraws the reading-history consent (that is what the top level is)."""
    preferences = preferences_set_level(
        user=user, level=Level.OFF, source=Source.PRIVACY_CENTER, signals=signals
    )
    audit_record(user=user, action=Action.PERSONALIZATION_PAUSED, category="preferences")
    return preferences


@transaction.atomic
def personalization_resume(*, user: User, signals: BrowserSignals) -> Preferences:
    """Back to "Topics only": reading history needs a fresh, explicit choice."""
    preferences = preferences_set_level(
        user=user, level=Level.TOPICS, source=Source.PRIVACY_CENTER, signals=signals
    )
    audit_record(user=user, action=Action.PERSONALIZATION_RESUMED, category="preferences")
    return preferences


@transaction.atomic
def user_correct_display_name(*, user: User, display_name: str) -> User:
    """Rectification: the one free-text field we hold besides the email address."""
    user.display_name = display_name.strip()
    user.full_clean(exclude=["password"])
    user.save(update_fields=["display_name"])
    audit_record(user=user, action=Action.DATA_CORRECTED, category="account", detail="Display name")
    return user


# --- Onboarding wizard --------------------------------------------------------------------


def _advance(preferences: Preferences, *, to_step: int) -> None:
    preferences.onboarding_step = max(preferences.onboarding_step, to_step)
    preferences.save(update_fields=["onboarding_step", "updated_at"])


def _ensure_step_open(preferences: Preferences, step: int) -> None:
    if preferences.onboarding_done:
        raise ValidationError("Onboarding is already finished; change anything in Preferences.")
    if step > preferences.onboarding_step:
        raise ValidationError("Finish the earlier step first.")


@transaction.atomic
def onboarding_save_topics(
    *, user: User, topic_ids: Iterable[int], blocked_ids: Iterable[int], signals: BrowserSignals
) -> Preferences:
    preferences = preferences_for(user=user)
    _ensure_step_open(preferences, 1)
    if preferences.level == Level.DEVICE:
        raise ValidationError(_TOPICS_STAY_ON_DEVICE)
    preferences_note_browser_signal(user=user, signals=signals)
    preferences = preferences_set_topics(user=user, topic_ids=topic_ids, blocked_ids=blocked_ids)
    if preferences.level == Level.OFF and preferences.onboarding_step == 1:
        # "Topics only" is the default once topics are chosen; it needs no consent.
        preferences.level = Level.TOPICS
        preferences.save(update_fields=["level", "updated_at"])
        reader_data_changed_send(user_id=user.pk)
    _advance(preferences, to_step=2)
    return preferences


@transaction.atomic
def onboarding_save_level(*, user: User, level: str, signals: BrowserSignals) -> Preferences:
    preferences = preferences_for(user=user)
    _ensure_step_open(preferences, 2)
    preferences = preferences_set_level(
        user=user, level=level, source=Source.ONBOARDING, signals=signals
    )
    _advance(preferences, to_step=3)
    return preferences


@transaction.atomic
def onboarding_save_purposes(
    *, user: User, wanted: dict[str, bool], region: str, signals: BrowserSignals
) -> Preferences:
    preferences = preferences_for(user=user)
    _ensure_step_open(preferences, 3)
    preferences = preferences_set_purposes(
        user=user, wanted=wanted, region=region, source=Source.ONBOARDING, signals=signals
    )
    preferences.onboarding_finished_at = timezone.now()
    preferences.save(update_fields=["onboarding_finished_at", "updated_at"])
    return preferences


@transaction.atomic
def onboarding_skip(*, user: User, signals: BrowserSignals) -> Preferences:
    """Skip = personalization Off and no optional consent, whatever earlier steps chose."""
    preferences = preferences_for(user=user)
    if preferences.onboarding_done:
        raise ValidationError("Onboarding is already finished; change anything in Preferences.")
    preferences_note_browser_signal(user=user, signals=signals)
    preferences_set_level(user=user, level=Level.OFF, source=Source.ONBOARDING, signals=signals)
    preferences_set_purposes(
        user=user, wanted={}, region="", source=Source.ONBOARDING, signals=signals
    )
    preferences.refresh_from_db()
    preferences.onboarding_finished_at = timezone.now()
    preferences.save(update_fields=["onboarding_finished_at", "updated_at"])
    return preferences


# How much one "Show less like this" lowers a followed topic's weight: from 1.0, four clicks
# to nothing. The topic stays followed; following it afresh in Preferences resets it.
SHOW_LESS_STEP = 0.25


@transaction.atomic
def preferences_show_less(*, user: User, topic: Topic) -> PreferredTopic:
    """Lower the weight of a followed topic at once, for the reader's next feed."""
    followed = (
        PreferredTopic.objects.select_for_update()
        .filter(preferences__user=user, topic=topic)
        .first()
    )
    if followed is None:
        raise ValidationError(
            f"You do not follow {topic.name}, so there is nothing to show less of; you can "
            "block it in Preferences."
        )
    followed.weight = max(0.0, round(followed.weight - SHOW_LESS_STEP, 4))
    followed.full_clean()
    followed.save(update_fields=["weight"])
    Preferences.objects.filter(pk=followed.preferences_id).update(updated_at=timezone.now())
    reader_data_changed_send(user_id=user.pk)
    return followed


@transaction.atomic
def preferences_change(
    *,
    user: User,
    signals: BrowserSignals,
    topic_ids: Iterable[int] | None = None,
    blocked_ids: Iterable[int] | None = None,
    level: str | None = None,
) -> Preferences:
    """Change some of the reader's choices (None keeps a choice as it is), all or nothing.
    Used by the API's partial update; the same rules as the preferences page apply."""
    preferences = preferences_for(user=user)
    preferences_note_browser_signal(user=user, signals=signals)
    new_level = preferences.level if level is None else level
    if new_level == Level.DEVICE and (topic_ids or blocked_ids):
        raise ValidationError(_TOPICS_STAY_ON_DEVICE)
    if topic_ids is not None or blocked_ids is not None:
        if topic_ids is None:
            topic_ids = preferences.preferred_topics.values_list("topic_id", flat=True)
        if blocked_ids is None:
            blocked_ids = preferences.blocked_topics.values_list("pk", flat=True)
        preferences_set_topics(
            user=user,
            topic_ids=list(topic_ids),
            blocked_ids=list(blocked_ids),
            require_one=new_level in SERVER_PERSONALIZED_LEVELS,
        )
    if level is not None:
        preferences_set_level(user=user, level=level, source=Source.PREFERENCES, signals=signals)
    preferences.refresh_from_db()
    return preferences


# --- API tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: `key` is shown to the reader this once; only its digest is kept."""

    key: str
    created: datetime


@transaction.atomic
def api_token_issue(*, user: User) -> IssuedToken:
    """A new API token for the reader, replacing the one they had (one per reader): only its
    digest is stored, so the token cannot be shown again, and the earlier one stops working at
    once. Refused until the reader has verified their email address, as signing in is."""
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        raise ValidationError(
            "Verify your email address first: open the link we emailed you, then ask again.",
            code="email_unverified",
        )
    # Two requests at once wait for each other here, so a reader never ends up with two.
    User.objects.select_for_update().only("pk").get(pk=user.pk)
    AuthToken.objects.filter(user=user).delete()
    token, key = AuthToken.objects.create(user=user, expiry=None)
    return IssuedToken(key=key, created=token.created)


def api_token_revoke(*, user: User) -> bool:
    """Delete the reader's API token; apps using it are signed out at once."""
    return bool(AuthToken.objects.filter(user=user).delete()[0])


# --- One purpose chosen on its own (privacy center switch, API) --------------------------
# Here, not in privacy: reading history is the top personalization level, so one choice
# coordinates the reader's preferences with their consent receipts.


def purpose_choose(
    *, user, purpose: str, granted: bool, notice_sha256: str, source: str, signals: BrowserSignals
) -> ConsentRecord | None:
    """Turn one optional purpose on or off, as the reader saw it explained.

    The notice hash must be the current notice's: a stale or forged one is refused (code
    "stale_notice") and changes nothing. Reading history is the top personalization level,
    so choosing it sets the level (Topics + reading history, or back to Topics only).
    Returns the new receipt, or None when nothing changed.
    """
    if purpose not in PURPOSES:
        raise ValidationError(f"Unknown purpose: {purpose}.", code="unknown_purpose")
    if notice_sha256 != PURPOSES[purpose].notice_sha256:
        raise ValidationError(
            "The explanation of this choice has changed since it was shown. Read it again "
            "and resubmit. Nothing was changed.",
            code="stale_notice",
        )
    if purpose == READING_HISTORY.key:
        before = consent_latest(user=user, purpose=purpose)
        preferences_set_level(
            user=user,
            level=Level.TOPICS_HISTORY if granted else Level.TOPICS,
            source=source,
            signals=signals,
            despite_signal=True,
        )
        after = consent_latest(user=user, purpose=purpose)
        return after if after is not None and after != before else None
    return consent_set(
        user=user,
        purpose=purpose,
        granted=granted,
        source=source,
        signals=signals,
        notice_sha256=notice_sha256,
        despite_signal=True,
    )


@transaction.atomic
def recommendations_reset(*, user: User) -> int:
    """Forget what the recommender learned from the reader: their reading history and any
    "show less" adjustments. The topics they chose stay. Returns history entries removed."""
    deleted = history_entries_delete_all(user=user)
    preferences_reset_topic_weights(user=user)
    audit_record(
        user=user,
        action=Action.PROFILE_RESET,
        category="reading_history",
        detail=f"{deleted} history entries; topic weights back to equal",
    )
    return deleted
