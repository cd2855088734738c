"""seed_demo, import_feed and import_mind as someone running the site runs them."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
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


def run_import_refusing(command: str, *args) -> tuple[str, str, CommandError]:
    """Run an import that must end in a CommandError; its output and the error."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), refused.value


def test_import_feed_imports_the_good_entries_and_exits_2_naming_the_refused_one():
    rss = str(FIXTURES / "feeds" / "rss.xml")
    out, err, error = run_import_refusing("import_feed", rss, "--source", "Gazette")
    assert out.strip().endswith("Gazette: created 2, updated 0, skipped 0, errors 1")
    assert "Refused gazette-1003: The entry has no title." in err
    assert error.returncode == 2
    assert str(error) == (
        "Refused 1 of 3 entries, which were not imported: gazette-1003: The entry has no "
        "title. The other 2 were imported."
    )
    source = Source.objects.get(name="Gazette")
    assert not source.active  # a one-off import never starts polling by itself
    assert source.errors.count() == 1
    assert Article.objects.count() == 2

    out, _, error = run_import_refusing("import_feed", rss, "--source", "Gazette")
    assert out.strip().endswith("created 0, updated 0, skipped 2, errors 1")
    assert error.returncode == 2
    assert Article.objects.count() == 2


def test_import_feed_shows_a_progress_bar(tmp_path):
    out, _ = run_import("import_feed", str(FIXTURES / "feeds" / "atom.xml"))
    assert "Valley Science Notes" in out and "2/2" in out
    assert out.strip().endswith("created 2, updated 0, skipped 0, errors 0")


def test_import_feed_refuses_a_feed_cut_short_whole_and_writes_nothing():
    truncated = FIXTURES / "feeds" / "truncated.xml"  # rss.xml cut in its second entry
    out, err, error = run_import_refusing("import_feed", str(truncated), "--source", "Gazette")
    assert error.returncode == 1
    assert str(error) == (
        "The feed is not well-formed XML (line 20, column 85: no element found); it may have "
        "been cut short or damaged. Nothing imported."
    )
    assert not Source.objects.exists()
    assert not Article.objects.exists()
    assert "created" not in out


def test_import_feed_reads_past_flaws_every_feed_reader_forgives():
    out, err = run_import("import_feed", str(FIXTURES / "feeds" / "sloppy.xml"))
    assert "Warning: The feed has a flaw that was worked around (line 4, column 18" in err
    assert out.strip().endswith("Sloppy Weekly: created 2, updated 0, skipped 0, errors 0")
    assert Article.objects.get(external_id="sloppy-1").title == "Harbour walk reopens"


def test_a_feed_title_that_looks_like_markup_is_shown_as_text(tmp_path):
    feed = (FIXTURES / "feeds" / "atom.xml").read_bytes()
    odd = tmp_path / "odd.xml"
    odd.write_bytes(feed.replace(b"Valley Science Notes", b"Notes [/x] and [bold]more"))
    out, _ = run_import("import_feed", str(odd))
    assert "Notes [/x] and [bold]more: created 2" in out


def test_import_feed_from_a_private_address_says_how_to_import_it_from_a_file(dns):
    dns["intranet.example"] = ["10.0.0.8"]
    _, _, error = run_import_refusing("import_feed", "http://intranet.example/rss")
    message = str(error)
    assert message.startswith(
        "'intranet.example' is not a public address (10.0.0.8 is a private address). The site "
        "fetches feeds from public addresses only. To import a feed from your own network, "
        "download it yourself (for instance with curl -o feed.xml ADDRESS) and give the import "
        "the file instead of the address (python manage.py import_feed feed.xml)."
    )
    assert message.endswith("Nothing imported.")
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


def test_import_mind_imports_good_rows_and_exits_2_naming_the_malformed_ones():
    news = str(FIXTURES / "mind" / "news.tsv")
    out, err, error = run_import_refusing("import_mind", news)
    assert out.strip().endswith("news.tsv: created 3, updated 0, skipped 0, errors 2")
    assert "Refused line 4 (N1004): Expected 8 tab-separated columns, found 3." in err
    assert "Refused line 5 (N1005): The row has no title." in err
    assert error.returncode == 2
    assert str(error) == (
        "Refused 2 of 5 entries, which were not imported: line 4 (N1004): Expected 8 "
        "tab-separated columns, found 3; line 5 (N1005): The row has no title. The other 3 "
        "were imported."
    )
    assert set(Topic.objects.values_list("slug", flat=True)) == {"news", "sports", "food-and-drink"}
    assert not Article.objects.published().exists()  # drafts unless --publish

    out, _, error = run_import_refusing("import_mind", news)
    assert out.strip().endswith("created 0, updated 0, skipped 3, errors 2")
    assert error.returncode == 2


def test_import_mind_of_a_clean_file_exits_0(tmp_path):
    clean = tmp_path / "news.tsv"
    rows = (FIXTURES / "mind" / "news.tsv").read_text(encoding="utf-8").splitlines()[:3]
    clean.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out, _ = run_import("import_mind", str(clean), "--publish")
    assert out.strip().endswith("news.tsv: created 3, updated 0, skipped 0, errors 0")
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


# --- An import on a busy SQLite database (the demo's) -----------------------------------------
# The commands run in a subprocess on a SQLite file of their own, while this test holds the
# database's write lock from a second connection, as the demo's web server or worker would.

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-site")
    database = folder / "site.sqlite3"
    env = sqlite_environment(database)
    for database_name in ("keys", "default"):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", f"--database={database_name}"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    return database


def sqlite_environment(database: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "KEYS_DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
    }
    # No waiting for the lock inside SQLite: the import's own retries are what is tested.
    return env | {"DATABASE_URL": f"sqlite:///{database}", "SQLITE_TIMEOUT_SECONDS": "0"}


@pytest.fixture
def sqlite_site(migrated_sqlite, tmp_path) -> Path:
    """A copy of the migrated SQLite site (and its key store) for one test."""
    for name in (migrated_sqlite.name, migrated_sqlite.stem + "_keys.sqlite3"):
        shutil.copy(migrated_sqlite.parent / name, tmp_path / name)
    return tmp_path / migrated_sqlite.name


def sqlite_rows(database: Path, table: str) -> int:
    with closing(sqlite3.connect(database)) as reader:
        return reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def import_on_sqlite(database: Path) -> subprocess.Popen:
    atom = str(FIXTURES / "feeds" / "atom.xml")
    return subprocess.Popen(
        [sys.executable, "manage.py", "import_feed", atom, "--source", "Valley"],
        cwd=ROOT,
        env=sqlite_environment(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_an_import_retries_while_sqlite_is_locked_and_then_imports_everything(sqlite_site):
    writer = sqlite3.connect(sqlite_site, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another program writing: the lock is taken
    process = import_on_sqlite(sqlite_site)
    said = []
    for line in process.stderr:
        said.append(line)
        if "database is busy" in line:
            writer.execute("ROLLBACK")  # the other program is done
            break
    out, err = process.communicate(timeout=120)
    writer.close()

    assert process.returncode == 0, "".join(said) + err
    assert "The database is busy (database is locked); nothing kept so far. Starting the " in (
        "".join(said)
    )
    assert out.strip().endswith("Valley: created 2, updated 0, skipped 0, errors 0")
    assert sqlite_rows(sqlite_site, "news_article") == 2


@pytest.mark.slow
def test_an_import_on_sqlite_locked_throughout_fails_loudly_and_keeps_nothing(sqlite_site):
    with closing(sqlite3.connect(sqlite_site, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        process = import_on_sqlite(sqlite_site)
        out, err = process.communicate(timeout=120)
        writer.execute("ROLLBACK")

    assert process.returncode == 1
    assert err.count("Starting the import again") == 5
    assert (
        "CommandError: The database stayed busy (database is locked) through 6 attempts: another "
        "program is writing to it. Nothing imported; run the import again once it is done."
    ) in err
    assert "created" not in out
    assert sqlite_rows(sqlite_site, "news_article") == 0
    assert sqlite_rows(sqlite_site, "news_source") == 0
