"""Daily differentially private popularity counts (design flow 3): bound, count, add OpenDP
noise, record the epsilon spent, then destroy the day's raw events and salt.

Queries per day: reads per article, reads per topic, reads in a topic their reader follows
and reads elsewhere (how loyal readers are to their topics, for training's tuning), reads per
feed list type (personalised, editorial or holdout feed cards, for the editors'
click-through rates), readers with each
optional purpose on at the day's end and readers who turned each on or off that day (from the
consent receipts, privacy's own), and on the day just closed readers at each personalization
level (a snapshot of the accounts' preferences, which privacy does not import: accounts
registers the counting function, `level_counts_source_register`)."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone
from opendp.combinators import make_fix_delta, make_zCDP_to_approxDP
from opendp.domains import atom_domain, vector_domain
from opendp.measurements import make_gaussian, make_laplace
from opendp.metrics import l1_distance, l2_distance
from opendp.mod import Measurement, binary_search_param, enable_features

from news.models import Article, Topic

from .models import (
    AggregateSignal,
    ConsentRecord,
    DailySalt,
    FollowedTopicRelease,
    LevelCountRelease,
    PrivacyBudgetLedger,
    PurposeCountRelease,
    SignalEvent,
)
from .purposes import OPTIONAL_PURPOSES
from .releases import (
    ARTICLE_QUERY,
    CONSENT_CHANGE_QUERY,
    FOLLOWED_TOPIC_QUERY,
    LEVEL_QUERY,
    LIST_TYPE_QUERY,
    MECHANISMS,
    PURPOSE_QUERY,
    TOPIC_QUERY,
)
from .selectors import consent_timeline

# OpenDP's own modules, not its prelude: the prelude also loads opendp.extras, a web worker's
# largest import (bench/README.md, worker peak).
enable_features("contrib")

# Each query's share of the day's budget (basic composition: the four add up to the day's
# epsilon). Most goes to the per-article counts: one article's daily count is a handful of
# reads, and its noise decides which stories rank as popular (measured in bench/README.md,
# "The site's day"). Topic counts are sums over many articles and list-type counts two
# sums over the whole site: large enough to stay useful at a far larger noise scale.
ARTICLE_SHARE = 0.9
TOPIC_SHARE = 0.05
# Readers per personalization level: one count per level of the whole readership, each moved by
# one reader's change of level by 1 (so 2 in all), against list-type sums moved by up to
# 20: a fiftieth of the budget gives them a tenth of the list types' noise scale. Taken from
# the list types' share, so the popularity counts, and the offline evaluation that releases
# exactly as they do (ARTICLE_SHARE, TOPIC_SHARE), are unchanged.
LEVEL_SHARE = 0.02
# The opt-in rate: readers with each optional purpose on at the day's end, and readers who
# turned each on or off that day. Also taken from the list types: whole-readership counts
# like the levels', the day's changes only a guide (a few a day is far under their noise).
# List types get the rest: 0.01 of the budget on a day that releases the levels, 0.03 on
# one that does not (DESIGN.md, "Measuring opt-in and personalization").
PURPOSE_SHARE = 0.01
CONSENT_CHANGE_SHARE = 0.005
# Reads in a topic their reader follows, and reads elsewhere: two counts of the same reads as
# the popularity counts, under the same bound L (each kept read is in exactly one of them,
# so one reader moves the pair by at most L). Training sums a month of them, so a small share
# does: at 0.005, L = 1 and epsilon 1 the month's ratio has a standard deviation of about 0.05
# with 700 such reads a day, and training shrinks it toward 1/2 as far as it is noisier
# (`recommendations.training.reader_loyalty`). Also taken from the list types (a third of
# their share), so the popularity counts, and the offline evaluations of them, are unchanged.
FOLLOWED_TOPIC_SHARE = 0.005
# One reader has each purpose on or off: adding, removing or changing them moves each
# purpose's count by at most 1, so the vector by the number of purposes.
PURPOSE_SENSITIVITY = len(OPTIONAL_PURPOSES)
# In a day's changes a reader is counted once per purpose and direction however often they
# switch (distinct readers): at most 1 in each of the 2 x purposes counts.
CONSENT_CHANGE_SENSITIVITY = 2 * len(OPTIONAL_PURPOSES)
PURPOSE_KINDS = (PurposeCountRelease.Kind.ON,)
CHANGE_KINDS = (PurposeCountRelease.Kind.GRANTED, PurposeCountRelease.Kind.WITHDRAWN)
# One reader is counted at exactly one level: adding or removing them moves one count by 1,
# changing their level moves two. The sensitivity covers the change, the case an editor
# watching the chart day by day would otherwise see as a ±1.
LEVEL_SENSITIVITY = 2
LEVEL_CONTRIBUTION_BOUND = 1
# Only reads that came from a feed card are released per list type, in this fixed order.
LIST_TYPES = (
    SignalEvent.ListType.PERSONAL,
    SignalEvent.ListType.EDITORIAL,
    SignalEvent.ListType.HOLDOUT,
)


@dataclass(frozen=True)
class Release:
    noisy_counts: list[int]
    epsilon: float
    scale: float
    mechanism: str
    delta: float = 0.0


@dataclass(frozen=True)
class AggregationResult:
    day: date
    already_done: bool
    articles_released: int = 0
    topics_released: int = 0
    list_types_released: int = 0
    levels_released: int = 0
    purposes_released: int = 0
    epsilon_spent: float = 0.0


# `{level: readers}` for every level, zeros included, in a fixed order: registered by the app
# that holds the preferences (accounts), which privacy may not import.
LevelCounts = Callable[[], dict[str, int]]
_level_counts_source: list[LevelCounts] = []


def level_counts_source_register(counts: LevelCounts) -> None:
    """Declare how readers per personalization level are counted; called once, from the
    accounts app's `ready()`. Each reader must be counted at exactly one level (the release's
    sensitivity, LEVEL_SENSITIVITY, assumes it), and every level must be present, so the
    shape of the release says nothing."""
    if _level_counts_source and _level_counts_source[0] is not counts:
        raise ValueError("A source of level counts is registered already.")
    _level_counts_source[:] = [counts]


def _level_counts() -> dict[str, int]:
    if not _level_counts_source:
        raise ImproperlyConfigured(
            "No source of readers per personalization level is registered "
            "(accounts registers one in AccountsConfig.ready)."
        )
    return _level_counts_source[0]()


def levels_released_with(*, day: date, today: date | None = None) -> bool:
    """Whether releasing `day` also releases the readers per level. They are a snapshot of
    now, so only the day that has just closed carries them: a night that catches up several
    days, or a day released again by hand, does not spend budget on the same snapshot twice
    nor date it to a day it does not describe."""
    return day == (today or timezone.localdate()) - timedelta(days=1)


def _laplace(sensitivity: int, epsilon: float) -> tuple[Measurement, float]:
    space = vector_domain(atom_domain(T=int)), l1_distance(T=int)
    scale = sensitivity / epsilon
    measurement = make_laplace(*space, scale=scale)
    # OpenDP rounds its privacy accounting up, so sensitivity/epsilon may cost one ulp more than
    # the budget; widen the scale by a hair until the promise fits.
    for _ in range(16):
        if measurement.map(sensitivity) <= epsilon:
            break
        scale = math.nextafter(scale, math.inf)
        measurement = make_laplace(*space, scale=scale)
    return measurement, scale


def _gaussian_chain(scale: float, delta: float) -> Measurement:
    """Discrete Gaussian on integer counts (a zCDP guarantee), read as (epsilon, delta)-DP."""
    space = vector_domain(atom_domain(T=int)), l2_distance(T=float)
    zcdp = make_gaussian(*space, scale=scale)
    return make_fix_delta(make_zCDP_to_approxDP(zcdp), delta)


def l2_sensitivity(*, sensitivity: int, max_change: int) -> float:
    """The L2 norm bound of a change with L1 norm `sensitivity` and no entry moving by more than
    `max_change` (sum of squares <= max entry x sum), rounded up to a float, never down."""
    squared = sensitivity * max_change
    bound = math.sqrt(squared)
    while Fraction(bound) ** 2 < squared:
        bound = math.nextafter(bound, math.inf)
    return bound


@lru_cache(maxsize=256)
def _gaussian(l2: float, epsilon: float, delta: float) -> tuple[Measurement, float]:
    # OpenDP searches the smallest scale whose own privacy map fits (epsilon, delta); the
    # evaluation releases the same shape every day, hence the cache.
    scale = binary_search_param(
        lambda s: _gaussian_chain(s, delta), d_in=l2, d_out=(epsilon, delta), T=float
    )
    return _gaussian_chain(scale, delta), scale


def release_counts(
    *,
    counts: list[int],
    sensitivity: int,
    epsilon: float,
    mechanism: str = "laplace",
    delta: float = 0.0,
    max_change: int | None = None,
) -> Release:
    """Noise on a vector of counts, spending at most (`epsilon`, `delta`) as OpenDP itself
    accounts it. One reader moves the vector by at most `sensitivity` in L1 norm and no single
    count by more than `max_change` (default: all of it on one count).

    "laplace" (pure epsilon-DP, delta must be 0) costs the L1 sensitivity; "gaussian" (discrete
    Gaussian, needs delta > 0) costs the L2 sensitivity, sqrt(sensitivity x max_change): with
    each reader bounded to L distinct articles that is sqrt(L) rather than L.
    """
    if sensitivity < 1:
        raise ValueError("The sensitivity of a count query is at least 1.")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"Epsilon must be a positive number, not {epsilon}.")
    if mechanism not in MECHANISMS:
        raise ValueError(
            f"The mechanism must be one of {', '.join(MECHANISMS)}, not {mechanism!r}."
        )
    max_change = sensitivity if max_change is None else max_change
    if not 1 <= max_change <= sensitivity:
        raise ValueError(
            f"The largest change of one count must be between 1 and the sensitivity "
            f"{sensitivity}, not {max_change}."
        )
    if mechanism == "laplace":
        if delta != 0:
            raise ValueError(f"Laplace noise is pure epsilon-DP: delta must be 0, not {delta}.")
        (measurement, scale), d_in = _laplace(sensitivity, epsilon), sensitivity
    else:
        if not (0 < delta < 1):
            raise ValueError(
                f"Gaussian noise needs a delta between 0 and 1 (exclusive), not {delta}: "
                "with delta 0 no finite noise scale satisfies the budget."
            )
        d_in = l2_sensitivity(sensitivity=sensitivity, max_change=max_change)
        measurement, scale = _gaussian(d_in, epsilon, delta)
    spent = measurement.map(d_in)
    spent_epsilon, spent_delta = spent if isinstance(spent, tuple) else (spent, 0.0)
    if spent_epsilon > epsilon or spent_delta > delta:
        raise RuntimeError(f"Could not fit the release into epsilon {epsilon} (needs {spent}).")
    return Release(
        noisy_counts=[int(c) for c in measurement(counts)],
        epsilon=spent_epsilon,
        scale=scale,
        mechanism=MECHANISMS[mechanism],
        delta=spent_delta,
    )


def _catalogue(*, day: date) -> QuerySet[Article]:
    """Articles published by the end of the day: public, so releasing a count for each of them
    (zeros included) says nothing about who read what."""
    return Article.objects.filter(
        status=Article.Status.PUBLISHED, published_at__lt=_day_end(day)
    ).order_by("pk")


def _day_end(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _bounded_counts_sql() -> str:
    event, article = SignalEvent._meta.db_table, Article._meta.db_table
    article_topics = Article.topics.through._meta.db_table
    # Each pseudonym's reads in an order drawn from the pseudonym and the article alone (an
    # MD5 of both; Django gives SQLite the function too): the ones kept under a bound are not
    # the day's first, which would count the morning's stories for everyone, and one
    # reader's draw depends on nothing of anyone else's. The unique (day, pseudonym, article)
    # constraint makes the kept articles distinct. Referenced three times, computed once.
    return f"""
        WITH drawn AS (
            SELECT article_id, list_type, in_followed_topic, draw FROM (
                SELECT e.article_id, e.list_type, e.in_followed_topic,
                       ROW_NUMBER() OVER (
                           PARTITION BY e.pseudonym
                           ORDER BY MD5(e.pseudonym || ':' || CAST(e.article_id AS TEXT)), e.id
                       ) AS draw
                FROM {event} e JOIN {article} a ON a.id = e.article_id
                WHERE e.day = %(day)s AND a.status = %(published)s
                  AND a.published_at < %(day_end)s
            ) ranked
            WHERE draw <= %(widest)s
        )
        SELECT 'article', article_id, COUNT(*), '' FROM drawn
        WHERE draw <= %(bound)s GROUP BY article_id
        UNION ALL
        SELECT 'topic', t.topic_id, COUNT(*), ''
        FROM drawn b JOIN {article_topics} t ON t.article_id = b.article_id
        WHERE b.draw <= %(bound)s
        GROUP BY t.topic_id
        UNION ALL
        SELECT 'list_type', NULL, COUNT(*), list_type FROM drawn
        WHERE draw <= %(click_through_bound)s GROUP BY list_type
        UNION ALL
        SELECT 'followed', NULL, COUNT(*),
               CASE WHEN in_followed_topic THEN 'in' ELSE 'elsewhere' END
        FROM drawn
        WHERE draw <= %(bound)s AND in_followed_topic IS NOT NULL
        GROUP BY in_followed_topic
    """


def _bounded_counts(
    *, day: date, bound: int, click_through_bound: int
) -> tuple[dict[int, int], dict[int, int], dict[str, int], dict[str, int]]:
    """Per-article and per-topic counts of the day's events after bounding each pseudonym to
    `bound` articles, the same kept reads of readers who follow a topic split by whether the
    story was in one ({"in": n, "elsewhere": m}), and per-list-type counts after bounding it
    to `click_through_bound`, computed by the database in one statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Fresh statistics: a day of inserts since the last autovacuum otherwise makes the
            # planner expect a handful of events and pick a plan that takes minutes, not seconds.
            cursor.execute(f"ANALYZE {SignalEvent._meta.db_table}")
            # Room to sort a day's events in memory (this transaction only).
            cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(
            _bounded_counts_sql(),
            {
                "day": day,
                "published": Article.Status.PUBLISHED,
                "day_end": _day_end(day),
                "bound": bound,
                "click_through_bound": click_through_bound,
                "widest": max(bound, click_through_bound),
            },
        )
        rows = cursor.fetchall()
    per_article = {pk: n for kind, pk, n, _ in rows if kind == "article"}
    per_topic = {pk: n for kind, pk, n, _ in rows if kind == "topic"}
    per_list_type = {list_type: n for kind, _, n, list_type in rows if kind == "list_type"}
    followed = {where: n for kind, _, n, where in rows if kind == "followed"}
    return per_article, per_topic, per_list_type, followed


def _purposes_on(*, day: date) -> dict[str, int]:
    """Readers (not staff) with each optional purpose on at the end of `day`, every purpose
    present: those whose latest receipt then is a grant that still counted then (a policy
    version in effect by then that changed the purpose lapses earlier grants). Read from the
    receipts, so a missed night is released as it was; an account erased since is gone."""
    end = _day_end(day)
    timeline = consent_timeline(now=end)
    latest = (
        ConsentRecord.objects.filter(
            user=OuterRef("user"), purpose=OuterRef("purpose"), created_at__lt=end
        )
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    rows = (
        ConsentRecord.objects.filter(
            created_at__lt=end, granted=True, user__is_staff=False, pk=Subquery(latest)
        )
        .values("purpose", "policy_id")
        .annotate(readers=Count("pk"))
        .order_by()
    )
    counts = {purpose.key: 0 for purpose in OPTIONAL_PURPOSES}
    for row in rows:
        if row["purpose"] in counts and timeline.version_counts(
            purpose=row["purpose"], policy_id=row["policy_id"]
        ):
            counts[row["purpose"]] += row["readers"]
    return counts


def _consent_changes(*, day: date) -> dict[tuple[str, str], int]:
    """Readers (not staff) who turned each optional purpose on, and off, during `day`: each
    reader once per purpose and direction (the sensitivity assumes it), every pair present."""
    start = _day_end(day - timedelta(days=1))
    rows = (
        ConsentRecord.objects.filter(
            created_at__gte=start, created_at__lt=_day_end(day), user__is_staff=False
        )
        .values("purpose", "granted")
        .annotate(readers=Count("user", distinct=True))
        .order_by()
    )
    counts = {(purpose.key, kind): 0 for purpose in OPTIONAL_PURPOSES for kind in CHANGE_KINDS}
    for row in rows:
        kind = CHANGE_KINDS[0] if row["granted"] else CHANGE_KINDS[1]
        if (row["purpose"], kind) in counts:
            counts[row["purpose"], kind] = row["readers"]
    return counts


def _check_day(day: date) -> None:
    today = timezone.localdate()
    if day >= today:
        raise ValueError(
            f"{day.isoformat()} is not over yet (today is {today.isoformat()}); "
            "only a closed day can be aggregated."
        )


def aggregate_day(
    *,
    day: date,
    epsilon: float | None = None,
    contribution_bound: int | None = None,
    click_through_bound: int | None = None,
) -> AggregationResult:
    """Release one closed day's per-article, per-topic and per-list-type counts with
    differential privacy; the readers with each optional purpose on at its end (sensitivity
    PURPOSE_SENSITIVITY) and those who turned each on or off during it (sensitivity
    CONSENT_CHANGE_SENSITIVITY); and, when it is the day just closed, the readers at each
    personalization level (each reader at one level: sensitivity LEVEL_SENSITIVITY).

    A reader is one pseudonym. In the popularity counts they count for at most
    `contribution_bound` (L) distinct articles, so per-article counts have L1 sensitivity L
    and per-topic counts L * (most topics on one catalogue article); the same kept reads split
    into those in a topic their reader follows and the others (readers who follow none left
    out) have sensitivity L, each read in one of the two; in the editors'
    click-through counts for at most `click_through_bound` (C), sensitivity C (each read has
    exactly one list type). Each query's ledger line records its own bound.
    Everything happens in one transaction: a failure writes nothing and keeps the raw events
    for the next run.
    """
    _check_day(day)
    epsilon = settings.DP_EPSILON_PER_DAY if epsilon is None else epsilon
    bound = settings.DP_CONTRIBUTION_BOUND if contribution_bound is None else contribution_bound
    click_bound = (
        settings.DP_CLICK_THROUGH_CONTRIBUTION_BOUND
        if click_through_bound is None
        else click_through_bound
    )
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"Epsilon must be a positive number, not {epsilon}.")
    if bound < 1 or click_bound < 1:
        raise ValueError(
            f"The contribution bounds must be at least 1, not {bound} and {click_bound}."
        )

    with transaction.atomic():
        if PrivacyBudgetLedger.objects.filter(day=day).exists():
            return AggregationResult(day=day, already_done=True)

        catalogue = _catalogue(day=day)
        article_ids = list(catalogue.values_list("pk", flat=True))
        topic_ids = list(Topic.objects.order_by("pk").values_list("pk", flat=True))
        max_topics = catalogue.annotate(n=Count("topics")).aggregate(m=Max("n"))["m"] or 0

        per_article, per_topic, per_list_type, followed = _bounded_counts(
            day=day, bound=bound, click_through_bound=click_bound
        )

        article_epsilon = epsilon * ARTICLE_SHARE
        article_release = release_counts(
            counts=[per_article.get(pk, 0) for pk in article_ids],
            sensitivity=bound,
            epsilon=article_epsilon,
        )
        # With no topic on any article every topic count is exactly 0; a sensitivity of one
        # article keeps the mechanism well defined and the budget accounting uniform.
        topic_release = release_counts(
            counts=[per_topic.get(pk, 0) for pk in topic_ids],
            sensitivity=bound * max(max_topics, 1),
            epsilon=epsilon * TOPIC_SHARE,
        )
        followed_release = release_counts(
            counts=[followed.get("in", 0), followed.get("elsewhere", 0)],
            sensitivity=bound,
            epsilon=epsilon * FOLLOWED_TOPIC_SHARE,
        )
        in_followed, elsewhere = followed_release.noisy_counts
        FollowedTopicRelease.objects.create(day=day, in_followed=in_followed, elsewhere=elsewhere)
        releases = [
            (ARTICLE_QUERY, article_release, bound),
            (TOPIC_QUERY, topic_release, bound),
            (FOLLOWED_TOPIC_QUERY, followed_release, bound),
        ]
        levels: dict[str, int] = {}
        level_epsilon = 0.0
        if levels_released_with(day=day):
            levels = _level_counts()
            level_epsilon = epsilon * LEVEL_SHARE
            level_release = release_counts(
                counts=list(levels.values()), sensitivity=LEVEL_SENSITIVITY, epsilon=level_epsilon
            )
            LevelCountRelease.objects.bulk_create(
                LevelCountRelease(day=day, level=level, noisy_count=noisy)
                for level, noisy in zip(levels, level_release.noisy_counts, strict=True)
            )
            releases.append((LEVEL_QUERY, level_release, LEVEL_CONTRIBUTION_BOUND))
        purposes_on = _purposes_on(day=day)
        purpose_release = release_counts(
            counts=list(purposes_on.values()),
            sensitivity=PURPOSE_SENSITIVITY,
            epsilon=epsilon * PURPOSE_SHARE,
        )
        changes = _consent_changes(day=day)
        change_release = release_counts(
            counts=list(changes.values()),
            sensitivity=CONSENT_CHANGE_SENSITIVITY,
            epsilon=epsilon * CONSENT_CHANGE_SHARE,
        )
        PurposeCountRelease.objects.bulk_create(
            [
                PurposeCountRelease(
                    day=day, purpose=purpose, kind=PurposeCountRelease.Kind.ON, noisy_count=noisy
                )
                for purpose, noisy in zip(purposes_on, purpose_release.noisy_counts, strict=True)
            ]
            + [
                PurposeCountRelease(day=day, purpose=purpose, kind=kind, noisy_count=noisy)
                for (purpose, kind), noisy in zip(changes, change_release.noisy_counts, strict=True)
            ]
        )
        # Each reader counts once in each of these counts: the ledger's bound is 1.
        releases += [
            (PURPOSE_QUERY, purpose_release, 1),
            (CONSENT_CHANGE_QUERY, change_release, 1),
        ]
        # The rest of the day's budget, so the day's queries add up to it exactly (a day
        # released without the levels gives their share to the list types).
        list_type_release = release_counts(
            counts=[per_list_type.get(list_type, 0) for list_type in LIST_TYPES],
            sensitivity=click_bound,
            epsilon=epsilon
            - article_epsilon
            - epsilon * TOPIC_SHARE
            - epsilon * FOLLOWED_TOPIC_SHARE
            - level_epsilon
            - epsilon * PURPOSE_SHARE
            - epsilon * CONSENT_CHANGE_SHARE,
        )
        releases.insert(2, (LIST_TYPE_QUERY, list_type_release, click_bound))

        AggregateSignal.objects.bulk_create(
            [
                AggregateSignal(
                    day=day, kind=AggregateSignal.Kind.ARTICLE, article_id=pk, noisy_count=noisy
                )
                for pk, noisy in zip(article_ids, article_release.noisy_counts, strict=True)
            ]
            + [
                AggregateSignal(
                    day=day, kind=AggregateSignal.Kind.TOPIC, topic_id=pk, noisy_count=noisy
                )
                for pk, noisy in zip(topic_ids, topic_release.noisy_counts, strict=True)
            ]
            + [
                AggregateSignal(
                    day=day,
                    kind=AggregateSignal.Kind.LIST_TYPE,
                    list_type=list_type,
                    noisy_count=noisy,
                )
                for list_type, noisy in zip(LIST_TYPES, list_type_release.noisy_counts, strict=True)
            ],
            batch_size=1000,
        )
        PrivacyBudgetLedger.objects.bulk_create(
            PrivacyBudgetLedger(
                day=day,
                query=query,
                epsilon=release.epsilon,
                delta=release.delta,
                mechanism=release.mechanism,
                contribution_bound=query_bound,
                noise_scale=release.scale,
            )
            for query, release, query_bound in releases
        )
        # The point of the exercise: after this, nothing links any read to anyone.
        SignalEvent.objects.filter(day=day).delete()
        DailySalt.objects.filter(day=day).delete()

    return AggregationResult(
        day=day,
        already_done=False,
        articles_released=len(article_ids),
        topics_released=len(topic_ids),
        list_types_released=len(LIST_TYPES),
        levels_released=len(levels),
        purposes_released=len(purposes_on),
        epsilon_spent=sum(release.epsilon for _, release, _ in releases),
    )


def day_awaits_release(*, day: date) -> bool:
    """Whether a day still holds what a release is made from (raw events or its salt): what
    the nightly run picks up. A day without them would be released as noise alone, and then
    counted as released for good."""
    return (
        SignalEvent.objects.filter(day=day).exists() or DailySalt.objects.filter(day=day).exists()
    )


def day_released(*, day: date) -> bool:
    return PrivacyBudgetLedger.objects.filter(day=day).exists()


def aggregate_pending(*, today: date | None = None) -> list[AggregationResult]:
    """Aggregate every closed day still holding raw events or a salt, oldest first, so a missed
    night is caught up. A failing day stops the run; the days before it stay released."""
    today = today or timezone.localdate()
    days = set(
        SignalEvent.objects.filter(day__lt=today).values_list("day", flat=True).distinct()
    ) | set(DailySalt.objects.filter(day__lt=today).values_list("day", flat=True))
    return [aggregate_day(day=day) for day in sorted(days)]
