"""The cost of a publication to the editor and to the next reader, in-process, on the load
test's database (`python -m bench.load` creates and seeds it; run that once first).

    .venv/bin/python -m bench.pool_publish [--trials 9]

Each trial: three anonymous home pages (the pool held), a story published through
`article_publish` (timed: the editor's request), the next anonymous home page (timed: the
first page a process serves after a publication; it must show the story), one more (timed: a
page with nothing new), then the story deleted. Prints medians and ranges of wall and CPU
time. To compare two versions of the code, run it alternately in two copies of the tree."""

import argparse
import os
import statistics
import time

from bench import load
from bench.common import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=9)
    options = parser.parse_args()
    os.environ.update(load._site_environment(articles=20_000, days=14))
    setup_django(database_url=load.LOAD_DATABASE_URL)
    from django.conf import settings
    from django.test import Client

    from news.models import Article
    from news.services.articles import article_publish

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    timings: dict[str, list[tuple[float, float]]] = {"publish": [], "next page": [], "steady": []}

    def timed(name, action):
        wall, cpu = time.perf_counter(), time.process_time()
        result = action()
        timings[name].append(
            ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
        )
        return result

    for trial in range(options.trials):
        for _ in range(3):
            client.get("/")
        article = load.fresh_draft(f"pool story {trial}")
        if article is None:
            raise SystemExit("No load-test articles: run `python -m bench.load` once first.")
        timed("publish", lambda article=article: article_publish(article=article))
        page = timed("next page", lambda: client.get("/"))
        if article.title not in page.content.decode():
            raise SystemExit("The page after the publication does not show the story.")
        timed("steady", lambda: client.get("/"))
        Article.objects.filter(pk=article.pk).delete()
    for name, values in timings.items():
        walls = sorted(wall for wall, _ in values)
        cpus = sorted(cpu for _, cpu in values)
        print(
            f"{name:>10}: wall {statistics.median(walls):6.1f} ms ({walls[0]:.1f}-{walls[-1]:.1f}),"
            f" CPU {statistics.median(cpus):6.1f} ms ({cpus[0]:.1f}-{cpus[-1]:.1f})"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
