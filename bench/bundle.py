"""Private mode's public candidate bundle at 2,000 candidates: its size (raw and gzip), how
long a build takes, how long the browser's ranking takes on it, and how far the int8 vectors
move a reader's front page from the server's float ranking.

`python -m bench.bundle [--news ../shared/mind-dev/news.tsv] [--candidates 2000]
[--readers 200] [--repeat 5] [--components 128] [--database-url URL]`: loads real stories
(MIND's titles and abstracts, its categories as topics) published over the last ten days into
a dedicated database, releases a week of DP counts, trains the model (TF-IDF + SVD,
--components dimensions, the site's setting by default; that model serves even if the one
before scored better), then times `bundle_build` (a fresh candidate pool each time, as after
a catalogue change), measures the served bytes and what each part of the bundle costs,
runs static/privatemode/ranking.js under node on the bundle, and ranks simulated readers
(1-3 followed topics, 0-20 reads) from the int8 bundle and from the float pool with the same
Python code, and in node. Target: <= 300 KB gzip-compressed, build < 2 s.
"""

import argparse
import csv
import gzip
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import machine, machine_pace, setup_django

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "bundlebench-"
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/newsite_bench_bundle"


def _load(news: Path, count: int) -> None:
    from django.utils import timezone
    from django.utils.text import slugify

    from news.models import Article, Topic

    if Article.objects.filter(slug__startswith=PREFIX).count() == count:
        return
    Article.objects.filter(slug__startswith=PREFIX).delete()
    with news.open(encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t") if len(row) >= 5][:count]
    rng = random.Random(2026)
    now = timezone.now()
    topics = {}
    for category in sorted({row[1] for row in rows}):
        topics[category] = Topic.objects.get_or_create(
            slug=f"{PREFIX}{category}", defaults={"name": category.replace("_", " ").title()}
        )[0]
    articles = Article.objects.bulk_create(
        Article(
            slug=f"{PREFIX}{index}-{slugify(row[3])[:60]}",
            title=row[3][:300],
            summary=row[4][:400],
            body=row[4] or row[3],
            status=Article.Status.PUBLISHED,
            published_at=now - timedelta(minutes=rng.uniform(5, 10 * 24 * 60)),
            editors_pick_until=now + timedelta(days=1) if rng.random() < 0.005 else None,
        )
        for index, row in enumerate(rows)
    )
    through = Article.topics.through
    through.objects.bulk_create(
        through(article_id=article.pk, topic_id=topics[row[1]].pk)
        for article, row in zip(articles, rows, strict=True)
    )


def _release_week() -> None:
    from django.utils import timezone

    from news.models import Article
    from privacy.models import AggregateSignal, PrivacyBudgetLedger

    rng = random.Random(7)
    today = timezone.localdate()
    AggregateSignal.objects.all().delete()
    PrivacyBudgetLedger.objects.all().delete()
    ids = list(Article.objects.filter(slug__startswith=PREFIX).values_list("pk", flat=True))
    for back in range(1, 8):
        day = today - timedelta(days=back)
        # A few hits and a long tail, as real days are.
        AggregateSignal.objects.bulk_create(
            AggregateSignal(
                day=day, kind="article", article_id=a, noisy_count=int(rng.paretovariate(1.2))
            )
            for a in rng.sample(ids, min(len(ids), 600))
        )
        PrivacyBudgetLedger.objects.create(
            day=day,
            query="reads_per_article",
            epsilon=0.9,
            mechanism="discrete Laplace",
            contribution_bound=1,
            noise_scale=1 / 0.9,
        )


def _float_bundle(decoded, pool):
    """The same bundle, with the pool's own float arrays instead of the int8 ones."""
    from dataclasses import replace

    pool_rows = pool.rows_of(decoded.ids)
    assert (pool_rows >= 0).all()
    candidates = decoded.candidates
    float_candidates = type(candidates)(
        vectors=pool.vectors[pool_rows].astype("float64"),
        topic_ids=candidates.topic_ids,
        topic_matrix=candidates.topic_matrix,
        popularity=candidates.popularity,
        centroid_closeness=pool.vectors[pool_rows].astype("float64")
        @ pool.loaded.model.topic_centroids.astype("float64").T,
        model_topic_ids=candidates.model_topic_ids,
        topic_centroids=pool.loaded.model.topic_centroids.astype("float64"),
        topic_affinity=pool.loaded.model.topic_affinity,
    )
    return replace(decoded, candidates=float_candidates)


def _readers(decoded, count: int, now: float) -> list[dict]:
    """Simulated readers: 1-3 followed topics (by name, as browsers list them), 0-20 reads
    among their stories, newest first."""
    rng = random.Random(11)
    topic_ids = sorted(decoded.topic_names)
    members = {int(t): [] for t in topic_ids}
    for row, article_id in enumerate(decoded.ids):
        for column in decoded.candidates.topic_matrix[row].nonzero()[0]:
            members[int(decoded.candidates.topic_ids[column])].append(int(article_id))
    readers = []
    for _ in range(count):
        followed = rng.sample([t for t in topic_ids if members[t]], rng.randint(1, 3))
        topics = sorted(((t, 1.0) for t in followed), key=lambda t: decoded.topic_names[t[0]])
        pickable = [a for t in followed for a in members[t]]
        opened = rng.sample(pickable, min(len(pickable), rng.randint(0, 20)))
        reads = [(a, now - 3600 * (k + 1)) for k, a in enumerate(opened)]
        readers.append({"topics": topics, "reads": reads})
    return readers


def _agreement(decoded, pool, readers: list[dict], now: float) -> dict:
    """Front pages of simulated readers from the int8 bundle and from float vectors."""
    from privatemode.bundle import bundle_feed

    exact = _float_bundle(decoded, pool)
    page = decoded.constants["page_size"]
    same_order = same_top10 = 0
    overlaps, moved, same_reason = [], [], []
    for reader in readers:
        kwargs = {**reader, "now": now, "stop": page}
        quantized = [(s.id, s.sentence) for s in bundle_feed(decoded, **kwargs)]
        reference = [(s.id, s.sentence) for s in bundle_feed(exact, **kwargs)]
        same_order += quantized == reference
        same_top10 += quantized[:10] == reference[:10]
        ids_q, ids_r = [s[0] for s in quantized], [s[0] for s in reference]
        overlaps.append(len(set(ids_q) & set(ids_r)) / page)
        place = {a: i for i, a in enumerate(ids_r)}
        moved.append(max((abs(i - place[a]) for i, a in enumerate(ids_q) if a in place), default=0))
        same_reason.append(len(set(quantized) & set(reference)) / page)
    count = len(readers)
    return {
        "readers": count,
        "first_page_identical": round(same_order / count, 3),
        "first_ten_identical": round(same_top10 / count, 3),
        "first_page_overlap_mean": round(statistics.mean(overlaps), 4),
        "first_page_overlap_min": round(min(overlaps), 3),
        "largest_move_median": statistics.median(moved),
        "same_story_and_reason_mean": round(statistics.mean(same_reason), 4),
    }


def _node(script: str, payload: dict) -> dict | list | None:
    """Run an ES module under node with `payload` as JSON on its standard input; None when
    node is not installed."""
    node = shutil.which("node")
    if node is None:
        return None
    ranking = json.dumps((ROOT / "static/privatemode/ranking.js").as_uri())
    with tempfile.NamedTemporaryFile("w", suffix=".mjs", delete=False) as handle:
        handle.write(
            'import { readFileSync } from "node:fs";\n'
            f"const m = await import({ranking});\n"
            'const input = JSON.parse(readFileSync(0, "utf8"));\n' + script
        )
    try:
        result = subprocess.run(
            [node, handle.name],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(handle.name).unlink()
    return json.loads(result.stdout)


def _browser_ranking_ms(bundle: dict, now: float) -> dict:
    """ranking.js under node on this bundle: decoding it, then one reader's first page."""
    topic = bundle["topics"][0][0]
    script = f"""
const raw = input;
let t = performance.now(); const b = m.decodeBundle(raw); const decode = performance.now() - t;
const times = [];
for (let i = 0; i < 5; i++) {{
  t = performance.now();
  m.rankFeed(b, {{topics: [[{topic}, 1.0]], blocked: [], reads: [{{id: raw.articles[3][0],
    at: {now} - 3600}}]}}, {{now: {now}, stop: 20}});
  times.push(performance.now() - t);
}}
times.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({{decode_ms: decode, rank_ms: times[2]}}));
"""
    result = _node(script, bundle)
    if result is None:
        return {"node": "not installed"}
    return {k: round(v, 1) for k, v in result.items()}


def _browser_equivalence(bundle: dict, decoded, readers: list[dict], now: float) -> dict:
    """Each simulated reader's first page as ranking.js ranks it (node) against the Python
    scoring of the same bundle (`bundle_feed`): stories, order and reasons."""
    from privatemode.bundle import bundle_feed

    page = decoded.constants["page_size"]
    script = """
const b = m.decodeBundle(input.bundle);
const pages = input.readers.map((r) => m.rankFeed(
  b,
  { topics: r.topics, blocked: [], reads: r.reads.map(([id, at]) => ({ id, at })) },
  { now: input.now, stop: input.stop },
).map((s) => [s.id, s.kind, s.sentence]));
process.stdout.write(JSON.stringify(pages));
"""
    payload = {"bundle": bundle, "readers": readers, "now": now, "stop": page}
    in_browser = _node(script, payload)
    if in_browser is None:
        return {"node": "not installed"}
    same = 0
    for reader, ranked in zip(readers, in_browser, strict=True):
        expected = bundle_feed(decoded, **reader, now=now, stop=page)
        same += [tuple(s) for s in ranked] == [(s.id, s.kind, s.sentence) for s in expected]
    return {"readers": len(readers), "first_page_identical": round(same / len(readers), 3)}


def _gzip_kb(value) -> float:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return round(len(gzip.compress(text, 9, mtime=0)) / 1024, 1)


def _breakdown(bundle: dict) -> dict:
    """gzip KB of each part compressed alone (together they compress a little better)."""
    fields = bundle["article_fields"]
    parts = {"vectors": _gzip_kb(bundle["vectors"])}
    for name in fields:
        parts[name] = _gzip_kb([row[fields.index(name)] for row in bundle["articles"]])
    parts["everything else"] = _gzip_kb(
        {k: v for k, v in bundle.items() if k not in ("vectors", "articles")}
    )
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, default=ROOT.parent / "shared/mind-dev/news.tsv")
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--components", type=int, help="SVD dimensions of the model (default: the setting)."
    )
    parser.add_argument("--database-url", default=DATABASE_URL, help="Its own database.")
    args = parser.parse_args()
    if not args.news.exists():
        sys.exit(f"No MIND news file at {args.news} (--news PATH).")
    setup_django(database_url=args.database_url)

    from django.conf import settings
    from django.urls import get_resolver
    from django.utils import timezone

    from privatemode.bundle import bundle_decode
    from privatemode.services import bundle_build, bundle_bytes
    from recommendations.active import active_model
    from recommendations.feed.pool import candidate_pool
    from recommendations.models import ModelVersion
    from recommendations.services import model_activate, model_retrain

    settings.RECOMMENDER_MAX_CANDIDATES = max(settings.RECOMMENDER_MAX_CANDIDATES, args.candidates)
    if args.components:
        settings.RECOMMENDER_SVD_COMPONENTS = args.components
    _load(args.news, args.candidates)
    _release_week()
    retrain = model_retrain()
    if retrain.version is not None and not retrain.activated:
        # A model of other dimensions may check worse than the one serving from an earlier
        # run: this measures the bundle of the model just trained, so it serves.
        model_activate(version=ModelVersion.objects.get(version=retrain.version))
    # A running server has its URL conf loaded before it builds a bundle; this process not yet.
    get_resolver().url_patterns  # noqa: B018
    builds, bundle = [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        bundle = bundle_build()
        builds.append(time.perf_counter() - start)
    body = bundle_bytes(bundle)
    compressed = gzip.compress(body, compresslevel=9, mtime=0)
    now = timezone.now().timestamp()
    decoded = bundle_decode(bundle)
    pool = candidate_pool(loaded=active_model(), now=timezone.now())
    readers = _readers(decoded, args.readers, now)
    summary = {
        "machine": machine(),
        "machine_pace_s": machine_pace(),
        "candidates": len(bundle["articles"]),
        "topics": len(bundle["topics"]),
        "dimensions": bundle["vectors"]["dimensions"],
        "model_version": bundle["model_version"],
        "retrain": f"{retrain.status}, activated: {retrain.activated}; {retrain.problems}",
        "topic_agreement": ModelVersion.objects.get(version=bundle["model_version"]).metrics.get(
            "topic_agreement"
        ),
        "build_s_median": round(statistics.median(builds), 3),
        "build_s_first": round(builds[0], 3),
        "build_s_max": round(max(builds), 3),
        "raw_kb": round(len(body) / 1024, 1),
        "gzip_kb": round(len(compressed) / 1024, 1),
        "gzip_kb_parts": _breakdown(bundle),
        "fields": sorted(bundle),
        "browser": _browser_ranking_ms(bundle, now),
        "browser_vs_python": _browser_equivalence(bundle, decoded, readers, now),
        "int8_vs_float": _agreement(decoded, pool, readers, now),
    }
    for key, value in summary.items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
