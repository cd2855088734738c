"""Every write of the trust app: answering or putting off the survey, and the incident
register with its notices to affected readers."""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from common.queueing import enqueue_on_commit
from common.site_links import site_url
from privacy.registry import categories

from .models import Incident, IncidentNotice, SurveyAnswer, SurveyAsk
from .survey import (
    ANSWER_KEYS,
    ASK_EVERY_DAYS,
    BROWSER_MECHANISM,
    EPSILON,
    SERVER_MECHANISM,
    guaranteed_epsilon,
    randomize,
)

logger = logging.getLogger(__name__)

NOTICE_SEND_TASK = "trust.tasks.incident_notice_send"
NOTICE_SWEEP_TASK = "trust.tasks.incident_notices_send_pending"
# A notice queued longer ago than this and still neither sent nor being sent lost its message
# (the broker was down, or lost it): the sweep sends it. Shorter would race a busy worker's
# queue; the claim still keeps it to one email if both run.
NOTICE_LOST_AFTER = timedelta(minutes=10)

NOT_AN_ANSWER = "Choose one of the answers (or “Prefer not to say”). Nothing was saved."
NOT_DUE = (
    f"You were asked within the last {ASK_EVERY_DAYS} days, so this answer was not saved: "
    f"we ask at most once every {ASK_EVERY_DAYS} days."
)


def week_of(day: date) -> date:
    """The Monday of `day`'s week: an answer is stored with its week, not its day, so it
    cannot be matched to the day a reader was asked."""
    return day - timedelta(days=day.weekday())


def survey_is_due(*, asked_on: date | None, dismissed: bool, today: date) -> bool:
    if dismissed:
        return False
    return asked_on is None or today >= asked_on + timedelta(days=ASK_EVERY_DAYS)


def _ask_claim(*, user, today: date) -> None:
    """Note that the reader was asked today, or refuse when they were asked within the period
    (or turned the survey off): a second answer from one reader is never stored."""
    with transaction.atomic():
        ask, _ = SurveyAsk.objects.select_for_update().get_or_create(user=user)
        if not survey_is_due(asked_on=ask.asked_on, dismissed=ask.dismissed, today=today):
            raise ValidationError(NOT_DUE)
        ask.asked_on = today
        ask.full_clean()
        ask.save(update_fields=["asked_on"])


def _answer_store(*, answer: str, mechanism: str, epsilon: float, today: date) -> SurveyAnswer:
    stored = SurveyAnswer(day=week_of(today), answer=answer, mechanism=mechanism, epsilon=epsilon)
    stored.full_clean()
    with transaction.atomic():
        stored.save(force_insert=True)
    return stored


def survey_answer_record(*, user, answer: str, today: date | None = None) -> SurveyAnswer:
    """A signed-in reader's answer: randomized here, before anything is stored, and stored
    with its week alone. The reader's row only says they were asked today.

    Two transactions, never one: on PostgreSQL every row carries the id of the transaction
    that wrote it (xmin), and a shared one would link the reader's row to the answer's. The
    reader's row is written first, so a failure in between loses one answer, never stores two.
    The raw answer is never stored, logged or kept past this call.
    """
    today = today or timezone.localdate()
    if answer not in ANSWER_KEYS:
        raise ValidationError(NOT_AN_ANSWER)
    _ask_claim(user=user, today=today)
    return _answer_store(
        answer=randomize(answer),
        mechanism=SERVER_MECHANISM,
        epsilon=guaranteed_epsilon(),
        today=today,
    )


def survey_randomized_answer_record(*, answer: str, today: date | None = None) -> SurveyAnswer:
    """An answer a private-mode browser randomized itself (static/trust/survey.js, with the
    same ε), sent with nothing that names the visitor; stored as it came."""
    if answer not in ANSWER_KEYS:
        raise ValidationError(NOT_AN_ANSWER)
    return _answer_store(
        answer=answer,
        mechanism=BROWSER_MECHANISM,
        epsilon=EPSILON,
        today=today or timezone.localdate(),
    )


def survey_put_off(*, user, today: date | None = None) -> SurveyAsk:
    """ "Not now": asked today, so not again for the period."""
    today = today or timezone.localdate()
    with transaction.atomic():
        ask, _ = SurveyAsk.objects.select_for_update().get_or_create(user=user)
        ask.asked_on = today
        ask.save(update_fields=["asked_on"])
    return ask


def survey_dismiss(*, user) -> SurveyAsk:
    """ "Don't ask me again": for good."""
    with transaction.atomic():
        ask, _ = SurveyAsk.objects.select_for_update().get_or_create(user=user)
        ask.dismissed = True
        ask.save(update_fields=["dismissed"])
    return ask


# --- Incidents ----------------------------------------------------------------------------


def incident_save(*, incident: Incident) -> Incident:
    incident.full_clean()
    incident.save()
    return incident


NO_READERS = "Give the email address of at least one affected reader. Nothing was changed."


def _readers_by_email(emails: list[str]) -> list:
    wanted = {email.strip().lower() for email in emails if email.strip()}
    if not wanted:
        raise ValidationError(NO_READERS)
    any_of = Q()
    for email in wanted:
        any_of |= Q(email__iexact=email)
    found = {user.email.lower(): user for user in get_user_model().objects.filter(any_of)}
    missing = sorted(wanted - set(found))
    if missing:
        raise ValidationError(
            f"No reader has the address{'es' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}. Nothing was changed."
        )
    return list(found.values())


@transaction.atomic
def incident_readers_mark_affected(*, incident: Incident, emails: list[str]) -> int:
    """Note the readers at these addresses as affected by the incident and queue one email to
    each not emailed yet; returns how many were queued. Every address must be a reader's, or
    nothing changes. Marking a reader again queues nothing new, except a notice whose queueing
    was lost (the broker was down): it is queued again."""
    readers = _readers_by_email(emails)
    existing = set(
        IncidentNotice.objects.filter(incident=incident, user__in=readers).values_list(
            "user_id", flat=True
        )
    )
    IncidentNotice.objects.bulk_create(
        [IncidentNotice(incident=incident, user=u) for u in readers if u.pk not in existing]
    )
    unsent = IncidentNotice.objects.filter(
        incident=incident, user__in=readers, sent_at__isnull=True, claimed_at__isnull=True
    ).values_list("pk", flat=True)
    queued = 0
    for notice_id in unsent:
        enqueue_on_commit(NOTICE_SEND_TASK, notice_id, sweep=NOTICE_SWEEP_TASK)
        queued += 1
    return queued


def incident_notices_send_pending(*, now=None) -> int:
    """Send the notices whose message never reached a worker; returns how many went. A send
    that fails stays for the next sweep; one notice's failure does not stop the others."""
    before = (now or timezone.now()) - NOTICE_LOST_AFTER
    pending = IncidentNotice.objects.filter(
        sent_at__isnull=True, claimed_at__isnull=True, queued_at__lt=before
    ).values_list("pk", flat=True)
    sent = 0
    for notice_id in list(pending):
        try:
            sent += incident_notice_send(notice_id=notice_id)
        except Exception:
            logger.exception(
                "Incident notice %s could not be sent; the next sweep tries again.", notice_id
            )
    return sent


def incident_notice_send(*, notice_id: int) -> bool:
    """Email one affected reader what happened and what was done; returns whether it went.

    Once per reader and incident: the notice is claimed before sending, so a repeated or
    concurrent task finds it claimed and sends nothing; only a failed send gives the claim
    back, for the task's retry.
    """
    now = timezone.now()
    claimed = IncidentNotice.objects.filter(
        pk=notice_id, sent_at__isnull=True, claimed_at__isnull=True
    ).update(claimed_at=now)
    if not claimed:
        return False
    notice = IncidentNotice.objects.select_related("incident", "user").get(pk=notice_id)
    user, incident = notice.user, notice.incident
    if not user.is_active or not user.email:
        return False
    titles = {entry.key: entry.title for entry in categories()}
    context = {
        "site_name": settings.SITE_NAME,
        "incident": incident,
        "data_categories": [titles.get(key, key) for key in incident.data_categories],
        "transparency_url": site_url(reverse("privacy:transparency")),
        "privacy_center_url": site_url(reverse("privacy:center")),
    }
    subject = " ".join(render_to_string("trust/email/incident_subject.txt", context).split())
    try:
        send_mail(
            subject, render_to_string("trust/email/incident_body.txt", context), None, [user.email]
        )
    except Exception:
        IncidentNotice.objects.filter(pk=notice_id).update(claimed_at=None)
        raise
    IncidentNotice.objects.filter(pk=notice_id).update(sent_at=timezone.now())
    return True
