"""Reads behind the editors' dashboard: differentially private counts (reads, and readers at
each personalization level), the privacy budget and the recommender's record, shaped into
charts.

Everything here is an aggregate. Counts under the suppression threshold k are shown as "<k"
and drawn as empty bars, so neither the number nor the bar length reveals a handful of
readers. No query here returns or names a single reader.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import Preferences
from news.models import Article, EditorAction, Topic
from privacy.models import AggregateSignal, LevelCountRelease, PrivacyBudgetLedger
from privacy.releases import (
    ARTICLE_QUERY,
    LEVEL_QUERY,
    LIST_TYPE_QUERY,
    TOPIC_QUERY,
    Estimate,
    Relative,
    difference_estimate,
    noise_margin,
    noise_variance,
    rate_estimate,
    relative_estimate,
)
from privacy.selectors import OPTIN_MAX_SHOWN_MARGIN, OptInRates, display_count, optin_rates
from recommendations.models import FeedImpressionCount, ModelVersion
from recommendations.selectors import (
    model_held_back,
    model_rollback_target,
    model_versions_recent,
    retrain_last_failure,
)
from recommendations.services import model_active_version
from trust.selectors import TrustReport, trust_report

from . import charts

TOPIC_DAYS = 14
DAILY_DAYS = 14
TOP_ARTICLE_DAYS = 7
TOP_ARTICLES = 10
CTR_DAYS = 14
EFFECT_DAYS = 30
BUDGET_DAYS = 14
MODEL_VERSIONS = 8
EDITOR_ACTIONS = 10


def _k() -> int:
    return settings.DP_SUPPRESSION_THRESHOLD


def _bounded() -> str:
    # What a count is: since each reader counts for a few drawn reads a day, not every read.
    bound = settings.DP_CONTRIBUTION_BOUND
    return f"each counting reader adds at most {bound} read{'s' if bound != 1 else ''} a day"


def _noise_variances(query: str, *, days: int, today: date | None) -> dict[date, float]:
    """The variance of the noise on one released count of `query`, per released day in the
    window, from the ledger's public noise scale (days released before it was kept: none)."""
    lines = PrivacyBudgetLedger.objects.filter(
        query=query, day__gte=_since(days, today), noise_scale__isnull=False
    ).values_list("day", "mechanism", "noise_scale")
    return {
        day: noise_variance(mechanism=mechanism, scale=scale) for day, mechanism, scale in lines
    }


def _margin(variance: float, *, of: str) -> str:
    if not variance:
        return ""
    return f" Noise moves {of} by less than about ±{noise_margin(variance)}, 19 times in 20."


def _point(label: str, value: int) -> charts.Point:
    shown = value >= _k()
    return charts.Point(label=label, drawn=value if shown else 0, text=display_count(value))


def _since(days: int, today: date | None) -> date:
    # The window ends with yesterday: today is never released before it is over.
    return (today or timezone.localdate()) - timedelta(days=days)


def _released(kind: str, *, days: int, today: date | None):
    return AggregateSignal.objects.filter(kind=kind, day__gte=_since(days, today))


def topic_reads_chart(*, today: date | None = None) -> charts.Chart:
    rows = (
        _released(AggregateSignal.Kind.TOPIC, days=TOPIC_DAYS, today=today)
        .values("topic_id")
        .annotate(total=Sum("noisy_count"))
    )
    totals = {row["topic_id"]: row["total"] for row in rows}
    names = dict(Topic.objects.filter(pk__in=totals).values_list("pk", "name"))
    ordered = sorted(totals.items(), key=lambda item: (-item[1], names.get(item[0], "")))
    # Each topic's total adds one released count a day.
    noise = sum(_noise_variances(TOPIC_QUERY, days=TOPIC_DAYS, today=today).values())
    return charts.horizontal_bars(
        slug="topic-reads",
        title=f"Reads per topic, last {TOPIC_DAYS} days",
        description=(
            "Differentially private read counts per topic, summed over the released days "
            f"({_bounded()}); counts under {_k()} are shown as <{_k()}."
            + _margin(noise, of="each total")
        ),
        label_header="Topic",
        value_header="Reads (DP)",
        points=[_point(names.get(pk, "Deleted topic"), total) for pk, total in ordered],
    )


def daily_reads_chart(*, today: date | None = None) -> charts.Chart:
    rows = (
        _released(AggregateSignal.Kind.ARTICLE, days=DAILY_DAYS, today=today)
        .values("day")
        .annotate(total=Sum("noisy_count"), released=Count("id"))
        .order_by("day")
    )
    # A day's total adds one released count per article in the catalogue that day.
    variances = _noise_variances(ARTICLE_QUERY, days=DAILY_DAYS, today=today)
    noise = max((variances.get(r["day"], 0.0) * r["released"] for r in rows), default=0.0)
    return charts.columns(
        slug="daily-reads",
        title=f"Reads per day, last {DAILY_DAYS} days",
        description=(
            "The sum of each day's differentially private per-article counts, oldest day "
            f"first ({_bounded()}); days under {_k()} are shown as <{_k()}."
            + _margin(noise, of="a day's total")
        ),
        label_header="Day",
        value_header="Reads (DP)",
        points=[_point(row["day"].strftime("%d %b"), row["total"]) for row in rows],
    )


def top_articles_chart(*, today: date | None = None) -> charts.Chart:
    rows = (
        _released(AggregateSignal.Kind.ARTICLE, days=TOP_ARTICLE_DAYS, today=today)
        .values("article_id")
        .annotate(total=Sum("noisy_count"))
        .order_by("-total", "article_id")[:TOP_ARTICLES]
    )
    rows = list(rows)
    titles = dict(
        Article.objects.filter(pk__in=[r["article_id"] for r in rows]).values_list("pk", "title")
    )
    noise = sum(_noise_variances(ARTICLE_QUERY, days=TOP_ARTICLE_DAYS, today=today).values())
    return charts.horizontal_bars(
        slug="top-articles",
        title=f"Most read articles, last {TOP_ARTICLE_DAYS} days",
        description=(
            f"The {TOP_ARTICLES} articles with the highest differentially private read counts "
            f"({_bounded()}); counts under {_k()} are shown as <{_k()}."
            + _margin(noise, of="each total")
        ),
        label_header="Article",
        value_header="Reads (DP)",
        points=[
            _point(titles.get(row["article_id"], "Deleted article"), row["total"]) for row in rows
        ],
    )


@dataclass(frozen=True)
class LevelShare:
    label: str
    count_text: str
    share_text: str


def _levels_released() -> tuple[date | None, dict[str, int]]:
    """The latest released readers per level (day, {level: noisy count}), in the levels'
    order; (None, {}) before any release. Never the live counts: one reader changing level
    would show as a ±1 between two page loads."""
    latest = LevelCountRelease.objects.order_by("-day").values_list("day", flat=True).first()
    if latest is None:
        return None, {}
    released = dict(
        LevelCountRelease.objects.filter(day=latest).values_list("level", "noisy_count")
    )
    order = {level: position for position, level in enumerate(Preferences.Level.values)}
    return latest, dict(sorted(released.items(), key=lambda item: order.get(item[0], len(order))))


def personalization_levels() -> tuple[charts.Chart, list[LevelShare]]:
    day, counts = _levels_released()
    labels = dict(Preferences.Level.choices)
    scale = (
        PrivacyBudgetLedger.objects.filter(day=day, query=LEVEL_QUERY)
        .values_list("mechanism", "noise_scale")
        .first()
    )
    noise = noise_variance(mechanism=scale[0], scale=scale[1]) if scale and scale[1] else 0.0
    # Noise can push a small count below zero: it is shown as "<k" like any small one.
    total = sum(max(n, 0) for n in counts.values())
    # A share next to suppressed counts would let anyone work the hidden count back out.
    any_suppressed = any(n < _k() for n in counts.values())
    shares = [
        LevelShare(
            label=labels.get(level, level),
            count_text=display_count(n),
            share_text="-" if any_suppressed or not total else f"{100 * n / total:.0f}%",
        )
        for level, n in counts.items()
    ]
    chart = charts.horizontal_bars(
        slug="levels",
        title="Readers at each personalization level",
        description=(
            "How many readers chose each level, counted together (never listed) and released "
            f"with differential privacy{day.strftime(' for %d %b') if day else ''}; counts "
            f"under {_k()} are shown as <{_k()}." + _margin(noise, of="each count")
        ),
        label_header="Level",
        value_header="Readers (DP)",
        points=[_point(labels.get(level, level), n) for level, n in counts.items()],
    )
    return chart, shares


@dataclass(frozen=True)
class ClickThrough:
    label: str
    clicks_text: str
    impressions_text: str
    rate_text: str
    rate: float | None


def _clicks_and_cards_shown(
    *, days: int, today: date | None
) -> tuple[set[date], dict[str, int], dict[str, int]]:
    """The released days of the window, and per list type the sum of their DP reads from feed
    cards and of the cards shown those days."""
    released = _released(AggregateSignal.Kind.LIST_TYPE, days=days, today=today)
    released_days = set(released.values_list("day", flat=True))
    clicks = dict(
        released.values("list_type").annotate(t=Sum("noisy_count")).values_list("list_type", "t")
    )
    shown = dict(
        FeedImpressionCount.objects.filter(day__in=released_days)
        .values("list_type")
        .annotate(t=Sum("count"))
        .values_list("list_type", "t")
    )
    return released_days, clicks, shown


def click_through(*, today: date | None = None) -> list[ClickThrough]:
    """DP reads from feed cards over cards shown, per list type, over the released days only
    (today's cards have no released reads yet). A rate needs both numbers at k or more."""
    _, clicks, shown = _clicks_and_cards_shown(days=CTR_DAYS, today=today)
    lines = []
    for list_type, label in FeedImpressionCount.ListType.choices:
        n_clicks, n_shown = clicks.get(list_type, 0), shown.get(list_type, 0)
        rate = n_clicks / n_shown if n_clicks >= _k() and n_shown >= _k() else None
        lines.append(
            ClickThrough(
                label=label,
                clicks_text=display_count(n_clicks),
                impressions_text=display_count(n_shown),
                rate_text=f"{100 * rate:.1f}%" if rate is not None else "not enough data",
                rate=rate,
            )
        )
    return lines


def click_through_chart(lines: list[ClickThrough], *, today: date | None = None) -> charts.Chart:
    noise = sum(_noise_variances(LIST_TYPE_QUERY, days=CTR_DAYS, today=today).values())
    return charts.horizontal_bars(
        slug="click-through",
        title=f"Click-through of feed cards, last {CTR_DAYS} days",
        description=(
            "Differentially private reads that came from a feed card, divided by the cards "
            f"shown, for personalised and non-personal feeds; shown only when both are at least "
            f"{_k()}." + _margin(noise, of="each feed's reads")
        ),
        label_header="Feed",
        value_header="Click-through",
        points=[
            charts.Point(label=line.label, drawn=line.rate or 0, text=line.rate_text)
            for line in lines
        ],
    )


def optin_chart(rates: OptInRates) -> charts.ShareLine:
    k = _k()
    # Every day from the first released one, so a day without a release is a gap in the line.
    estimates = {day.day: day.estimate for day in rates.daily}
    days = []
    if estimates:
        first, last = min(estimates), max(estimates)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return charts.share_line(
        slug="optin",
        title=f"Readers personalized by the site, per day, last {max(rates.windows)} days",
        description=(
            "The share of readers at Topics only or Topics + reading history, from each day's "
            "differentially private counts of readers per level, with its 95% band for the "
            "noise (delta method on the ratio of two noisy counts). Days with fewer than "
            f"{k} readers in either count, or whose margin is wider than "
            f"±{100 * OPTIN_MAX_SHOWN_MARGIN:.0f} points, are left out."
        ),
        label_header="Day",
        value_header="Share (95% interval)",
        points=[
            charts.SharePoint(
                label=day.strftime("%d %b"),
                text=_share_text(estimates.get(day), released=day in estimates),
                share=estimates[day].value if estimates.get(day) else None,
                margin=estimates[day].margin if estimates.get(day) else 0.0,
            )
            for day in days
        ],
    )


def _share_text(estimate: Estimate | None, *, released: bool) -> str:
    if not released:
        return "not released"
    if estimate is None:
        return "not enough data"
    return f"{100 * estimate.value:.1f}% ± {100 * estimate.margin:.1f}"


@dataclass(frozen=True)
class FeedRate:
    label: str
    estimate: Estimate | None

    @property
    def text(self) -> str:
        if self.estimate is None:
            return "not enough data"
        return f"{100 * self.estimate.value:.2f}% ± {100 * self.estimate.margin:.2f}"


@dataclass(frozen=True)
class Uplift:
    """Click-through of the personalized feed against another, with 95% intervals that count
    both the binomial spread of clicks and the DP noise in them."""

    label: str
    short_label: str  # under the chart's label width
    against: str
    causal: bool
    personal: FeedRate
    other: FeedRate
    difference: Estimate | None
    relative: Relative | None

    @property
    def includes_zero(self) -> bool:
        return self.difference is not None and self.difference.includes(0.0)

    @property
    def difference_text(self) -> str:
        d = self.difference
        if d is None:
            return "not enough data"
        return (
            f"{100 * d.value:+.2f} points (95% interval {100 * d.low:+.2f} to {100 * d.high:+.2f})"
        )

    @property
    def relative_text(self) -> str:
        r = self.relative
        if r is None:
            return "-"
        if r.low is None:
            return f"×{r.value:.2f} (95% interval unbounded: too few clicks to say)"
        return f"×{r.value:.2f} (95% interval ×{r.low:.2f} to ×{r.high:.2f})"


@dataclass(frozen=True)
class Effectiveness:
    days: int
    observational: Uplift
    causal: Uplift | None  # None while no holdout is or was drawn
    holdout_share: float

    @property
    def holdout_percent(self) -> str:
        return f"{100 * self.holdout_share:g} %"

    @property
    def uplifts(self) -> list[Uplift]:
        return [u for u in (self.causal, self.observational) if u is not None]


def _feed_rates(*, today: date | None) -> dict[str, Estimate | None]:
    """Each list type's click-through over the released days of the window: the sum of its
    daily DP counts (noise variance: the sum of the days') over the cards shown those days.
    None under k in either."""
    days, clicks, shown = _clicks_and_cards_shown(days=EFFECT_DAYS, today=today)
    variances = _noise_variances(LIST_TYPE_QUERY, days=EFFECT_DAYS, today=today)
    noise = sum(variances.get(day, 0.0) for day in days)
    rates: dict[str, Estimate | None] = {}
    for list_type in FeedImpressionCount.ListType.values:
        n_clicks, n_shown = clicks.get(list_type, 0), shown.get(list_type, 0)
        enough = n_clicks >= _k() and n_shown >= _k()
        rates[list_type] = (
            rate_estimate(clicks=n_clicks, clicks_variance=noise, shown=n_shown) if enough else None
        )
    return rates


def _uplift(
    *, label: str, short_label: str, against: str, causal: bool, rates, other: str
) -> Uplift:
    types = FeedImpressionCount.ListType
    personal, versus = rates[types.PERSONAL], rates[other]
    both = personal is not None and versus is not None
    return Uplift(
        label=label,
        short_label=short_label,
        against=against,
        causal=causal,
        personal=FeedRate(label=types.PERSONAL.label, estimate=personal),
        other=FeedRate(label=types(other).label, estimate=versus),
        difference=difference_estimate(personal, versus) if both else None,
        relative=relative_estimate(personal, versus) if both else None,
    )


def effectiveness(*, today: date | None = None) -> Effectiveness:
    """Whether personalization changes clicks: personalized against holdout readers (the same
    population, split at random per reader and day: causal) and against the non-personal feed
    (anonymous visitors and level Off: different people, so only observational)."""
    rates = _feed_rates(today=today)
    types = FeedImpressionCount.ListType
    share = settings.PERSONALIZATION_HOLDOUT_SHARE
    holdout_seen = (
        share > 0
        or FeedImpressionCount.objects.filter(
            list_type=types.HOLDOUT, day__gte=_since(EFFECT_DAYS, today)
        ).exists()
    )
    return Effectiveness(
        days=EFFECT_DAYS,
        observational=_uplift(
            label="Personalized against the non-personal feed (observational)",
            short_label="vs non-personal (observational)",
            against="the non-personal feed",
            causal=False,
            rates=rates,
            other=types.EDITORIAL,
        ),
        causal=_uplift(
            label="Personalized against the holdout (causal)",
            short_label="vs the holdout (causal)",
            against="the holdout",
            causal=True,
            rates=rates,
            other=types.HOLDOUT,
        )
        if holdout_seen
        else None,
        holdout_share=share,
    )


def effectiveness_chart(result: Effectiveness) -> charts.Intervals:
    return charts.intervals(
        slug="uplift",
        title=f"Click-through uplift of personalization, last {result.days} days",
        description=(
            "The personalized feed's click-through minus the other feed's, in percentage "
            "points, with its 95% interval (binomial spread of clicks and the differential "
            "privacy noise in them); an interval across the zero line is no evidence of a "
            "difference."
        ),
        label_header="Comparison",
        value_header="Uplift (95% interval)",
        points=[
            charts.IntervalPoint(
                label=uplift.short_label,
                text=uplift.difference_text,
                value=100 * uplift.difference.value if uplift.difference else None,
                low=100 * uplift.difference.low if uplift.difference else 0.0,
                high=100 * uplift.difference.high if uplift.difference else 0.0,
            )
            for uplift in result.uplifts
        ],
    )


def budget_chart(*, today: date | None = None) -> charts.Chart:
    rows = (
        PrivacyBudgetLedger.objects.filter(day__gte=_since(BUDGET_DAYS, today))
        .values("day")
        .annotate(spent=Sum("epsilon"))
        .order_by("day")
    )
    return charts.columns(
        slug="budget",
        title=f"Privacy budget spent per day, last {BUDGET_DAYS} days",
        description="The epsilon of each day's differentially private releases, added up.",
        label_header="Day",
        value_header="Epsilon",
        points=[
            charts.Point(
                label=row["day"].strftime("%d %b"), drawn=row["spent"], text=f"{row['spent']:.3g}"
            )
            for row in rows
        ],
    )


@dataclass(frozen=True)
class ModelPanel:
    active: ModelVersion | None
    versions: list[ModelVersion]
    metric_names: list[str]
    last_failure: ModelVersion | None
    # What "Roll back" would serve (None: the button is not shown), and a newer version
    # retraining kept from serving because it did worse on an offline check.
    rollback_target: ModelVersion | None = None
    held_back: ModelVersion | None = None


def model_panel() -> ModelPanel:
    versions = list(model_versions_recent(limit=MODEL_VERSIONS))
    names: dict[str, None] = {}
    for version in versions:
        names.update(dict.fromkeys(version.metrics or {}))
    active = model_active_version()
    return ModelPanel(
        active=active,
        versions=versions,
        metric_names=list(names),
        last_failure=retrain_last_failure(),
        rollback_target=model_rollback_target(active=active),
        held_back=model_held_back(active=active),
    )


@dataclass(frozen=True)
class TrustPanel:
    report: TrustReport
    chart: charts.Chart | None


def trust_panel() -> TrustPanel:
    """The trust survey's estimated answers, drawn like the other charts; no chart before
    enough answers exist (the editors' dashboard and the transparency page show the same)."""
    report = trust_report()
    if not report.enough:
        return TrustPanel(report=report, chart=None)
    chart = charts.horizontal_bars(
        slug="trust-score",
        title="How comfortable readers are with how we use their data",
        description=(
            f"The estimated share of readers giving each answer, from {report.n} answers each "
            f"randomized before it was stored (k-ary randomized response, ε = {report.epsilon:g}),"
            " with the margin of its 95% interval."
        ),
        label_header="Answer",
        value_header="Share (estimated)",
        points=[
            charts.Point(label=line.label, drawn=max(line.share.estimate, 0), text=line.short_text)
            for line in report.shares
        ],
    )
    return TrustPanel(report=report, chart=chart)


@dataclass(frozen=True)
class Dashboard:
    charts: list[charts.Chart]
    levels: list[LevelShare]
    click_through: list[ClickThrough]
    model: ModelPanel
    actions: list[EditorAction]
    threshold: int
    optin: OptInRates | None = None
    optin_chart: charts.ShareLine | None = None
    effectiveness: Effectiveness | None = None
    effectiveness_chart: charts.Intervals | None = None
    trust: TrustPanel | None = None


def dashboard_build(*, today: date | None = None) -> Dashboard:
    levels_chart, levels = personalization_levels()
    ctr = click_through(today=today)
    optin = optin_rates(today=today)
    effect = effectiveness(today=today)
    return Dashboard(
        charts=[
            topic_reads_chart(today=today),
            daily_reads_chart(today=today),
            top_articles_chart(today=today),
            levels_chart,
            click_through_chart(ctr, today=today),
            budget_chart(today=today),
        ],
        levels=levels,
        click_through=ctr,
        model=model_panel(),
        actions=list(EditorAction.objects.all()[:EDITOR_ACTIONS]),
        threshold=_k(),
        optin=optin,
        optin_chart=optin_chart(optin),
        effectiveness=effect,
        effectiveness_chart=effectiveness_chart(effect),
        trust=trust_panel(),
    )
