"""Building and keeping the public candidate bundle (privatemode.bundle has its format).

The bundle is the feed's own candidate pool (recommendations.feed.pool), read through the
same active model and released DP popularity as the live feed, with the scoring's weights
and constants. It is built once per (model version, day, catalogue) and kept in the shared
cache, so every visitor gets the same bytes and a page view never waits for a build but the
first after a change. The catalogue is the feed cache's marker: it moves whenever a story is
published, changed or withdrawn, so a withdrawn story leaves the public bundle as soon as it
leaves the feed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from news.models import Topic
from news.selectors import articles_live_by_id
from privacy.federated import offer_current
from privacy.local_reports import tally_open, tally_version
from recommendations import ranking
from recommendations.active import active_model
from recommendations.explanations import POPULAR_FLOOR
from recommendations.feed.pool import candidate_pool, candidate_pool_forget, catalogue_marker
from recommendations.feed.scoring import blend
from recommendations.weights import (
    FEDERATED_WEIGHTS,
    HISTORY_SHARE,
    PERSONAL_PICK_SHARE,
    RELATED_TOPIC_SHARE,
)

from .bundle import DECIMALS, FORMAT, BundleArticle, articles_encode, int8_encode, rounded

# A kept bundle outlives its day a little (a build just before midnight still serves).
KEEP_SECONDS = 26 * 3600
# Only one process builds a bundle at a time; the others serve the one before meanwhile.
BUILD_LOCK_SECONDS = 60
_LATEST_KEY = "privatemode:bundle:latest"
_LOCK_KEY = "privatemode:bundle:building"
# A browser's federated update learns from at most its newest reads among the candidates: a
# bounded amount of work on a phone, and each read weighs at least 1/this in the update.
FEDERATED_MAX_READS = 20


@dataclass(frozen=True)
class KeptBundle:
    """One built bundle as it is served: its bytes, gzip-compressed bytes and their ETags."""

    key: str
    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str
    model_version: int | None
    candidates: int


def _epoch(value: float) -> int:
    return 0 if value is None or math.isnan(value) or value <= 0 else round(value)


def bundle_build(*, now: datetime | None = None) -> dict:
    """The bundle as of `now`: every live candidate of the feed with what scoring needs.

    The pool is built afresh (not the few seconds old one a page may be served from), so a
    story withdrawn a moment ago is not in it; the live stories are then read once more."""
    now = now or timezone.now()
    loaded = active_model()
    candidate_pool_forget()
    pool = candidate_pool(loaded=loaded, now=now)
    live = articles_live_by_id(ids=pool.ids.tolist(), now=now)
    rows = [row for row, article_id in enumerate(pool.ids.tolist()) if article_id in live]
    # Every topic, not only the candidates': a reader may follow one with no story today,
    # and its name orders their topics as the server orders them (by name).
    topics = list(Topic.objects.order_by("pk").values_list("pk", "name", "slug"))
    position = {pk: index for index, (pk, _, _) in enumerate(topics)}
    column_topics = [int(t) for t in pool.topic_ids]
    articles = [
        BundleArticle(
            id=int(pool.ids[row]),
            title=live[int(pool.ids[row])].title,
            summary=live[int(pool.ids[row])].summary,
            published=_epoch(float(pool.published[row])),
            pick_until=_epoch(float(pool.pick_until[row])),
            columns=sorted(
                position[column_topics[c]]
                for c in pool.topic_matrix[row].nonzero()[0]
                if c < len(column_topics) and column_topics[c] in position
            ),
            popularity=float(pool.popularity[row]),
            counted=bool(pool.counted[row]),
        )
        for row in rows
    ]
    model = loaded.model if loaded is not None else None
    # Links by id: a short address that redirects to the story's own, and no slug to ship.
    article_url = reverse("news:article_short", kwargs={"pk": 0})
    topic_url = reverse("news:topic", kwargs={"slug": "slug"})
    return {
        "format": FORMAT,
        "model_version": loaded.version if loaded is not None else None,
        "day": timezone.localdate(now).isoformat(),
        "time_zone": settings.TIME_ZONE,
        "article_url": article_url.replace("/0/", "/{id}/"),
        "topic_url": topic_url.replace("/slug/", "/{slug}/"),
        "weights": blend(model.weights if model is not None else None),
        "constants": {
            "history_share": HISTORY_SHARE,
            "related_topic_share": RELATED_TOPIC_SHARE,
            "personal_pick_share": PERSONAL_PICK_SHARE,
            "popular_floor": POPULAR_FLOOR,
            "freshness_half_life_hours": settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS,
            "diversity": settings.RECOMMENDER_DIVERSITY,
            "topic_cap": settings.RECOMMENDER_TOPIC_CAP,
            "page_size": settings.NEWS_PAGE_SIZE,
            "history_limit": settings.RECOMMENDER_HISTORY_LIMIT,
            "pool_per_item": ranking.POOL_PER_ITEM,
            "min_pool": ranking.MIN_POOL,
        },
        "topics": [list(topic) for topic in topics],
        "model": {
            "topic_ids": [int(t) for t in model.topic_ids] if model is not None else [],
            "centroids": int8_encode(
                model.topic_centroids if model is not None else np.zeros((0, 0))
            ),
            "affinity": [rounded(row) for row in model.topic_affinity]
            if model is not None and model.topic_affinity is not None
            else [],
        },
        **articles_encode(articles),
        "vectors": int8_encode(pool.vectors[rows] if rows else np.zeros((0, 0))),
        **_local_reports(day=timezone.localdate(now), article_ids=[a.id for a in articles]),
        **_federated(),
    }


def _local_reports(*, day: date, article_ids: list[int]) -> dict:
    """What a browser needs to send its daily local DP report (static/privatemode/ldp.js):
    the id of this candidate list for `day`, one bit per story in `articles` order, and the
    epsilon to randomize with. Nothing when reports are off or there is no candidate."""
    epsilon = settings.PRIVATE_MODE_REPORT_EPSILON
    if epsilon <= 0 or not article_ids:
        return {}
    return {
        "local_reports": {
            "version": tally_version(day=day, epsilon=epsilon, article_ids=article_ids),
            "epsilon": epsilon,
            "url": reverse("privatemode:report"),
            "max_delay_seconds": settings.PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS,
        }
    }


def _federated() -> dict:
    """What a browser needs to send its daily federated update (static/privatemode/
    federated.js): the weights it moves, in the vector's order, the clip and the noise's sigma
    (worked out here, by OpenDP, so the browser only draws normals) and the privacy they buy.
    Nothing when federated tuning is off."""
    offer = offer_current()
    if offer is None:
        return {}
    return {
        "federated": {
            "weights": list(FEDERATED_WEIGHTS),
            "clip": offer.clip,
            # Rounded up: never less noise than the epsilon stated.
            "sigma": math.ceil(offer.sigma * 10**DECIMALS) / 10**DECIMALS,
            "epsilon": offer.epsilon,
            "delta": offer.delta,
            "max_reads": FEDERATED_MAX_READS,
            "url": reverse("privatemode:federated"),
            "max_delay_seconds": settings.PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS,
        }
    }


def bundle_bytes(bundle: dict) -> bytes:
    """The bundle as served: compact, keys sorted, so one bundle is always the same bytes."""
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def bundle_keep(*, key: str, bundle: dict) -> KeptBundle:
    reports = bundle.get("local_reports")
    if reports is not None:
        # The sums its reports are added to, before any browser can send one.
        tally_open(
            day=date.fromisoformat(bundle["day"]),
            epsilon=reports["epsilon"],
            article_ids=[row[0] for row in bundle["articles"]],
        )
    body = bundle_bytes(bundle)
    # mtime 0: the compressed bytes depend on the bundle alone, not on when they were made.
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    kept = KeptBundle(
        key=key,
        body=body,
        gzipped=gzipped,
        etag=_etag(body),
        gzip_etag=_etag(gzipped),
        model_version=bundle["model_version"],
        candidates=len(bundle["articles"]),
    )
    # Kept as plain values, not the class: a deployment that changes it still reads them.
    cache.set_many({key: asdict(kept), _LATEST_KEY: asdict(kept)}, KEEP_SECONDS)
    return kept


def _kept(entry) -> KeptBundle | None:
    try:
        return KeptBundle(**entry) if entry is not None else None
    except TypeError:  # kept by a version with other fields: built again
        return None


def bundle_key(*, now: datetime | None = None) -> str:
    """Which bundle is current: the serving model version, the day and the catalogue."""
    loaded = active_model()
    version = loaded.version if loaded is not None else 0
    day = timezone.localdate(now or timezone.now()).isoformat()
    return f"privatemode:bundle:{version}:{day}:{catalogue_marker()}"


def bundle_current(*, now: datetime | None = None) -> KeptBundle:
    """The current bundle, built when there is none yet for this model, day and catalogue.

    While another process builds it, the one before is served (it is the same for everyone
    too, and at most a build old)."""
    key = bundle_key(now=now)
    kept = _kept(cache.get(key))
    if kept is not None:
        return kept
    building_here = cache.add(_LOCK_KEY, key, BUILD_LOCK_SECONDS)
    if not building_here:
        previous = _kept(cache.get(_LATEST_KEY))
        if previous is not None:
            return previous
    try:
        return bundle_keep(key=key, bundle=bundle_build(now=now))
    finally:
        if building_here:
            cache.delete(_LOCK_KEY)
