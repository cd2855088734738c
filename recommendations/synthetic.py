"""Synthetic readers of the demo corpus, in MIND's shape, for `evaluate_recommender
--synthetic`: each reader prefers one or two topics, and some stories appeal to everyone more
than others, so both personalisation and popularity carry signal. `sparse_catalogue` grows the
corpus to thousands of stories with a long-tail appeal, so that, as on MIND, most stories get
few clicks a day. Seeded: same seed, same clicks. No real person's data is involved."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .offline.mind import Impression, MindData, News

DEMO_DIR = Path(__file__).resolve().parent.parent / "news" / "fixtures" / "demo"
START = datetime(2019, 11, 9)
DAYS = 7
HISTORY = 4  # reads before the first day, all in the reader's topics
SHOWN = 10  # stories per impression
VISIT_CHANCE = 0.6  # a reader comes on a given day
PREFERRED_CLICK = 0.35  # chance of a click on a story of average appeal in their topics
OTHER_CLICK = 0.03  # and elsewhere
APPEALS = ("lognormal", "zipf")
# Zipf's exponent for the long tail: the k-th most appealing story draws 1/k of the top one's
# clicks, as news readership roughly does.
ZIPF_EXPONENT = 1.0
SPARSE_SENTENCES = 3  # sentences per generated story's abstract
SPARSE_SHOWN = 30  # MIND's impressions list about 37 stories; more shown, more clicks to count


def demo_news(folder: Path = DEMO_DIR) -> dict[str, News]:
    """The demo articles as MIND news: topic = first topic, abstract = summary and body."""
    news: dict[str, News] = {}
    for part in sorted(folder.glob("*.json")):
        for article in json.loads(part.read_text(encoding="utf-8"))["articles"]:
            topics = article["topics"] or ["general"]
            news[article["slug"]] = News(
                news_id=article["slug"],
                category=topics[0],
                subcategory=topics[1] if len(topics) > 1 else "",
                title=article["title"],
                abstract=f"{article['summary']} {article['body']}",
            )
    return news


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+", text) if len(part.split()) >= 4]


def sparse_catalogue(news: dict[str, News], *, articles: int, seed: int = 0) -> dict[str, News]:
    """`articles` stories made from the demo corpus's words: each takes a demo article's topic
    and subcategory (topics keep their demo proportions), a title and an abstract of sentences
    drawn from that topic's articles, so content similarity still follows topics."""
    if articles < 1:
        raise ValueError(f"A catalogue needs at least 1 article, not {articles}.")
    rng = np.random.default_rng(seed)
    bases = list(news.values())
    pools: dict[str, list[str]] = {}
    for item in bases:
        pools.setdefault(item.category, []).extend(_sentences(f"{item.title}. {item.abstract}"))
    catalogue: dict[str, News] = {}
    for number, base in enumerate(rng.choice(len(bases), size=articles), 1):
        item = bases[base]
        pool = pools[item.category] or [item.title]
        picked = rng.choice(len(pool), size=min(SPARSE_SENTENCES + 1, len(pool)), replace=False)
        title, *body = (pool[i] for i in picked)
        news_id = f"G{number}"
        catalogue[news_id] = News(
            news_id=news_id,
            category=item.category,
            subcategory=item.subcategory,
            title=" ".join(title.split()[:12]),
            abstract=" ".join(body),
        )
    return catalogue


def _appeal(rng: np.random.Generator, count: int, kind: str) -> np.ndarray:
    """Each story's appeal to everyone, mean 1: log-normal (a moderate spread) or Zipf (a long
    tail: a few hits, most stories rarely clicked), in a random order of stories."""
    if kind not in APPEALS:
        raise ValueError(f"Appeal must be one of {', '.join(APPEALS)}, not {kind!r}.")
    if kind == "lognormal":
        appeal = rng.lognormal(mean=0.0, sigma=0.8, size=count)
    else:
        appeal = 1.0 / np.arange(1, count + 1) ** ZIPF_EXPONENT
        rng.shuffle(appeal)
    return appeal / appeal.mean()


def synthetic_readers(
    news: dict[str, News],
    *,
    readers: int = 500,
    seed: int = 0,
    appeal: str = "lognormal",
    shown: int = SHOWN,
) -> MindData:
    """Readers with 1-2 preferred topics and a short history in them, then up to one
    impression a day for a week; a click's chance is their topic preference times the story's
    appeal (the same for everyone; `appeal` says how it is spread)."""
    rng = np.random.default_rng(seed)
    ids = list(news)
    categories = np.array([news[n].category for n in ids])
    topics = sorted(set(categories))
    appeal = _appeal(rng, len(ids), appeal)
    impressions: list[Impression] = []
    for reader in range(readers):
        liked = rng.choice(topics, size=min(int(rng.integers(1, 3)), len(topics)), replace=False)
        preferred = np.isin(categories, liked)
        pool = np.flatnonzero(preferred)
        weights = appeal[pool] / appeal[pool].sum()
        history = tuple(
            ids[i] for i in rng.choice(pool, size=min(HISTORY, len(pool)), replace=False, p=weights)
        )
        chance = np.clip(np.where(preferred, PREFERRED_CLICK, OTHER_CLICK) * appeal, 0, 0.95)
        for day in range(DAYS):
            if rng.random() >= VISIT_CHANCE:
                continue
            picked = rng.choice(len(ids), size=min(shown, len(ids)), replace=False)
            labels = tuple(int(rng.random() < chance[i]) for i in picked)
            when = START + timedelta(days=day, seconds=int(rng.integers(0, 86_400)))
            impressions.append(
                Impression(
                    impression_id=str(len(impressions) + 1),
                    user_id=f"S{reader}",
                    time=when,
                    history=history,
                    candidates=tuple(ids[i] for i in picked),
                    labels=labels,
                )
            )
    # MIND's files are in time order.
    impressions.sort(key=lambda i: i.time)
    return MindData(news=news, impressions=impressions)


def synthetic_data(*, readers: int, seed: int = 0, articles: int | None = None) -> MindData:
    """Synthetic readers of the demo corpus, or with `articles`, of a sparse MIND-like
    catalogue of that many stories: Zipf appeal and MIND-sized impressions."""
    if articles is None:
        return synthetic_readers(demo_news(), readers=readers, seed=seed)
    catalogue = sparse_catalogue(demo_news(), articles=articles, seed=seed)
    return synthetic_readers(
        catalogue, readers=readers, seed=seed, appeal="zipf", shown=SPARSE_SHOWN
    )
