"""Reads of the trust app that pages share: whether to offer the survey to a reader, the
trust score estimated from the randomized answers, and the published incident register."""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from . import estimators
from .models import Incident, SurveyAnswer, SurveyAsk
from .survey import ANSWER_KEYS, ANSWERS, ASK_EVERY_DAYS, EPSILON, QUESTION, K, keep_probability

# The day from which a signed-in reader is offered the survey again ("never": dismissed),
# kept in their session so the front page asks the database once per session, not per view.
SESSION_KEY = "trust_survey_next"
NEVER = "never"
# What the card says in its place once the reader answered, put it off or dismissed it: kept
# in the session they already have (Django's messages would add a cookie).
SAID_KEY = "trust_survey_said"


@dataclass(frozen=True)
class SurveyOffer:
    """The survey card: the question, the answers and how an answer is randomized, and
    whether this browser randomizes and sends it (a visitor without an account) or the
    server does (a signed-in reader)."""

    in_browser: bool
    # Said on the card after the reader's choice; the form goes once they are not due.
    said: str = ""
    shows_form: bool = True
    question: str = QUESTION
    answers: tuple = ANSWERS
    epsilon: float = EPSILON
    every_days: int = ASK_EVERY_DAYS
    mechanism_text: str = f"k-ary randomized response over the {K} answers"

    @property
    def keep_probability(self) -> str:
        # Written for the browser's code: a dot whatever the locale.
        return repr(keep_probability(self.epsilon))

    @property
    def keep_percent(self) -> str:
        return f"{100 * keep_probability(self.epsilon):.0f}%"


SERVER_OFFER = SurveyOffer(in_browser=False)
BROWSER_OFFER = SurveyOffer(in_browser=True)


def survey_next_offer(*, asked_on: date | None, dismissed: bool) -> str:
    if dismissed:
        return NEVER
    if asked_on is None:
        return date.min.isoformat()
    return date.fromordinal(asked_on.toordinal() + ASK_EVERY_DAYS).isoformat()


def survey_offer_remember(*, session, ask: SurveyAsk | None, said: str) -> None:
    """Keep in the session what the reader's row now says (after answering, putting off or
    dismissing), so the card goes at once, and what to say in its place."""
    if ask is not None:
        session[SESSION_KEY] = survey_next_offer(asked_on=ask.asked_on, dismissed=ask.dismissed)
    session[SAID_KEY] = said


def survey_offer(*, user, session, today: date | None = None) -> SurveyOffer | None:
    """The survey card for the front page, or None. A signed-in reader gets it when due; a
    visitor without an account always gets it hidden, and their browser shows it only when it
    has private mode on and has not been asked lately (static/trust/survey.js)."""
    if not user.is_authenticated:
        return BROWSER_OFFER
    said = session.pop(SAID_KEY, "")
    today = today or timezone.localdate()
    next_offer = session.get(SESSION_KEY)
    if next_offer is None:
        ask = SurveyAsk.objects.filter(user=user).values("asked_on", "dismissed").first()
        next_offer = survey_next_offer(**(ask or {"asked_on": None, "dismissed": False}))
        session[SESSION_KEY] = next_offer
    due = next_offer != NEVER and today >= date.fromisoformat(next_offer)
    if due:
        return SurveyOffer(in_browser=False, said=said) if said else SERVER_OFFER
    return SurveyOffer(in_browser=False, said=said, shows_form=False) if said else None


def survey_ask_of(*, user) -> SurveyAsk | None:
    return SurveyAsk.objects.filter(user=user).first()


# --- The trust score ----------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerShare:
    label: str
    share: estimators.Interval

    @property
    def text(self) -> str:
        return _percent(self.share)

    @property
    def short_text(self) -> str:
        value = min(max(self.share.estimate, 0.0), 1.0)
        return f"{100 * value:.0f}% ±{100 * self.share.margin:.0f}"


@dataclass(frozen=True)
class TrustReport:
    n: int
    needed: int
    shares: list[AnswerShare]
    mean: estimators.Interval | None
    question: str = QUESTION
    epsilon: float = EPSILON
    every_days: int = ASK_EVERY_DAYS

    @property
    def enough(self) -> bool:
        return self.n >= self.needed

    @property
    def mean_text(self) -> str:
        if self.mean is None:
            return "not enough answers on the scale"
        value = min(max(self.mean.estimate, 1.0), 5.0)
        low, high = max(self.mean.low, 1.0), min(self.mean.high, 5.0)
        return f"{value:.1f} out of 5 (95% interval {low:.1f} to {high:.1f})"


def _percent(interval: estimators.Interval) -> str:
    value = min(max(interval.estimate, 0.0), 1.0)
    low, high = max(interval.low, 0.0), min(interval.high, 1.0)
    return f"{100 * value:.0f}% ({100 * low:.0f}% to {100 * high:.0f}%)"


def survey_counts() -> dict[float, list[int]]:
    """The stored (randomized) answers counted per ε and answer, in the answers' order."""
    by_epsilon: dict[float, list[int]] = {}
    rows = SurveyAnswer.objects.values("epsilon", "answer").annotate(n=Count("id"))
    for row in rows:
        counts = by_epsilon.setdefault(row["epsilon"], [0] * K)
        counts[ANSWER_KEYS.index(row["answer"])] += row["n"]
    return by_epsilon


def trust_report() -> TrustReport:
    """The estimated distribution of answers and mean comfort, each with its 95% interval;
    none of it is shown before TRUST_SURVEY_MIN_ANSWERS answers exist."""
    estimate = estimators.estimate(survey_counts())
    needed = settings.TRUST_SURVEY_MIN_ANSWERS
    if estimate.n < needed:
        return TrustReport(n=estimate.n, needed=needed, shares=[], mean=None)
    return TrustReport(
        n=estimate.n,
        needed=needed,
        shares=[
            AnswerShare(label=answer.label, share=estimate.share(index))
            for index, answer in enumerate(ANSWERS)
        ],
        mean=estimate.mean_comfort(),
    )


# --- The incident register ----------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRegister:
    since: date
    count: int
    closed: list[Incident]


def incidents_published() -> IncidentRegister:
    """What the transparency page shows: how many incidents were registered since launch
    (open ones included) and each closed one, newest first."""
    incidents = Incident.objects.all()
    return IncidentRegister(
        since=settings.SITE_LAUNCH_DATE,
        count=incidents.count(),
        closed=list(incidents.filter(status=Incident.Status.CLOSED).order_by("-closed_at", "-pk")),
    )
