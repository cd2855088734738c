"""Reads of consent state: the only way other apps learn what a reader agreed to."""

from django.db.models import QuerySet

from .models import ConsentRecord
from .purposes import PURPOSES


def consent_latest(*, user, purpose: str) -> ConsentRecord | None:
    return (
        ConsentRecord.objects.filter(user=user, purpose=purpose)
        .order_by("-created_at", "-id")
        .first()
    )


def consent_is_current(*, user, purpose: str) -> bool:
    latest = consent_latest(user=user, purpose=purpose)
    return bool(latest and latest.granted)


def consents_current(*, user) -> dict[str, bool]:
    """Every optional purpose and whether the reader has it on now (one query)."""
    state = dict.fromkeys(PURPOSES, False)
    for record in ConsentRecord.objects.filter(user=user).order_by("created_at", "id"):
        state[record.purpose] = record.granted
    return state


def consent_history(*, user) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(user=user).order_by("-created_at", "-id")
