"""Private mode's local DP reports on the server: opening a day's sums for a bundle's
candidate list, adding one randomized report to them, and releasing a closed day's per-story
estimates with their variance and a ledger line (the math is privacy.ldp's).

The server never sees a read: each report is one bit vector randomized in the browser
(epsilon at most 1), added to per-position sums in one locked update and not kept. No
address, time, cookie or id is stored with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from news.models import Article

from .aggregation import day_awaits_release
from .ldp import (
    LOCAL_ARTICLE_QUERY,
    LOCAL_CONTRIBUTION_BOUND,
    LOCAL_MECHANISM,
    MalformedReport,
    bits_unpack,
    most_ones,
    oue_estimate,
    oue_variance,
)
from .models import LocalReportRelease, LocalReportTally, PrivacyBudgetLedger

# A report may name the day before today: its bundle was built before midnight, or the send
# time drawn for it fell after. Days before that are closed and released.
LATE_DAYS = 1


class ReportRefused(ValueError):
    """A report the server does not count; the message says why (and nothing was stored)."""


def tally_version(*, day: date, epsilon: float, article_ids: list[int]) -> str:
    """The id of a candidate list for one day's reports: the same list gives the same id."""
    payload = json.dumps([day.isoformat(), round(epsilon, 6), article_ids]).encode()
    return hashlib.sha256(payload).hexdigest()[:32]


def tally_open(*, day: date, epsilon: float, article_ids: list[int]) -> str:
    """Make sure a day's sums exist for this candidate list (a bundle); returns its id."""
    version = tally_version(day=day, epsilon=epsilon, article_ids=article_ids)
    LocalReportTally.objects.get_or_create(
        version=version,
        defaults={
            "day": day,
            "epsilon": epsilon,
            "article_ids": list(article_ids),
            "ones": [0] * len(article_ids),
        },
    )
    return version


def report_add(*, version: str, day: str, bits: str, today: date | None = None) -> None:
    """Add one browser's randomized report to its day's sums. ReportRefused, with nothing
    stored, for a report that is not one: an unknown or closed candidate list, another day
    than its list's, not exactly one bit per candidate, or more bits set than randomization
    plausibly sets (see privacy.ldp.PLAUSIBLE_ONES_DEVIATIONS)."""
    today = today or timezone.localdate()
    if not isinstance(version, str) or not isinstance(day, str) or not isinstance(bits, str):
        raise ReportRefused("A report has a bundle_version, a day and bits, all strings.")
    with transaction.atomic():
        tally = (
            LocalReportTally.objects.select_for_update()
            .filter(version=version, day__gte=today - timedelta(days=LATE_DAYS))
            .first()
        )
        if tally is None:
            raise ReportRefused(
                "This bundle version is not one of today's or yesterday's: reload the page."
            )
        if day != tally.day.isoformat():
            raise ReportRefused(f"This bundle version is for {tally.day.isoformat()}, not {day}.")
        size = len(tally.article_ids)
        try:
            report = bits_unpack(bits, size=size)
        except MalformedReport as error:
            raise ReportRefused(str(error)) from None
        if int(report.sum()) > most_ones(size=size, epsilon=tally.epsilon):
            raise ReportRefused("The report sets more bits than a randomized report can.")
        tally.ones = (np.asarray(tally.ones, dtype=np.int64) + report).tolist()
        tally.reports += 1
        tally.save(update_fields=["ones", "reports"])


@dataclass(frozen=True)
class LocalRelease:
    day: date
    already_done: bool
    reports: int = 0
    articles_released: int = 0
    epsilon: float = 0.0


def day_release(*, day: date) -> LocalRelease:
    """Release one closed day's per-story estimates from its sums, each with its variance, and
    its ledger line; then delete the sums. A day whose reports were all refused or that had
    none releases nothing and spends nothing. Idempotent: a released day is left alone."""
    with transaction.atomic():
        if PrivacyBudgetLedger.objects.filter(day=day, query=LOCAL_ARTICLE_QUERY).exists():
            LocalReportTally.objects.filter(day=day).delete()
            return LocalRelease(day=day, already_done=True)
        tallies = list(LocalReportTally.objects.select_for_update().filter(day=day))
        # Sums over the day's lists: each list's estimate is unbiased, so their sum is.
        estimates: dict[int, float] = {}
        variances: dict[int, float] = {}
        covering: dict[int, int] = {}
        for tally in tallies:
            if not tally.reports:
                continue
            estimate = oue_estimate(ones=tally.ones, reports=tally.reports, epsilon=tally.epsilon)
            variance = float(oue_variance(reports=tally.reports, epsilon=tally.epsilon))
            for article_id, value in zip(tally.article_ids, estimate, strict=True):
                estimates[article_id] = estimates.get(article_id, 0.0) + float(value)
                variances[article_id] = variances.get(article_id, 0.0) + variance
                covering[article_id] = covering.get(article_id, 0) + tally.reports
        reports = sum(t.reports for t in tallies)
        existing = set(Article.objects.filter(pk__in=estimates).values_list("pk", flat=True))
        epsilon = max((t.epsilon for t in tallies if t.reports), default=0.0)
        if reports:
            LocalReportRelease.objects.bulk_create(
                [
                    LocalReportRelease(
                        day=day,
                        article_id=article_id,
                        estimate=estimates[article_id],
                        variance=variances[article_id],
                        reports=covering[article_id],
                    )
                    for article_id in sorted(existing)
                ],
                batch_size=1000,
            )
            PrivacyBudgetLedger.objects.create(
                day=day,
                query=LOCAL_ARTICLE_QUERY,
                epsilon=epsilon,
                mechanism=LOCAL_MECHANISM,
                contribution_bound=LOCAL_CONTRIBUTION_BOUND,
                # Its variance depends on each story's number of reports: it is on each
                # released estimate, not one scale for the day.
                noise_scale=None,
            )
        LocalReportTally.objects.filter(day=day).delete()
    return LocalRelease(
        day=day,
        already_done=False,
        reports=reports,
        articles_released=len(existing) if reports else 0,
        epsilon=epsilon,
    )


def local_reports_release_pending(*, today: date | None = None) -> list[LocalRelease]:
    """Release every day no report can still arrive for (before yesterday), oldest first.

    A day whose central release is still to come waits for it: that release treats a day
    with any ledger line as done, so this line must not come first."""
    today = today or timezone.localdate()
    closed = today - timedelta(days=LATE_DAYS)
    days = sorted(
        set(LocalReportTally.objects.filter(day__lt=closed).values_list("day", flat=True))
    )
    return [day_release(day=day) for day in days if not day_awaits_release(day=day)]


@dataclass(frozen=True)
class LocalReleaseDay:
    """One released day of local reports, as the transparency page states it."""

    day: date
    epsilon: float
    reports: int  # browsers whose reports listed the most-listed story
    stories: int
    margin: int  # how far noise moves one story's estimate, 19 times in 20


def local_releases_recent(*, days: int) -> list[LocalReleaseDay]:
    """The local releases of the last `days` days, newest first."""
    since = timezone.localdate() - timedelta(days=days)
    ledger = dict(
        PrivacyBudgetLedger.objects.filter(day__gte=since, query=LOCAL_ARTICLE_QUERY).values_list(
            "day", "epsilon"
        )
    )
    found = []
    for day in sorted(ledger, reverse=True):
        summary = LocalReportRelease.objects.filter(day=day).aggregate(
            reports=Max("reports"), variance=Max("variance"), stories=Count("id")
        )
        found.append(
            LocalReleaseDay(
                day=day,
                epsilon=ledger[day],
                reports=summary["reports"] or 0,
                stories=summary["stories"],
                margin=round(2 * (summary["variance"] or 0.0) ** 0.5),
            )
        )
    return found
