"""The reader's activity log: what was done to their data and by whom, never the data."""

from .models import PrivacyAuditEvent

Action = PrivacyAuditEvent.Action


def audit_record(
    *,
    user,
    action: str,
    category: str = "",
    detail: str = "",
    actor: str = PrivacyAuditEvent.Actor.READER,
) -> PrivacyAuditEvent:
    """Add one event to the reader's activity log: what was done, never the data itself."""
    event = PrivacyAuditEvent(
        user=user, action=action, category=category, detail=detail[:200], actor=actor
    )
    event.full_clean()
    event.save()
    return event
