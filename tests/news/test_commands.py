"""seed_demo as someone setting up the site runs it."""

import json
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.models import User
from news.models import Article, Source, Topic
from recommendations.models import ModelVersion

pytestmark = pytest.mark.django_db


def run_seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_the_shipped_content_and_accounts(settings):
    settings.DEBUG = True
    output = run_seed()
    assert Topic.objects.count() >= 10
    assert Article.objects.published().count() >= 120
    assert all(a.topics.exists() for a in Article.objects.prefetch_related("topics"))
    editor = User.objects.get(email="editor@example.com")
    assert editor.check_password("editor-demo-pass")
    assert editor.groups.filter(name="Editors").exists()
    assert User.objects.get(email="admin@example.com").is_superuser
    assert "reader@example.com" in output and "reader-demo-pass" in output


def test_seed_demo_twice_changes_nothing():
    run_seed()
    snapshot = list(Article.objects.order_by("slug").values_list("slug", "updated_at"))
    users = list(User.objects.order_by("email").values_list("email", "password"))
    output = run_seed()
    assert list(Article.objects.order_by("slug").values_list("slug", "updated_at")) == snapshot
    assert list(User.objects.order_by("email").values_list("email", "password")) == users
    assert "0 topics and 0 articles created" in output
    assert "already existed" in output


def test_seed_demo_without_debug_prints_random_passwords(settings):
    settings.DEBUG = False
    output = run_seed()
    assert "reader-demo-pass" not in output
    assert not User.objects.get(email="reader@example.com").check_password("reader-demo-pass")


def test_seed_demo_refuses_a_broken_file_and_writes_nothing(tmp_path):
    (tmp_path / "broken.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Cannot read broken.json"):
        run_seed("--dir", str(tmp_path))
    assert not Article.objects.exists()


def test_seed_demo_refuses_an_article_with_an_unknown_topic(tmp_path):
    document = {
        "topics": [],
        "articles": [{"slug": "a", "title": "A", "summary": "s", "body": "b", "topics": ["x"]}],
    }
    (tmp_path / "one.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CommandError, match="nothing loaded: Article 'a' names unknown topics: x"):
        run_seed("--dir", str(tmp_path), "--no-accounts")
    assert not Article.objects.exists()


def test_seed_demo_on_an_empty_folder_says_so(tmp_path):
    with pytest.raises(CommandError, match="No demo content found"):
        run_seed("--dir", str(tmp_path))


def rows_seed_demo_writes() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Topic, Article, User, ModelVersion))


# The hours a fresh clone's `make test` once passed (04:25) and failed (05:25) at, and the
# edges of a day and of a year.
TIMES_OF_DAY = [
    "2026-12-02T04:25:00Z",
    "2026-12-02T05:25:00Z",
    "2026-12-02T00:00:30Z",
    "2026-12-31T23:59:30Z",
]


@pytest.mark.parametrize("when", TIMES_OF_DAY)
def test_seed_demo_in_a_folder_of_other_json_refuses_it_in_one_sentence(tmp_path, when):
    # `--dir ""` is the working folder; a package.json there once loaded as empty demo content
    # and ended in the recommender's traceback.
    (tmp_path / "package.json").write_text('{"name": "site", "version": "1.0.0"}', "utf-8")
    before = rows_seed_demo_writes()
    with time_machine.travel(when, tick=False), pytest.raises(CommandError) as refused:
        run_seed("--dir", str(tmp_path))
    message = str(refused.value)
    assert message.startswith("Cannot read package.json: it has neither 'topics' nor 'articles'")
    assert "Traceback" not in message and "\n" not in message
    assert rows_seed_demo_writes() == before


@pytest.mark.parametrize("when", TIMES_OF_DAY)
def test_seed_demo_with_nothing_to_publish_says_so_and_writes_nothing(tmp_path, when):
    document = {"topics": [{"name": "Science"}], "articles": []}
    (tmp_path / "topics.json").write_text(json.dumps(document), encoding="utf-8")
    before = rows_seed_demo_writes()
    with time_machine.travel(when, tick=False), pytest.raises(CommandError) as refused:
        run_seed("--dir", str(tmp_path))
    message = str(refused.value)
    assert message.startswith("Nothing to publish: the demo content in")
    assert "Traceback" not in message and "ValueError" not in message
    assert rows_seed_demo_writes() == before


def test_seed_demo_topics_only_are_loaded_when_no_model_is_asked_for(tmp_path):
    document = {"topics": [{"name": "Science"}]}
    (tmp_path / "topics.json").write_text(json.dumps(document), encoding="utf-8")
    output = run_seed("--dir", str(tmp_path), "--no-accounts", "--no-model")
    assert "1 topics and 0 articles created" in output
    assert list(Topic.objects.values_list("name", flat=True)) == ["Science"]


@pytest.mark.parametrize("when", [TIMES_OF_DAY[1], TIMES_OF_DAY[3]])
def test_seed_demo_publishes_and_trains_whatever_the_time_of_day(when):
    with time_machine.travel(when, tick=True):
        output = run_seed("--no-accounts")
        assert "activated" in output
        assert Article.objects.published().count() >= 120


# --- import_feed and import_mind --------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run_import(command: str, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_feed_from_a_file_twice_creates_then_skips():
    out, err = run_import("import_feed", str(FIXTURES / "feeds" / "rss.xml"), "--source", "Gazette")
    assert out.strip().endswith("Gazette: created 2, updated 0, skipped 0, errors 1")
    assert "Refused gazette-1003: The entry has no title." in err
    source = Source.objects.get(name="Gazette")
    assert not source.active  # a one-off import never starts polling by itself
    assert source.errors.count() == 1

    out, _ = run_import("import_feed", str(FIXTURES / "feeds" / "rss.xml"), "--source", "Gazette")
    assert out.strip().endswith("created 0, updated 0, skipped 2, errors 1")
    assert Article.objects.count() == 2


def test_import_feed_shows_a_progress_bar(tmp_path):
    out, _ = run_import("import_feed", str(FIXTURES / "feeds" / "atom.xml"))
    assert "Valley Science Notes" in out and "2/2" in out
    assert out.strip().endswith("created 2, updated 0, skipped 0, errors 0")


def test_import_feed_from_an_address_goes_through_the_guard(dns):
    dns["intranet.example"] = ["10.0.0.8"]
    with pytest.raises(CommandError, match="not a public address .* Nothing imported"):
        run_import("import_feed", "http://intranet.example/rss")
    assert not Source.objects.exists()


def test_import_feed_refuses_a_file_that_is_not_a_feed_and_writes_nothing(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Not a feed</p></body></html>", encoding="utf-8")
    with pytest.raises(CommandError, match="not an RSS or Atom feed.*Nothing imported"):
        run_import("import_feed", str(page), "--source", "Gazette")
    assert not Article.objects.exists()
    assert not Source.objects.exists()


def test_import_feed_refuses_a_file_over_the_size_limit(tmp_path, settings):
    settings.INGEST_MAX_BYTES = 100
    with pytest.raises(CommandError, match="over the INGEST_MAX_BYTES limit"):
        run_import("import_feed", str(FIXTURES / "feeds" / "rss.xml"))
    assert not Article.objects.exists()


def test_import_feed_says_when_the_location_is_neither_file_nor_address():
    with pytest.raises(CommandError, match="neither a readable file nor an http"):
        run_import("import_feed", "/no/such/feed.xml")


def test_import_mind_imports_good_rows_and_reports_the_malformed_one():
    out, err = run_import("import_mind", str(FIXTURES / "mind" / "news.tsv"))
    assert out.strip().endswith("news.tsv: created 3, updated 0, skipped 0, errors 2")
    assert "Refused line 4 (N1004): Expected 8 tab-separated columns, found 3." in err
    assert "Refused line 5 (N1005): The row has no title." in err
    assert set(Topic.objects.values_list("slug", flat=True)) == {"news", "sports", "food-and-drink"}
    assert not Article.objects.published().exists()  # drafts unless --publish

    out, _ = run_import("import_mind", str(FIXTURES / "mind" / "news.tsv"))
    assert out.strip().endswith("created 0, updated 0, skipped 3, errors 2")


def test_import_mind_with_publish_puts_articles_on_the_site():
    run_import("import_mind", str(FIXTURES / "mind" / "news.tsv"), "--publish")
    assert Article.objects.published().count() == 3


@pytest.mark.parametrize(
    "content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", b"a,b,c\n1,2,3\n"]
)
def test_import_mind_refuses_an_unreadable_file_and_writes_nothing(tmp_path, content):
    bad = tmp_path / "news.tsv"
    bad.write_bytes(content)
    with pytest.raises(CommandError, match="Nothing imported"):
        run_import("import_mind", str(bad))
    assert not Article.objects.exists()
    assert not Topic.objects.exists()


def test_import_mind_refuses_a_file_over_the_size_limit_and_writes_nothing(settings):
    news = FIXTURES / "mind" / "news.tsv"
    settings.MIND_IMPORT_MAX_BYTES = news.stat().st_size - 1
    with pytest.raises(CommandError, match="over the MIND_IMPORT_MAX_BYTES limit"):
        run_import("import_mind", str(news), "--publish")
    assert not Article.objects.exists()


def test_import_mind_on_a_missing_file_says_so(tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*missing.tsv"):
        run_import("import_mind", str(tmp_path / "missing.tsv"))
