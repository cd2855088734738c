"""Synthetic readers of the demo corpus, in MIND's shape, for `evaluate_recommender
--synthetic`: each reader prefers one or two topics, and some stories appeal to everyone more
than others, so both personalisation and popularity carry signal. Seeded: same seed, same
clicks. No real person's data is involved."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .evaluation import Impression, MindData, News

DEMO_DIR = Path(__file__).resolve().parent.parent / "news" / "fixtures" / "demo"
START = datetime(2019, 11, 9)
DAYS = 7
HISTORY = 4  # reads before the first day, all in the reader's topics
SHOWN = 10  # stories per impression
VISIT_CHANCE = 0.6  # a reader comes on a given day
PREFERRED_CLICK = 0.35  # chance of a click on a story of average appeal in their topics
OTHER_CLICK = 0.03  # and elsewhere


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


def synthetic_readers(news: dict[str, News], *, readers: int = 500, seed: int = 0) -> MindData:
    """Readers with 1-2 preferred topics and a short history in them, then up to one
    impression a day for a week; a click's chance is their topic preference times the story's
    appeal (log-normal, the same for everyone)."""
    rng = np.random.default_rng(seed)
    ids = list(news)
    categories = np.array([news[n].category for n in ids])
    topics = sorted(set(categories))
    appeal = rng.lognormal(mean=0.0, sigma=0.8, size=len(ids))
    appeal /= appeal.mean()
    impressions: list[Impression] = []
    for reader in range(readers):
        liked = rng.choice(topics, size=int(rng.integers(1, 3)), replace=False)
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
            shown = rng.choice(len(ids), size=SHOWN, replace=False)
            labels = tuple(int(rng.random() < chance[i]) for i in shown)
            when = START + timedelta(days=day, seconds=int(rng.integers(0, 86_400)))
            impressions.append(
                Impression(
                    impression_id=str(len(impressions) + 1),
                    user_id=f"S{reader}",
                    time=when,
                    history=history,
                    candidates=tuple(ids[i] for i in shown),
                    labels=labels,
                )
            )
    # MIND's files are in time order.
    impressions.sort(key=lambda i: i.time)
    return MindData(news=news, impressions=impressions)
