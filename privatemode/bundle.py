"""The public candidate bundle's format: what the browser needs to rank the front page itself
(static/privatemode/ranking.js), and the same bundle read back into the recommender's own
`Candidates`, so Python can score exactly what a browser scores (tests, bench/bundle.py).

One JSON object, the same bytes for everyone it is served to: nothing in it is about a
reader. Every float is rounded once, here, so both sides read the same numbers. `format`
names this layout; a later field (local DP reports, federated weights) is added beside the
others and a reader ignores what it does not know. Format 2, to stay small at 2,000
candidates (bench/bundle.py):

- `articles` are rows of `article_fields`, newest first: `id` (a story links to
  `article_url` with its id, a short address that redirects to the story's own), `title`,
  `summary` (cut at a word to SUMMARY_CHARACTERS), `earlier_by` (seconds it was published
  before the row above; the first row's time is `newest_published`), `pick_until` (epoch
  seconds, 0 when not an editor's pick), `columns` (its topics, as positions in `topics`),
  `popularity` (an integer: the 0..1 share times `popularity_scale`) and `counted`.
- Vectors are int8, base64 in JSON. Unit rows (the model's vectors and centroids) ship no
  scale: each row is its int8 values divided by their norm. Other matrices carry one scale
  per row (value = int8 * scale).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from recommendations import explanations, ranking
from recommendations.feed.scoring import Candidates, Reader, score

# 2: links by id (no slug), shorter summaries, publication as gaps, integer popularity, unit
# vectors without scales. A format-1 reader would misread these rows, hence the new number.
FORMAT = 2
INT8_MAX = 127
# Rounding of the floats shipped as text: far below what could reorder two stories (the
# scores' parts differ by more than 1e-5 unless they are equal), and short in JSON.
DECIMALS = 5
# Popularity ships as an integer count of these parts of 1: the same numbers as rounding to
# DECIMALS, without the "0." on every row. Both sides divide, which rounds the same.
POPULARITY_SCALE = 10**DECIMALS
# The summary as a card can show it in two lines; the article has it whole.
SUMMARY_CHARACTERS = 120
ELLIPSIS = "…"
# How far from 1 a row's norm may be for the row to ship as a unit vector (float32 rows
# normalised by the model are within 1e-6).
UNIT_TOLERANCE = 1e-3


def summary_cut(text: str, limit: int = SUMMARY_CHARACTERS) -> str:
    """`text` whole if it fits in `limit` characters, else cut at the last word that fits
    with an ellipsis after it (a single word longer than that is cut where it must be)."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    # A head followed by a space ends on a whole word; otherwise its last word is partial.
    if not text[len(head)].isspace() and len(head.split()) > 1:
        head = head.rsplit(maxsplit=1)[0]
    return head.rstrip(" ,;:.") + ELLIPSIS


def _unit_rows(matrix: np.ndarray) -> bool:
    norms = np.linalg.norm(matrix, axis=1)
    return bool(np.all((np.abs(norms - 1.0) <= UNIT_TOLERANCE) | (norms == 0.0)))


def int8_encode(matrix: np.ndarray) -> dict:
    """Rows of `matrix` as int8 at the step that uses the full range of each row: without a
    scale when every row is a unit vector (or zero), else with a scale per row (a zero row
    keeps scale 0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, dimensions = matrix.shape if matrix.ndim == 2 else (0, 0)
    peak = np.abs(matrix).max(axis=1) if rows and dimensions else np.zeros(rows)
    # The scale as float32 text: seven digits are all an int8 value can use.
    scales = [float(np.float32(p / INT8_MAX)) for p in peak]
    safe = np.where(np.array(scales) > 0, scales, 1.0) if rows else np.ones(0)
    quantized = (
        np.clip(np.rint(matrix / safe[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
        if rows and dimensions
        else np.zeros((rows, dimensions), np.int8)
    )
    encoded = {
        "rows": int(rows),
        "dimensions": int(dimensions),
        "data": base64.b64encode(quantized.tobytes()).decode("ascii"),
    }
    if not (rows and dimensions and _unit_rows(matrix)):
        encoded["scale"] = scales
    return encoded


def int8_decode(encoded: dict) -> np.ndarray:
    """The matrix as both sides use it, in float64: each int8 times its row's scale, or
    divided by its row's norm for unit rows (an exact integer sum, one square root, one
    division: the same double in every browser)."""
    rows, dimensions = int(encoded["rows"]), int(encoded["dimensions"])
    raw = np.frombuffer(base64.b64decode(encoded["data"]), dtype=np.int8)
    quantized = raw.reshape(rows, dimensions).astype(np.int64)
    if "scale" in encoded:
        scales = np.asarray(encoded["scale"], dtype=np.float64)
    else:
        norms = np.sqrt((quantized * quantized).sum(axis=1).astype(np.float64))
        scales = np.divide(1.0, norms, out=np.zeros(rows), where=norms > 0)
    return quantized.astype(np.float64) * scales[:, None]


def rounded(values) -> list[float]:
    return [round(float(v), DECIMALS) for v in values]


@dataclass(frozen=True)
class BundleArticle:
    """One candidate as the bundle lists it (a row of `articles`)."""

    id: int
    title: str
    summary: str
    published: int  # epoch seconds
    pick_until: int  # epoch seconds, 0 when not an editor's pick
    columns: list[int]  # its topics, as positions in `topics`
    popularity: float  # 0..1, from the released DP counts
    counted: bool  # its own DP counts stand clear of the noise: may be called popular


ARTICLE_FIELDS = (
    "id",
    "title",
    "summary",
    "earlier_by",
    "pick_until",
    "columns",
    "popularity",
    "counted",
)


def articles_encode(articles: list[BundleArticle]) -> dict:
    """The bundle's fields that list the candidates, in their order (newest first): times
    as the gap to the row above, which takes a few digits where an epoch takes ten."""
    newest = articles[0].published if articles else 0
    rows, above = [], newest
    for article in articles:
        rows.append(
            [
                article.id,
                article.title,
                summary_cut(article.summary),
                above - article.published,
                article.pick_until,
                article.columns,
                round(article.popularity * POPULARITY_SCALE),
                1 if article.counted else 0,
            ]
        )
        above = article.published
    return {
        "article_fields": list(ARTICLE_FIELDS),
        "articles": rows,
        "newest_published": newest,
        "popularity_scale": POPULARITY_SCALE,
    }


@dataclass
class DecodedBundle:
    """A bundle read back: the recommender's `Candidates` built from the bundle's numbers
    alone (de-quantized vectors, rounded popularity), and what ranking needs beside them."""

    candidates: Candidates
    ids: np.ndarray
    published: np.ndarray
    pick_until: np.ndarray
    counted: np.ndarray
    weights: dict[str, float]
    constants: dict
    topic_names: dict[int, str]
    titles: dict[int, str]


def bundle_decode(bundle: dict) -> DecodedBundle:
    """The bundle as Python scoring takes it, from the bundle's own numbers only."""
    articles = [dict(zip(bundle["article_fields"], row, strict=True)) for row in bundle["articles"]]
    published = bundle["newest_published"] - np.cumsum(
        [a["earlier_by"] for a in articles], dtype=np.int64
    )
    topics = bundle["topics"]
    vectors = int8_decode(bundle["vectors"])
    topic_matrix = np.zeros((len(articles), max(len(topics), 1)), dtype=bool)
    for row, article in enumerate(articles):
        topic_matrix[row, article["columns"]] = True
    model = bundle["model"]
    centroids = int8_decode(model["centroids"])
    affinity = np.asarray(model["affinity"], dtype=np.float64) if model["topic_ids"] else None
    closeness = (
        vectors @ centroids.T if len(centroids) else np.zeros((len(articles), 0), np.float64)
    )
    candidates = Candidates(
        vectors=vectors,
        topic_ids=np.array([t[0] for t in topics], dtype=np.int64),
        topic_matrix=topic_matrix,
        popularity=np.array([a["popularity"] for a in articles], dtype=np.float64)
        / bundle["popularity_scale"],
        centroid_closeness=closeness,
        model_topic_ids=np.array(model["topic_ids"], dtype=np.int64),
        topic_centroids=centroids,
        topic_affinity=affinity,
    )
    return DecodedBundle(
        candidates=candidates,
        ids=np.array([a["id"] for a in articles], dtype=np.int64),
        published=published.astype(np.float64),
        pick_until=np.array([a["pick_until"] for a in articles], dtype=np.float64),
        counted=np.array([bool(a["counted"]) for a in articles]),
        weights=dict(bundle["weights"]),
        constants=dict(bundle["constants"]),
        topic_names={t[0]: t[1] for t in topics},
        titles={a["id"]: a["title"] for a in articles},
    )


@dataclass(frozen=True)
class RankedStory:
    """One story of a front page ranked from a bundle, with the reason that placed it."""

    id: int
    kind: str
    sentence: str


def bundle_reader(
    decoded: DecodedBundle, *, topics: list[tuple[int, float]], reads: list[tuple[int, float]]
) -> tuple[Reader | None, list[tuple[int, float]]]:
    """What scoring may use about a browser's reader (None without topics, as at level
    Off), and the reads it uses: those in the bundle, newest first, at most the history
    limit. A read older than the bundle's window has no vector in it and shapes nothing."""
    if not topics:
        return None, []
    rows = {int(article_id): row for row, article_id in enumerate(decoded.ids)}
    usable = [(a, at) for a, at in reads if a in rows][: decoded.constants["history_limit"]]
    read_rows = np.array([rows[a] for a, _ in usable], dtype=np.int64)
    pair_reads, pair_columns = np.nonzero(decoded.candidates.topic_matrix[read_rows])
    return (
        Reader(
            topic_weights=dict(topics),
            read_vectors=decoded.candidates.vectors[read_rows],
            pair_reads=pair_reads.astype(np.int64),
            pair_columns=pair_columns.astype(np.int64),
        ),
        usable,
    )


def bundle_feed(
    decoded: DecodedBundle,
    *,
    topics: list[tuple[int, float]],
    reads: list[tuple[int, float]],
    blocked: list[int] = (),
    now: float,
    stop: int,
) -> list[RankedStory]:
    """The front page a browser ranks from this bundle (static/privatemode/ranking.js does the
    same), computed with the recommender's own `score`, `rank` and reasons: `topics` as
    (topic id, weight) in the reader's order, `reads` as (article id, epoch seconds) newest
    first, `now` in epoch seconds."""
    candidates = decoded.candidates
    reader, used_reads = bundle_reader(decoded, topics=topics, reads=reads)
    keep = decoded.published <= now
    if reader is not None:
        read_ids = {a for a, _ in reads}
        keep &= ~np.isin(decoded.ids, list(read_ids))
    columns = candidates.columns
    blocked_columns = [columns[t] for t in blocked if t in columns]
    if blocked_columns:
        keep &= ~candidates.topic_matrix[:, blocked_columns].any(axis=1)
    half_life = decoded.constants["freshness_half_life_hours"]
    hours = np.maximum(now - decoded.published, 0.0) / 3600
    scores = score(
        candidates=candidates,
        reader=reader,
        weights=decoded.weights,
        freshness=0.5 ** (hours / half_life),
        pick=(decoded.pick_until > now).astype(float),
    )
    visible = np.flatnonzero(keep)
    order = ranking.rank(
        relevance=scores.relevance[visible],
        vectors=candidates.vectors,
        topic_matrix=candidates.topic_matrix,
        rows=visible,
        diversity=decoded.constants["diversity"],
        topic_cap=decoded.constants["topic_cap"],
        page_size=decoded.constants["page_size"],
        stop=stop,
    )
    top = candidates.popularity[visible].max() if len(visible) else 0.0
    stories = []
    for index in order:
        row = int(visible[index])
        share = float(candidates.popularity[row] / top) if top > 0 and decoded.counted[row] else 0.0
        kind = explanations.reason_kind(
            topic=scores.topic[row],
            related=scores.related[row],
            history=scores.history[row],
            popularity=scores.popularity[row],
            pick=scores.pick[row],
            freshness=scores.freshness[row],
            popularity_share=share,
        )
        stories.append(
            RankedStory(
                id=int(decoded.ids[row]),
                kind=kind,
                sentence=_sentence(decoded, kind, row, scores, used_reads, now),
            )
        )
    return stories


def _sentence(decoded: DecodedBundle, kind: str, row: int, scores, reads, now: float) -> str:
    kinds = explanations.ReasonKind
    names = decoded.topic_names
    if kind == kinds.TOPIC:
        topic_id = int(scores.followed_topic[row])
        return explanations.because_you_follow(
            topic_id=topic_id, topic_name=names[topic_id]
        ).sentence
    if kind == kinds.RELATED_TOPIC:
        topic_id = scores.related_topic_of(row, decoded.candidates.vectors)
        return explanations.related_to(topic_name=names[topic_id]).sentence
    if kind == kinds.HISTORY:
        article_id, read_at = reads[int(scores.history_source[row])]
        return explanations.because_you_read(
            title=decoded.titles[article_id],
            read_at=datetime.fromtimestamp(read_at, tz=UTC),
            now=datetime.fromtimestamp(now, tz=UTC),
        ).sentence
    if kind == kinds.POPULAR:
        return explanations.popular_today().sentence
    if kind == kinds.PICK:
        return explanations.editors_pick(signed_in=False).sentence
    return explanations.just_in(signed_in=False).sentence
