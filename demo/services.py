"""A demo that looks lived in from its first screen: the demo reader already onboarded with a
few reads, and a few weeks of privacy-protected releases made from simulated readers' reads.

Everything goes through the site's own services (onboarding, consent receipts, read recording,
the nightly differentially private aggregation with its ledger), so the demo shows what the
site really does; nothing is written around them.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Preferences, User
from accounts.selectors import reader_profile
from accounts.services import (
    onboarding_save_level,
    onboarding_save_purposes,
    onboarding_save_topics,
    onboarding_skip,
    preferences_for,
    user_create,
)
from news.models import Article, Topic
from privacy.aggregation import aggregate_day, day_released
from privacy.browser_signals import NO_SIGNALS
from privacy.models import SignalEvent
from privacy.purposes import POPULAR_COUNTING
from privacy.services import read_record, read_store
from recommendations.services import feed_impressions_flush, feed_impressions_record
from trust.models import SurveyAsk
from trust.services import survey_answer_record

Level = Preferences.Level
ListType = SignalEvent.ListType

# --- The demo reader ------------------------------------------------------------------------

# What the demo reader follows; the first topics by name stand in for any that are missing.
DEMO_READER_TOPICS = ("science", "technology", "climate")
DEMO_READER_READS = 5


def demo_reader_onboard(*, email: str, now: datetime | None = None) -> int | None:
    """Take the demo reader through onboarding as a person would: three topics, "Topics +
    reading history" (which grants the reading-history consent, with its receipt), no other
    purpose; then a few reads of recent stories in those topics, recorded as the article page
    records them. Returns how many reads were recorded, or None when there is no such reader
    or no topic yet, or they finished onboarding already: then they are left as they are.
    """
    user = User.objects.filter(email=email).first()
    topics = list(Topic.objects.filter(slug__in=DEMO_READER_TOPICS)) or list(
        Topic.objects.order_by("name")[: len(DEMO_READER_TOPICS)]
    )
    if user is None or not topics or preferences_for(user=user).onboarding_done:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        onboarding_save_topics(
            user=user, topic_ids=[t.pk for t in topics], blocked_ids=[], signals=NO_SIGNALS
        )
        onboarding_save_level(user=user, level=Level.TOPICS_HISTORY, signals=NO_SIGNALS)
        onboarding_save_purposes(user=user, wanted={}, region="", signals=NO_SIGNALS)
    stories = list(
        Article.objects.published()
        .filter(topics__in=topics, published_at__lte=now - timedelta(hours=1))
        .distinct()
        .order_by("-published_at")[:DEMO_READER_READS]
    )
    # Read over the last day or two, oldest story first, each an hour or more after it came out.
    for position, story in enumerate(reversed(stories)):
        read_at = max(story.published_at + timedelta(hours=1), now - timedelta(hours=40))
        read_at = min(read_at + timedelta(hours=3 * position), now - timedelta(minutes=5))
        read_record(
            user=user, article=story, signals=NO_SIGNALS, list_type=ListType.PERSONAL, now=read_at
        )
    return len(stories)


# --- Simulated readers ------------------------------------------------------------------------

# Reserved for examples by RFC 2606: no mail can reach it, and it marks these accounts as the
# demo's simulated readers wherever they are listed.
SIMULATED_DOMAIN = "simulated.invalid"
SIMULATED_READERS = 240
# Out of ten simulated readers: seven count their reads toward "popular" (at "Topics only"),
# two keep a reading history instead and one turned personalization off, so the chart of
# readers per level has every level in it. Only the seven read in the simulation.
COUNTING_PER_TEN = 7
HISTORY_PER_TEN = 2
# Some topics draw more readers than others, as on any site; the others weigh 1.
TOPIC_APPEAL = {"science": 4, "technology": 4, "climate": 3, "health": 3, "politics": 3}
# The share of days a counting reader reads at all, and how many stories they read then.
ACTIVE_SHARE = 0.85
READS_A_DAY = (1, 2, 3, 4)
READS_A_DAY_WEIGHTS = (45, 30, 15, 10)
# Where a read came from (feed cards of the personal or the shared feed, or elsewhere), and the
# share of feed cards shown that were opened, for the editors' click-through rates.
LIST_TYPE_WEIGHTS = {ListType.PERSONAL: 55, ListType.EDITORIAL: 30, ListType.NONE: 15}
CLICK_THROUGH = {ListType.PERSONAL: 0.09, ListType.EDITORIAL: 0.05}
# A story's pull halves every few days after it comes out.
FRESHNESS_HALF_LIFE_DAYS = 3.0
# A followed topic makes a story this many times likelier to be picked.
FOLLOWED_TOPIC_PULL = 4.0
# The trust survey: the share of simulated readers who answer it once over the simulated days,
# and how they answer before the site randomizes each answer.
SURVEY_ANSWER_SHARE = 0.7
SURVEY_ANSWER_WEIGHTS = {
    "not_at_all": 4,
    "slightly": 8,
    "somewhat": 22,
    "very": 38,
    "completely": 18,
    "prefer_not": 10,
}


def simulated_email(number: int) -> str:
    return f"reader-{number:03d}@{SIMULATED_DOMAIN}"


@dataclass(frozen=True)
class SimulatedReader:
    user_id: int
    topic_ids: frozenset[int]
    counting: bool


def _simulated_reader_create(*, number: int, topics: list[Topic], rng: random.Random) -> None:
    """One simulated reader, onboarded through the same steps as a person. No password (so no
    one can sign in as them) and an address no mail reaches."""
    role = number % 10
    weights = [TOPIC_APPEAL.get(t.slug, 1) for t in topics]
    chosen = {t.pk for t in rng.choices(topics, weights=weights, k=rng.choice((2, 3, 4)))}
    with transaction.atomic():
        user = user_create(
            email=simulated_email(number),
            password=None,
            display_name=f"Simulated reader {number}",
        )
        if role >= COUNTING_PER_TEN + HISTORY_PER_TEN:
            onboarding_skip(user=user, signals=NO_SIGNALS)
            return
        onboarding_save_topics(user=user, topic_ids=chosen, blocked_ids=[], signals=NO_SIGNALS)
        counting = role < COUNTING_PER_TEN
        onboarding_save_level(
            user=user, level=Level.TOPICS if counting else Level.TOPICS_HISTORY, signals=NO_SIGNALS
        )
        onboarding_save_purposes(
            user=user, wanted={POPULAR_COUNTING.key: counting}, region="", signals=NO_SIGNALS
        )


def simulated_readers_ensure(
    *,
    count: int = SIMULATED_READERS,
    seed: int = 0,
    on_reader: Callable[[], None] | None = None,
) -> int:
    """Create the simulated readers that do not exist yet; returns how many were made.
    `on_reader` is called after each of the `count`, made now or before."""
    existing = set(
        User.objects.filter(email__endswith=f"@{SIMULATED_DOMAIN}").values_list("email", flat=True)
    )
    topics = list(Topic.objects.order_by("pk"))
    made = 0
    for number in range(1, count + 1):
        if topics and simulated_email(number) not in existing:
            rng = random.Random(f"{seed}:reader:{number}")
            _simulated_reader_create(number=number, topics=topics, rng=rng)
            made += 1
        if on_reader is not None:
            on_reader()
    return made


def simulated_readers() -> list[SimulatedReader]:
    """The simulated readers as the database has them now: their topics, and whether they
    count their reads (an erasure tried out in the demo may have removed some)."""
    readers = []
    for user in User.objects.filter(email__endswith=f"@{SIMULATED_DOMAIN}").order_by("pk"):
        profile = reader_profile(user=user)
        readers.append(
            SimulatedReader(
                user_id=user.pk,
                topic_ids=frozenset(profile.topic_weights),
                counting=profile.level == Level.TOPICS,
            )
        )
    return readers


@dataclass(frozen=True)
class Story:
    pk: int
    published_at: datetime
    topic_ids: frozenset[int]
    appeal: float


def _stories() -> list[Story]:
    stories = []
    for article in Article.objects.published().prefetch_related("topics").order_by("pk"):
        # Some stories simply draw more readers: a heavy tail, the same on every run.
        appeal = random.Random(f"appeal:{article.pk}").paretovariate(1.5)
        stories.append(
            Story(
                pk=article.pk,
                published_at=article.published_at,
                topic_ids=frozenset(t.pk for t in article.topics.all()),
                appeal=appeal,
            )
        )
    return stories


def _pull(story: Story, reader: SimulatedReader, read_at: datetime) -> float:
    age_days = max((read_at - story.published_at).total_seconds(), 0) / 86400
    followed = FOLLOWED_TOPIC_PULL if story.topic_ids & reader.topic_ids else 1.0
    return story.appeal * followed * 0.5 ** (age_days / FRESHNESS_HALF_LIFE_DAYS)


@dataclass(frozen=True)
class SimulatedDay:
    day: date
    released: bool  # now; not when released before, or when no story was out yet
    reads: int = 0
    epsilon_spent: float = 0.0


def simulated_day_release(
    *, day: date, readers: list[SimulatedReader], stories: list[Story], seed: int = 0
) -> SimulatedDay:
    """One closed day of the simulated readers' reads, recorded by the site's recording service
    (which checks each reader's consent) and released by the site's nightly aggregation: noise
    added, the epsilon spent written to the public ledger, the raw events and the day's salt
    destroyed. A day released already, or before any story was out, is left alone."""
    # Reads from noon to midnight, so every story counted was out before it was read.
    noon = timezone.make_aware(datetime.combine(day, time(12)))
    available = [story for story in stories if story.published_at <= noon]
    if not available or day_released(day=day):
        return SimulatedDay(day=day, released=False)
    rng = random.Random(f"{seed}:day:{day.isoformat()}")
    reads = 0
    from_cards = dict.fromkeys(CLICK_THROUGH, 0)
    list_types, list_type_weights = zip(*LIST_TYPE_WEIGHTS.items(), strict=True)
    # One transaction for the day's writes: half the time on SQLite. Counting readers keep no
    # history, so each read writes one unlinkable event and nothing else.
    with transaction.atomic():
        for reader in readers:
            if not reader.counting or rng.random() > ACTIVE_SHARE:
                continue
            wanted = rng.choices(READS_A_DAY, weights=READS_A_DAY_WEIGHTS)[0]
            read_at = noon + timedelta(minutes=rng.randrange(12 * 60))
            pulls = [_pull(story, reader, read_at) for story in available]
            picked = rng.choices(available, weights=pulls, k=wanted)
            for story in {s.pk: s for s in picked}.values():  # one read of a story a day
                list_type = rng.choices(list_types, weights=list_type_weights)[0]
                read_store(
                    user_id=reader.user_id,
                    article_id=story.pk,
                    read_at=read_at.isoformat(),
                    list_type=list_type,
                )
                reads += 1
                if list_type in from_cards:
                    from_cards[list_type] += 1
        # The cards shown that day: the denominators of the click-through rates.
        feed_impressions_record(
            list_types=[
                list_type
                for list_type, opened in from_cards.items()
                for _ in range(round(opened / CLICK_THROUGH[list_type]))
            ],
            day=day,
        )
    released = aggregate_day(day=day)
    return SimulatedDay(
        day=day,
        released=not released.already_done,
        reads=reads,
        epsilon_spent=released.epsilon_spent,
    )


@dataclass(frozen=True)
class SimulationResult:
    days_released: int
    reads: int
    epsilon_spent: float


def simulated_days_release(
    *,
    days: int,
    today: date | None = None,
    seed: int = 0,
    on_day: Callable[[SimulatedDay], None] | None = None,
) -> SimulationResult:
    """The simulated readers' reading over the last `days` closed days, oldest first, each day
    released as the nightly job releases one. Days released already, by an earlier run or by
    the nightly job itself, are left as they are, so running it again changes nothing."""
    if days < 0:
        raise ValueError(f"The number of days to simulate cannot be negative, not {days}.")
    today = today or timezone.localdate()
    readers, stories = simulated_readers(), _stories()
    outcomes = []
    for back in range(days, 0, -1):
        outcome = simulated_day_release(
            day=today - timedelta(days=back), readers=readers, stories=stories, seed=seed
        )
        outcomes.append(outcome)
        if on_day is not None:
            on_day(outcome)
    # The cards shown are counted in the process and written in batches: all of them now.
    feed_impressions_flush()
    released = [outcome for outcome in outcomes if outcome.released]
    return SimulationResult(
        days_released=len(released),
        reads=sum(outcome.reads for outcome in released),
        epsilon_spent=sum(outcome.epsilon_spent for outcome in released),
    )


def simulated_survey_answers(*, days: int, today: date | None = None, seed: int = 0) -> int:
    """The simulated readers never asked yet answer the trust survey (each with
    SURVEY_ANSWER_SHARE chance, on one of the last `days` closed days) through the site's own
    service, which randomizes each answer before storing it; returns how many answered."""
    if days <= 0:
        return 0
    today = today or timezone.localdate()
    asked = SurveyAsk.objects.values("user_id")
    answers, weights = zip(*SURVEY_ANSWER_WEIGHTS.items(), strict=True)
    answered = 0
    simulated = User.objects.filter(email__endswith=f"@{SIMULATED_DOMAIN}").exclude(pk__in=asked)
    for user in simulated.order_by("pk"):
        rng = random.Random(f"{seed}:survey:{user.email}")
        if rng.random() > SURVEY_ANSWER_SHARE:
            continue
        day = today - timedelta(days=rng.randint(1, days))
        survey_answer_record(user=user, answer=rng.choices(answers, weights=weights)[0], today=day)
        answered += 1
    return answered
