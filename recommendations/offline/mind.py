"""MIND-format data (news.tsv + behaviors.tsv), read and checked, and each reader's reads
as protocol v2 dates them. Any problem raises MindFormatError naming the file and line."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ..vectors import article_text

NEWS_FILE = "news.tsv"
BEHAVIORS_FILE = "behaviors.tsv"
MIND_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


class MindFormatError(ValueError):
    """The files are not MIND-format data; the message says where and why."""


@dataclass(frozen=True)
class News:
    news_id: str
    category: str
    subcategory: str
    title: str
    abstract: str


@dataclass(frozen=True)
class Impression:
    """One behaviors row, keeping only the ids that are in news.tsv."""

    impression_id: str
    user_id: str
    time: datetime
    history: tuple[str, ...]
    candidates: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass
class MindData:
    news: dict[str, News]
    impressions: list[Impression]
    unknown_history: int = 0  # history ids not in news.tsv, skipped
    unknown_candidates: int = 0  # impression ids not in news.tsv, skipped


def _rows(path):
    """Each line split at tabs, as the MIND importer reads them: MIND never quotes a field,
    and unlike the csv module this has no field size limit."""
    try:
        with path.open(encoding="utf-8", newline="\n") as handle:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\r\n").split("\t")
    except UnicodeDecodeError as error:
        raise MindFormatError(f"{path.name} is not UTF-8 text: {error}") from error


def news_load(path) -> dict[str, News]:
    news: dict[str, News] = {}
    for line, row in _rows(path):
        if not row or row == [""]:
            continue
        if len(row) < 5:
            raise MindFormatError(
                f"{path.name} line {line}: expected at least 5 tab-separated columns "
                f"(id, category, subcategory, title, abstract), found {len(row)}."
            )
        news_id = row[0].strip()
        if not news_id:
            raise MindFormatError(f"{path.name} line {line}: the news id is empty.")
        news[news_id] = News(news_id, row[1], row[2], row[3], row[4])
    if not news:
        raise MindFormatError(f"{path.name} holds no news.")
    return news


def _impression(row: list[str], *, line: int, data: MindData) -> Impression:
    where = f"{BEHAVIORS_FILE} line {line}"
    if len(row) != 5:
        raise MindFormatError(
            f"{where}: expected 5 tab-separated columns (impression id, user id, time, "
            f"history, impressions), found {len(row)}."
        )
    impression_id, user_id, time_text, history_text, shown_text = row
    try:
        time = datetime.strptime(time_text.strip(), MIND_TIME_FORMAT)
    except ValueError as error:
        raise MindFormatError(
            f"{where}: time {time_text!r} is not like '11/15/2019 8:55:22 AM'."
        ) from error
    shown = shown_text.split()
    if not shown:
        raise MindFormatError(f"{where}: the impression shows no news.")
    candidates, labels = [], []
    for item in shown:
        news_id, _, label = item.rpartition("-")
        if not news_id or label not in {"0", "1"}:
            raise MindFormatError(f"{where}: {item!r} is not a news id, '-', then 0 or 1.")
        # Real MIND splits reference news the file at hand lacks: counted and skipped.
        if news_id in data.news:
            candidates.append(news_id)
            labels.append(int(label))
        else:
            data.unknown_candidates += 1
    history = []
    for news_id in history_text.split():
        if news_id in data.news:
            history.append(news_id)
        else:
            data.unknown_history += 1
    return Impression(
        impression_id, user_id, time, tuple(history), tuple(candidates), tuple(labels)
    )


def mind_load(path, *, limit: int | None = None) -> MindData:
    """Read and check a MIND folder; any problem raises MindFormatError naming file and line."""
    path = Path(path)
    if not path.is_dir():
        raise MindFormatError(f"{path} is not a folder with {NEWS_FILE} and {BEHAVIORS_FILE}.")
    for name in (NEWS_FILE, BEHAVIORS_FILE):
        if not (path / name).is_file():
            raise MindFormatError(f"{path} has no {name}.")
    data = MindData(news=news_load(path / NEWS_FILE), impressions=[])
    for line, row in _rows(path / BEHAVIORS_FILE):
        if not row or row == [""]:
            continue
        data.impressions.append(_impression(row, line=line, data=data))
        if limit is not None and len(data.impressions) >= limit:
            break
    if not data.impressions:
        raise MindFormatError(f"{BEHAVIORS_FILE} holds no impressions.")
    return data


def news_text(item: News) -> str:
    # As training reads an article: the title, then the body (here MIND's abstract); the
    # category names are words too, tying stories of one section together.
    return article_text(
        title=item.title, summary=f"{item.category} {item.subcategory}", body=item.abstract
    )


@dataclass(frozen=True)
class Read:
    news_id: str
    day: date


def reader_reads(data: MindData) -> dict[str, list[Read]]:
    """Protocol v2: each reader's distinct clicked articles in news.tsv, their history first
    (file order), then their clicked impressions (file order), all their rows merged. History
    reads fall one a day on the days before the reader's first impression, the newest on the
    day before it; an impression's clicks fall on its date."""
    history: dict[str, list[str]] = defaultdict(list)
    clicked: dict[str, list[tuple[str, date]]] = defaultdict(list)
    first: dict[str, date] = {}
    for impression in data.impressions:
        user, day = impression.user_id, impression.time.date()
        first[user] = min(first.get(user, day), day)
        history[user].extend(impression.history)
        clicked[user].extend(
            (news_id, day)
            for news_id, label in zip(impression.candidates, impression.labels, strict=True)
            if label
        )
    reads: dict[str, list[Read]] = {}
    for user in first:
        seen: set[str] = set()
        earlier = [n for n in history[user] if not (n in seen or seen.add(n))]
        dated = [
            Read(news_id, first[user] - timedelta(days=len(earlier) - position))
            for position, news_id in enumerate(earlier)
        ]
        for news_id, day in clicked[user]:
            if news_id not in seen:
                seen.add(news_id)
                dated.append(Read(news_id, day))
        reads[user] = dated
    return reads
