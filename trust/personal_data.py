"""The trust app's categories of personal data: when a reader was last asked the trust
survey (never their answer, which is stored linked to nobody), and the notices of incidents
that affected them."""

from privacy.registry import DataCategory, LegalBasis, register, until_account_deleted

from .models import IncidentNotice
from .survey import ASK_EVERY_DAYS

register(
    DataCategory(
        key="trust_survey",
        title="When we last asked you our trust survey",
        position=120,
        models=("trust.SurveyAsk",),
        user_path="user",
        purpose=(
            f"To ask you how comfortable you are with how we use your data at most once "
            f"every {ASK_EVERY_DAYS} days, and never again if you said so. Your answer is "
            "randomized and stored without anything that links it to you, so it is not here."
        ),
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        export_fields=("asked_on", "dismissed"),
        reader_erasable=True,
    ),
    DataCategory(
        key="incident_notices",
        title="Security and privacy incidents that affected you",
        position=125,
        models=("trust.IncidentNotice",),
        user_path="user",
        purpose="To tell you, once, about an incident that affected your data.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        exporter=lambda *, user: [
            {"incident": title, "queued_at": queued_at, "sent_at": sent_at}
            for title, queued_at, sent_at in IncidentNotice.objects.filter(user=user)
            .order_by("queued_at", "pk")
            .values_list("incident__title", "queued_at", "sent_at")
        ],
    ),
)
