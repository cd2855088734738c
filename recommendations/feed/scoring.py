"""The one scoring function of the recommender: every candidate's score, part by part, from
arrays alone. The live feed, training's weight tuning and the offline evaluation all rank with
`score`; pure numpy, no database, no settings, so each caller only gathers its arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..ranking import SAMPLE_STEP, most_relevant
from ..weights import DEFAULT_WEIGHTS, HISTORY_SHARE, PERSONAL_PICK_SHARE, RELATED_TOPIC_SHARE

# In Scores.related_topic: related to the followed topic nearest in content.
NEAREST = -2


@dataclass
class Candidates:
    """What scoring needs about the stories it may rank, rows following `vectors`, topic
    columns following `topic_ids`; and about the model's topics (rows following
    `model_topic_ids`). The same for every reader."""

    vectors: np.ndarray  # unit content vectors (zero: none)
    topic_ids: np.ndarray  # the topic of each column
    topic_matrix: np.ndarray  # bool, story x topic column
    popularity: np.ndarray  # 0..1, from the DP counts
    # Each story's closeness to every topic centroid of the model (float32, story x model row).
    centroid_closeness: np.ndarray
    model_topic_ids: np.ndarray
    topic_centroids: np.ndarray
    topic_affinity: np.ndarray | None = None  # model row x model row, 0..1
    # Per topic column: the rows of its stories, and their vectors side by side.
    topic_members: list[np.ndarray] = field(default_factory=list)
    topic_vectors: list[np.ndarray] = field(default_factory=list)
    # Optional (the live pool sets it): each story's topic column when it is in exactly one,
    # else the number of columns (a padding slot). The topic parts are then looked up per
    # story in one step; the stories in several topics are set topic by topic as without it.
    only_column: np.ndarray | None = None

    def __post_init__(self):
        if not self.topic_members and len(self.topic_ids):
            self.topic_members = [
                np.flatnonzero(self.topic_matrix[:, column])
                for column in range(len(self.topic_ids))
            ]
        if not self.topic_vectors and self.topic_members:
            self.topic_vectors = [np.ascontiguousarray(self.vectors[m]) for m in self.topic_members]
        self.model_rows = {int(t): row for row, t in enumerate(self.model_topic_ids)}
        self.columns = {int(t): column for column, t in enumerate(self.topic_ids)}
        if self.only_column is not None:
            self.several_topics = np.flatnonzero(self.topic_matrix.sum(axis=1) > 1)


def only_columns(topic_matrix: np.ndarray) -> np.ndarray:
    """`Candidates.only_column` from the story x topic matrix."""
    padding = topic_matrix.shape[1]
    single = topic_matrix.sum(axis=1) == 1
    return np.where(single, topic_matrix.argmax(axis=1), padding).astype(np.intp)


@dataclass(frozen=True)
class Reader:
    """What scoring may use about one reader: the topics they follow (id -> weight) and, at
    "Topics + reading history", their reads, newest first: each read's vector (zero when
    unknown) and the (read, topic column) pairs of the topics each read is in."""

    topic_weights: dict[int, float]
    read_vectors: np.ndarray | None = None
    pair_reads: np.ndarray | None = None
    pair_columns: np.ndarray | None = None
    # Each read's row among the candidates (-1: not one of them; a row's vector is the read's),
    # when the caller knows it.
    read_rows: np.ndarray | None = None

    @property
    def read_count(self) -> int:
        return 0 if self.read_vectors is None else len(self.read_vectors)


@dataclass
class Scores:
    """Each part of every candidate's score (weighted), kept to explain the ones shown."""

    relevance: np.ndarray
    # Index into the reads, -1 for none (a HistorySources: worked out for the rows asked for).
    history_source: np.ndarray | _ReadSources
    followed_topic: np.ndarray  # the followed topic behind the topic part, -1 for none
    # The followed topic a related story is related to: -1 for none, NEAREST for the one
    # whose centroid is closest to the story (of `nearest_of`: topic ids and centroids).
    related_topic: np.ndarray
    nearest_of: tuple[np.ndarray, np.ndarray] | None = None
    # Rows (ascending) outside which no story is among the best `Ranked.size` the scores
    # were made for, when scoring found them (None: any row may be).
    contenders: np.ndarray | None = None
    # Each part unweighted, with its weight: weighted when asked for (a page explains its
    # twenty stories; training and the evaluation need the relevance alone).
    unweighted: dict[str, tuple[float, np.ndarray]] = field(default_factory=dict, repr=False)

    def part(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The weighted part `name` of these rows (the same numbers as the whole array's)."""
        weight, values = self.unweighted[name]
        return weight * values[rows]

    def _weighted(self, name: str) -> np.ndarray:
        weight, values = self.unweighted[name]
        return weight * values

    @cached_property
    def topic(self) -> np.ndarray:
        return self._weighted("topic")

    @cached_property
    def related(self) -> np.ndarray:
        return self._weighted("related")

    @cached_property
    def history(self) -> np.ndarray:
        return self._weighted("history")

    @cached_property
    def popularity(self) -> np.ndarray:
        return self._weighted("popularity")

    @cached_property
    def freshness(self) -> np.ndarray:
        return self._weighted("freshness")

    @cached_property
    def pick(self) -> np.ndarray:
        return self._weighted("pick")

    def related_topic_of(self, row: int, vectors: np.ndarray) -> int:
        topic_id = int(self.related_topic[row])
        if topic_id == NEAREST and self.nearest_of is not None:
            chosen, centroids = self.nearest_of
            return int(chosen[np.argmax(centroids @ vectors[row])])
        return topic_id


def blend(weights: dict[str, float] | None) -> dict[str, float]:
    """The default weights with a model's (or a caller's) on top."""
    return DEFAULT_WEIGHTS | (weights or {})


@dataclass(frozen=True)
class Ranked:
    """What a ranking will take of the scores: the best `size` of `rows` (the stories the
    reader may see), so only those need their exact score."""

    rows: np.ndarray
    size: int


def score(
    *,
    candidates: Candidates,
    reader: Reader | None,
    weights: dict[str, float] | None,
    freshness: np.ndarray,
    pick: np.ndarray,
    ranked: Ranked | None = None,
) -> Scores:
    """Every part of every candidate's score. `reader` None: the non-personal feed (picks,
    popularity, freshness). Rows the reader must not see may be dropped afterwards.

    With `ranked`, the history part is worked out only for the stories that can be among
    the best `ranked.size` of `ranked.rows` (see `_history_where_it_ranks`): every other story
    keeps its score without it, which is below those best whatever its history part."""
    w = blend(weights)
    count = len(candidates.popularity)
    popularity = candidates.popularity
    history_source = np.full(count, -1)
    nearest_of = contenders = None
    if reader is None:
        none = np.zeros(count)
        return Scores(
            relevance=w["pick"] * pick + w["popularity"] * popularity + w["freshness"] * freshness,
            history_source=history_source,
            followed_topic=np.full(count, -1, dtype=np.int64),
            related_topic=np.full(count, -1, dtype=np.int64),
            unweighted={
                "topic": (1.0, none),
                "related": (1.0, none),
                "history": (1.0, none),
                "popularity": (w["popularity"], popularity),
                "freshness": (w["freshness"], freshness),
                "pick": (w["pick"], pick),
            },
        )

    topic, followed_topic, related, related_topic = _topic_parts(reader, candidates)

    content_share = 1.0
    history = np.zeros(count)
    pairs = None
    if reader.read_count and count:
        if ranked is not None:
            pairs = _bounded_pairs(reader, ranked, weight=w["content"])
        if pairs is not None:
            history = np.zeros(count, dtype=np.float32)
            content_share = 1 - HISTORY_SHARE  # a read among the candidates is like itself
        else:
            similarity, history_source = history_similarity(candidates=candidates, reader=reader)
            history = np.clip(similarity, 0, 1) * HISTORY_SHARE
            if (similarity > 0).any():  # some story has a read it comes from
                content_share = 1 - HISTORY_SHARE
    if count:
        rows = candidates.model_rows
        chosen = [t for t, wt in reader.topic_weights.items() if t in rows and wt > 0]
        if chosen:
            chosen_rows = [rows[t] for t in chosen]
            centroids = candidates.topic_centroids[chosen_rows]
            chosen_weights = np.array([reader.topic_weights[t] for t in chosen], np.float32)
            profile_vector = (chosen_weights[:, None] * centroids).sum(axis=0)
            norm = np.linalg.norm(profile_vector)
            if norm > 0:
                # The cosine with the profile direction (the weighted sum of the centroids,
                # normalised), from each story's closeness to each centroid.
                closeness = candidates.centroid_closeness[:, chosen_rows] @ (chosen_weights / norm)
                closeness = np.clip(closeness, 0, 1) * content_share
                # Content close to the reader's topics counts with the topic part: with the
                # followed topic it is in, else as related to the nearest followed topic
                # (worked out only for the stories shown, see Scores.related_topic_of).
                lift = w["content"] / w["topic"] * closeness
                in_followed = topic > 0
                elsewhere = ~in_followed
                topic = topic + lift * in_followed
                related = related + lift * elsewhere
                related_topic = np.where(
                    elsewhere & (related_topic < 0) & (related > 0), NEAREST, related_topic
                )
                nearest_of = (np.array(chosen), centroids)
    parts = {
        "topic": (w["topic"], topic),
        "related": (w["topic"], related),
        "history": (w["content"], history),
        "popularity": (w["popularity"], popularity),
        "freshness": (w["freshness"], freshness),
        "pick": (PERSONAL_PICK_SHARE * w["pick"], pick),
    }
    relevance = _without_history(parts)
    if pairs is not None:
        history_source, contenders = _history_added(
            candidates=candidates,
            reader=reader,
            ranked=ranked,
            parts=parts,
            relevance=relevance,
            pairs=pairs,
        )
    else:
        relevance += w["content"] * history
    return Scores(
        relevance=relevance,
        history_source=history_source,
        followed_topic=followed_topic,
        related_topic=related_topic,
        nearest_of=nearest_of,
        contenders=contenders,
        unweighted=parts,
    )


def _without_history(parts: dict[str, tuple[float, np.ndarray]]) -> np.ndarray:
    """The blend of every part but the history part, term by term from the left (the same
    sums as one expression), into one array. The history part is added last (so a story's
    whole score is this plus it, whether it is added for every story or for a few)."""
    _, topic = parts["topic"]
    _, related = parts["related"]
    relevance = topic + related
    relevance *= parts["topic"][0]
    for name in ("popularity", "freshness", "pick"):
        weight, values = parts[name]
        relevance += weight * values
    return relevance


def _bounded_pairs(
    reader: Reader, ranked: Ranked, *, weight: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The reads' usable pairs when the history part may be worked out only where it ranks
    (else None): it can only raise a score (a weight of 0 or more), the ranking takes few of
    the rows, and one of the reads is a candidate (so some story is like a read, itself, and
    the content part's share is known without comparing them all)."""
    if not weight >= 0 or ranked.size * 4 >= len(ranked.rows) or reader.read_rows is None:
        return None
    pairs = _usable_pairs(reader)
    if pairs is None:
        return None
    paired = np.zeros(reader.read_count, dtype=bool)
    paired[pairs[0]] = True
    return pairs if (paired & (reader.read_rows >= 0)).any() else None


def _history_added(
    *,
    candidates: Candidates,
    reader: Reader,
    ranked: Ranked,
    parts: dict[str, tuple[float, np.ndarray]],
    relevance: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
) -> tuple[_ReadSources, np.ndarray | None]:
    """The history part into `parts` and `relevance` (every score without it): where it
    ranks when few stories could reach the best, else for every story. With the read behind
    each story's part, and the contenders for the best when it was worked out where it
    ranks."""
    weight, history = parts["history"]
    columns = np.unique(pairs[1])
    if _few_reach(candidates, ranked, weight, relevance, columns):
        return _history_where_it_ranks(
            candidates=candidates,
            reader=reader,
            ranked=ranked,
            parts=parts,
            relevance=relevance,
            pairs=pairs,
            columns=columns,
        )
    similarity, sources = history_similarity(candidates=candidates, reader=reader, pairs=pairs)
    history[:] = np.clip(similarity, 0, 1) * HISTORY_SHARE
    relevance += weight * history
    return sources, None


def _few_reach(
    candidates: Candidates, ranked: Ranked, weight: float, without: np.ndarray, columns
) -> bool:
    """Whether few stories of the reads' topics could reach the best `ranked.size` with their
    history part (told from a sample of the scores without it: an estimate, for the cost
    only). When many could (a reader whose reads are in the topics they follow, their
    stories close in score), comparing those topics' stories topic by topic, as for every
    story, costs less than comparing each of them with every read."""
    sample = without[::SAMPLE_STEP]
    wanted = min(ranked.size // SAMPLE_STEP + 1, len(sample))
    cut = np.partition(sample, len(sample) - wanted)[len(sample) - wanted]
    reaching = np.count_nonzero(without >= cut - weight * HISTORY_SHARE)
    return 2 * reaching < sum(len(candidates.topic_members[c]) for c in columns.tolist())


def _topic_parts(
    reader: Reader, candidates: Candidates
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per story, the weight of its strongest followed topic and which topic that is; and,
    for a story whose followed topics weigh less (none), the share its topic borrows from
    one the reader follows, and from which (the first topic wins a tie).

    Set topic by topic over each topic's stories (a handful of topics, not the whole story x
    topic matrix); with `Candidates.only_column`, a story in one topic is looked up in one
    step instead, and only the stories in several topics are set topic by topic."""
    count = len(candidates.popularity)
    followed = []
    for topic_id, weight in reader.topic_weights.items():
        column = candidates.columns.get(topic_id)
        if column is not None and weight > 0:
            followed.append((column, topic_id, weight))
    lent, lender = _lent_weights(reader, candidates)
    only = candidates.only_column
    if only is None:
        members_of = candidates.topic_members
        topic, related = np.zeros(count), np.zeros(count)
        followed_topic = np.full(count, -1, dtype=np.int64)
        related_topic = np.full(count, -1, dtype=np.int64)
    else:
        # By column, with the padding slot last. A story in one topic either follows it or
        # borrows from it, never both, so the filters below change none of these.
        columns = candidates.topic_matrix.shape[1]
        weight_of, topic_of = np.zeros(columns + 1), np.full(columns + 1, -1, dtype=np.int64)
        lent_of, lender_of = weight_of.copy(), topic_of.copy()
        for column, topic_id, weight in followed:
            weight_of[column], topic_of[column] = weight, topic_id
        lent_of[: len(lent)], lender_of[: len(lender)] = lent, lender
        # `take`: the same gather as indexing, a quarter cheaper from a short array.
        topic, followed_topic = weight_of.take(only), topic_of.take(only)
        related, related_topic = lent_of.take(only), lender_of.take(only)
        rows = candidates.several_topics
        if not len(rows):
            return topic, followed_topic, related, related_topic
        in_column = candidates.topic_matrix[rows]
        members_of = [rows[in_column[:, column]] for column in range(columns)]
    for column, topic_id, weight in followed:
        members = members_of[column]
        stronger = members[weight > topic[members]]
        topic[stronger] = weight
        followed_topic[stronger] = topic_id
    for column in np.flatnonzero(lent > 0):
        members = members_of[column]
        stronger = members[lent[column] > related[members]]
        related[stronger] = lent[column]
        related_topic[stronger] = lender[column]
    # Borrowed only by a story that no followed topic outweighs.
    if only is None:
        related = np.where(related > topic, related, 0.0)
        related_topic = np.where(related > 0, related_topic, -1)
    else:
        related[rows] = np.where(related[rows] > topic[rows], related[rows], 0.0)
        related_topic[rows] = np.where(related[rows] > 0, related_topic[rows], -1)
    return topic, followed_topic, related, related_topic


def _lent_weights(reader: Reader, candidates: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """Per topic column: the weight a topic the reader does not follow borrows from its
    affinity with one they do, and which followed topic lends it (-1 for none)."""
    topic_ids = candidates.topic_ids
    lent = np.zeros(len(topic_ids))
    lender = np.full(len(topic_ids), -1, dtype=np.int64)
    affinity = candidates.topic_affinity
    if affinity is None:
        return lent, lender
    rows = candidates.model_rows
    followed = [(t, w) for t, w in reader.topic_weights.items() if t in rows and w > 0]
    columns = [
        column
        for column, topic_id in enumerate(topic_ids.tolist())
        if topic_id not in reader.topic_weights and topic_id in rows
    ]
    if not followed or not columns:
        return lent, lender
    # Followed topic x topic column: the share each would lend; the greatest wins, the first
    # followed topic on a tie, none at all when no share is above 0.
    sources = np.array([source for source, _ in followed], dtype=np.int64)
    lending = np.array([weight for _, weight in followed], dtype=np.float64) * RELATED_TOPIC_SHARE
    shares = lending[:, None] * affinity[
        np.ix_([rows[source] for source, _ in followed], [rows[topic_ids[c]] for c in columns])
    ].astype(np.float64)
    strongest = shares.argmax(axis=0)
    best = shares[strongest, np.arange(len(columns))]
    lends = best > 0
    lent[columns] = np.where(lends, best, 0.0)
    lender[columns] = np.where(lends, sources[strongest], -1)
    return lent, lender


class _ReadSources:
    """Per candidate, the read its history part came from (-1 for none), found when asked (a
    page names the reads behind its twenty stories, not behind all 20,000): an array to
    whoever indexes it."""

    count: int

    def _source(self, row: int) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, rows):
        if np.ndim(rows) == 0:
            return self._source(int(rows))
        return np.array([self._source(int(row)) for row in np.asarray(rows).ravel()], np.int64)

    def __array__(self, dtype=None, copy=None):
        return self[np.arange(self.count)].astype(dtype or np.int64)


class HistorySources(_ReadSources):
    """For `history_similarity`: each story keeps only which topic's products gave its
    greatest similarity, and the first read with that value is looked up in that product's
    row (the same values the similarity took)."""

    def __init__(self, *, count: int, members: list[np.ndarray]) -> None:
        self.count = count
        self.column = np.full(count, -1, dtype=np.int64)  # the topic column, -1 for none
        self.members = members
        # Per topic column: the reads' positions and the stories x reads product.
        self.products: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _source(self, row: int) -> int:
        column = int(self.column[row])
        if column < 0:
            return -1
        positions, product = self.products[column]
        members = self.members[column]
        at = int(np.searchsorted(members, row))  # the pool's members are ascending
        if at >= len(members) or members[at] != row:
            at = int(np.flatnonzero(members == row)[0])
        return int(positions[int(product[at].argmax())])


def _usable_pairs(reader: Reader) -> tuple[np.ndarray, np.ndarray] | None:
    """The (read, topic column) pairs of the reads with a vector; None when there are none."""
    read_vectors = reader.read_vectors
    pair_reads, pair_columns = reader.pair_reads, reader.pair_columns
    if read_vectors is None or pair_reads is None or pair_columns is None or not len(pair_reads):
        return None
    usable = np.linalg.norm(read_vectors, axis=1) > 0
    keep = usable[pair_reads]
    if not keep.any():
        return None
    return pair_reads[keep], pair_columns[keep]


def history_similarity(
    *,
    candidates: Candidates,
    reader: Reader,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, HistorySources]:
    """Per candidate: the greatest similarity to one of the reads it shares a topic with (0
    for none), and which read that is (-1 for none; ties go to the newest, reads coming
    newest first).

    A story is "like" a read when they are in the same topic and close in content. Comparing
    each read with its own topics' stories only, rather than with every candidate, also keeps
    a 200-read profile at a twelfth of the work on a site with a dozen topics. `pairs`: the
    reader's `_usable_pairs`, when the caller has them."""
    count = len(candidates.popularity)
    best = np.zeros(count, dtype=np.float32)
    sources = HistorySources(count=count, members=candidates.topic_members)
    pairs = pairs if pairs is not None else _usable_pairs(reader)
    if pairs is None:
        return best, sources
    pair_reads, pair_columns = pairs
    for column in np.unique(pair_columns).tolist():
        positions = pair_reads[pair_columns == column]
        members = candidates.topic_members[column]
        if not len(members):
            continue
        # Stories x reads: each story's best read is then a reduction along a row.
        similarity = candidates.topic_vectors[column] @ reader.read_vectors[positions].T
        if len(positions) == 1:
            value = similarity[:, 0]
        elif len(positions) == 2:
            value = np.maximum(similarity[:, 0], similarity[:, 1])
        else:
            # Reduced along the reads as rows of the transpose (numpy reduces a few long rows
            # faster than many short ones).
            value = np.ascontiguousarray(similarity.T).max(axis=0)
        better = value > best[members]
        chosen = members[better]
        best[chosen] = value[better]
        sources.column[chosen] = column
        sources.products[column] = (positions, similarity)
    return best, sources


class _SourcesOfSome(_ReadSources):
    """For the stories compared with every read at once (`_similarity_of_some`): a story's
    read is, as `history_similarity` names it, the first read with its greatest similarity
    in the first of its topics (ascending columns) that has one."""

    def __init__(self, *, count: int, read_in_column: np.ndarray) -> None:
        self.count = count
        self.read_in_column = read_in_column  # the reads' topics: column x read
        # The same as floats, for the product telling which reads share a story's topics
        # (numpy's product of booleans does not use BLAS: eight times slower).
        self.read_in_column_float = read_in_column.astype(np.float32)
        # The stories compared (ascending rows), the topics of each, the product with the
        # reads (-inf where they share no topic).
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def _source(self, row: int) -> int:
        for rows, story_columns, products in self.blocks:
            at = int(np.searchsorted(rows, row))
            if at >= len(rows) or rows[at] != row:
                continue
            values = products[at]
            top = values.max()
            if not top > 0:
                return -1
            greatest = values == top
            for column in np.flatnonzero(story_columns[at]).tolist():
                reads = np.flatnonzero(greatest & self.read_in_column[column])
                if len(reads):
                    return int(reads[0])
        return -1


def _similarity_of_some(
    *,
    candidates: Candidates,
    reader: Reader,
    columns: np.ndarray,
    sources: _SourcesOfSome,
    rows: np.ndarray,
) -> np.ndarray:
    """`history_similarity` of the stories of `rows` (ascending), compared with every read in
    one product, the pairs that share none of the reads' topic `columns` left out: the
    greatest of the same kind of products (0 for a story in none of them)."""
    story_columns = candidates.topic_matrix[rows][:, columns]
    shared = story_columns.astype(np.float32) @ sources.read_in_column_float > 0
    products = np.where(shared, candidates.vectors[rows] @ reader.read_vectors.T, -np.inf)
    sources.blocks.append((rows, story_columns, products))
    return np.maximum(products.max(axis=1), 0).astype(np.float32)


def _history_where_it_ranks(
    *,
    candidates: Candidates,
    reader: Reader,
    ranked: Ranked,
    parts: dict[str, tuple[float, np.ndarray]],
    relevance: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    columns: np.ndarray,
) -> tuple[_SourcesOfSome, np.ndarray]:
    """The history part of the stories that can be among the best `ranked.size` of
    `ranked.rows`, into `parts` and `relevance` (which hold every score without it); with
    those stories' rows, ascending (the best `ranked.size` are among them).

    A history part adds at most its weight x HISTORY_SHARE. The best `size` scores without
    it, once their history part is added, are `size` stories at or above the least of them
    (`cut`): so the `size` best are at or above `cut` too, and a story below `cut` even with
    the greatest history part cannot be one of them. Only the stories of a read's topics
    that reach `cut` that way are compared with the reads: a few hundred of 20,000. The rest
    keep their score without history, below `cut` as their whole score is."""
    count = len(relevance)
    pair_reads, pair_columns = pairs
    read_in_column = np.zeros((len(columns), reader.read_count), dtype=bool)
    read_in_column[np.searchsorted(columns, pair_columns), pair_reads] = True
    sources = _SourcesOfSome(count=count, read_in_column=read_in_column)
    weight, history = parts["history"]

    def add_history(rows: np.ndarray) -> None:
        # A story in none of the reads' topics is like none of them: its part stays 0.
        similarity = _similarity_of_some(
            candidates=candidates, reader=reader, columns=columns, sources=sources, rows=rows
        )
        history[rows] = np.clip(similarity, 0, 1) * HISTORY_SHARE
        relevance[rows] += weight * history[rows]

    visible = ranked.rows
    without = relevance[visible]  # their scores without history (as they are read here)
    first = np.sort(visible[most_relevant(without, ranked.size)])
    add_history(first)
    # What reaches the cut with the greatest history part, less a margin far above the
    # rounding of the sums (no story at the cut is left out).
    reach = relevance[first].min() - weight * HISTORY_SHARE
    reach -= 1e-9 * (1 + abs(reach) + weight)
    # A score that compares with nothing (NaN) at the cut: every story is compared.
    within = visible if np.isnan(reach) else visible[without >= reach]
    done = np.zeros(count, dtype=bool)
    done[first] = True
    add_history(within[~done[within]])
    return sources, within
