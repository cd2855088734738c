"""A reader's reads kept sealed in the shared cache: pages computed while their history is
unchanged read no history rows, and any change (a read written, an entry or the whole history
erased, the account erased) is on the next page, never hidden by a copy or a kept page made
before it."""

import math
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Preferences
from news.models import Article
from privacy import history_kept
from privacy.crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    data_key_destroy,
    decrypt_for_user,
    encrypt_for_user,
)
from privacy.erasure import CONFIRMATION_WORD, account_erase
from privacy.history_kept import (
    READS_KEPT_CONTEXT,
    ReadsAsked,
    history_reads_changed,
    history_reads_kept,
    history_reads_kept_rows,
    reads_kept_keys,
)
from privacy.models import ReadingHistoryEntry
from privacy.registry import category
from privacy.selectors import history_reads_for_user
from privacy.services import history_clear, history_entry_delete, read_store
from recommendations.services import model_retrain
from tests.conftest import redis_cache_settings
from tests.factories import DEFAULT_PASSWORD, ReaderFactory
from tests.recommendations.conftest import (  # noqa: F401 (newsroom: a fixture)
    cards,
    follow,
    newsroom,
    titles_on,
)

pytestmark = pytest.mark.django_db

HISTORY_TABLE = ReadingHistoryEntry._meta.db_table
LIMIT = 1_000


@pytest.fixture(autouse=True)
def shared_cache(settings):
    settings.CACHES = redis_cache_settings("test-history-kept")
    # Every home page computed, as page 2 or an expired kept page is.
    settings.FEED_READER_CACHE_SECONDS = 0
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def room(newsroom):  # noqa: F811 (the fixture's value)
    """Three topics of three stories each (tests.recommendations.conftest)."""
    return newsroom


@pytest.fixture
def reader(client, room, django_capture_on_commit_callbacks):
    """A reader following Space at "Topics + reading history" who read two food stories,
    all published three days ago (so freshness does not give every reason)."""
    Article.objects.update(published_at=timezone.now() - timedelta(days=3))
    model_retrain()
    reader = follow(ReaderFactory(), room.topics["space"], level=Preferences.Level.TOPICS_HISTORY)
    for days, story in ((2, room.stories["food"][0]), (1, room.stories["food"][1])):
        with django_capture_on_commit_callbacks(execute=True):
            read_store(
                user_id=reader.pk,
                article_id=story.pk,
                read_at=(timezone.now() - timedelta(days=days)).isoformat(),
            )
    client.force_login(reader)
    return reader


@pytest.fixture
def erased_after_its_rows(monkeypatch, django_capture_on_commit_callbacks):
    """A block in which the reader's history is cleared (and announced) right after their
    rows are read, before a copy of them could be stored."""

    def rows_then_erasure(*, user, **asked):
        rows = history_reads_for_user(user=user, **asked)
        with django_capture_on_commit_callbacks(execute=True):
            history_clear(user=user)
        return rows

    @contextmanager
    def block():
        with monkeypatch.context() as patched:
            patched.setattr(history_kept, "history_reads_for_user", rows_then_erasure)
            yield

    return block


@pytest.fixture
def write_read(reader, django_capture_on_commit_callbacks):
    """One read of the reader's written as the read queue's worker writes it, with what the
    write runs after its commit."""

    def write(story, *, read_at=None):
        with django_capture_on_commit_callbacks(execute=True):
            read_store(
                user_id=reader.pk,
                article_id=story.pk,
                read_at=(read_at or timezone.now()).isoformat(),
            )

    return write


def home(client) -> tuple[str, list[str]]:
    """The home page's cards, and the queries of the reader's history it ran."""
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("news:home")).content.decode()
    return "".join(cards(html)), [q["sql"] for q in queries if HISTORY_TABLE in q["sql"]]


def test_pages_use_the_sealed_copy_while_the_history_is_unchanged(client, room, reader):
    first, read_rows = home(client)
    assert read_rows  # read, and kept under the token their last write set
    assert cache.get(reads_kept_keys(reader.pk)[0]) is not None
    second, read_rows = home(client)
    third, more_rows = home(client)
    assert read_rows == more_rows == [] and second == third == first  # from the copy
    assert "Because you read" in first
    for read in room.stories["food"][:2]:
        assert read.title not in titles_on(first)

    # Sealed: it opens only as this reader's kept reads.
    copy = cache.get(reads_kept_keys(reader.pk)[0])
    reads = decrypt_for_user(user_id=reader.pk, ciphertext=copy, context=READS_KEPT_CONTEXT)
    assert "token" in reads and b"token" not in copy
    other = ReaderFactory()
    encrypt_for_user(user=other, plaintext="a key of their own", context="test")
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=other.pk, ciphertext=copy, context=READS_KEPT_CONTEXT)


def test_a_read_written_remakes_the_copy_its_reader_was_using(client, room, reader, write_read):
    home(client)
    copy_key, token_key = reads_kept_keys(reader.pk)
    old_token = cache.get(token_key)
    rocket = room.stories["space"][0]
    page, read_rows = home(client)
    assert rocket.title in titles_on(page) and read_rows == []
    write_read(rocket)
    # Made again by the write, under the token the write moved: the next page reads no rows
    # and leaves the story out.
    assert cache.get(token_key) != old_token
    page, read_rows = home(client)
    assert read_rows == [] and rocket.title not in titles_on(page)
    found = cache.get_many([copy_key, token_key])
    assert history_reads_kept(
        user=reader, asked=ReadsAsked(limit=LIMIT), found=found
    ) == history_reads_for_user(user=reader, limit=LIMIT)


def test_a_read_written_makes_no_copy_for_a_reader_without_one(room, reader, write_read):
    copy_key, _ = reads_kept_keys(reader.pk)
    assert cache.get(copy_key) is None
    write_read(room.stories["space"][0])
    assert cache.get(copy_key) is None


@pytest.mark.parametrize("erase", ["whole history", "one entry", "the category"])
def test_an_erased_read_never_shapes_a_page_again(
    client, room, reader, erase, django_capture_on_commit_callbacks
):
    home(client), home(client)
    assert "Because you read" in home(client)[0]
    copy_key = reads_kept_keys(reader.pk)[0]
    assert cache.get(copy_key) is not None
    with django_capture_on_commit_callbacks(execute=True):
        if erase == "whole history":
            history_clear(user=reader)
        elif erase == "one entry":
            for entry in ReadingHistoryEntry.objects.filter(user=reader):
                history_entry_delete(user=reader, entry_id=entry.pk)
        else:
            client.post(reverse("privacy:category_erase", kwargs={"key": "reading_history"}))
    assert cache.get(copy_key) is None  # gone at once, not left to expire
    for _ in range(3):
        page, _ = home(client)
        assert "Because you read" not in page


@pytest.mark.parametrize("shared", ["redis", "another cache"])
def test_a_copy_made_from_rows_read_before_a_change_is_never_used(
    reader, shared, settings, erased_after_its_rows
):
    if shared == "another cache":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found={})  # sets the token
    found = cache.get_many(reads_kept_keys(reader.pk))
    assert found.get(reads_kept_keys(reader.pk)[1]) is not None

    with erased_after_its_rows():
        assert len(history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found=found)) == 2
    assert cache.get(reads_kept_keys(reader.pk)[0]) is None
    fresh = cache.get_many(reads_kept_keys(reader.pk))
    assert history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found=fresh) == []


def test_a_copy_holds_only_what_it_was_made_for(reader):
    history_reads_kept(user=reader, asked=ReadsAsked(limit=1), found={})
    found = cache.get_many(reads_kept_keys(reader.pk))
    assert (
        len(history_reads_kept(user=reader, asked=ReadsAsked(limit=1), found=found)) == 1
    )  # made, 1 read
    found = cache.get_many(reads_kept_keys(reader.pk))
    with CaptureQueriesContext(connection) as queries:
        kept = history_reads_kept(user=reader, asked=ReadsAsked(limit=1), found=found)
    assert kept == history_reads_for_user(user=reader, limit=1)
    assert not [q for q in queries if HISTORY_TABLE in q["sql"]]
    # Asked for more than it was made with, it may miss reads: the database answers.
    with CaptureQueriesContext(connection) as queries:
        kept = history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found=found)
    assert [q for q in queries if HISTORY_TABLE in q["sql"]]
    assert kept == history_reads_for_user(user=reader, limit=LIMIT) and len(kept) == 2


def test_a_planted_or_damaged_copy_is_never_used(client, room, reader):
    home(client), home(client)
    expected, _ = home(client)
    other = follow(ReaderFactory(), room.topics["food"], level=reader.preferences.level)
    client.force_login(other)
    home(client), home(client)
    copy_key, _ = reads_kept_keys(reader.pk)
    # Another reader's copy planted under this reader's key, then a damaged one.
    for planted in (cache.get(reads_kept_keys(other.pk)[0]), b"\x01" + b"x" * 60):
        cache.set(copy_key, planted, 60)
        client.force_login(reader)
        page, read_rows = home(client)
        assert read_rows and page == expected


def test_the_copy_is_in_the_readers_data_and_goes_with_the_account(
    client, reader, django_capture_on_commit_callbacks
):
    home(client), home(client)
    rows = category("history_reads_kept").rows_for(user=reader)
    assert sorted(row["article_id"] for row in rows) == sorted(
        read.article_id for read in history_reads_for_user(user=reader)
    )
    html = client.get(reverse("privacy:what_we_collect")).content.decode()
    assert "Your latest reads, kept briefly for your front page" in html
    assert "600 seconds at most" in html

    with django_capture_on_commit_callbacks(execute=True):
        account_erase(user=reader, password=DEFAULT_PASSWORD, confirmation=CONFIRMATION_WORD)
    assert cache.get(reads_kept_keys(reader.pk)[0]) is None
    assert history_reads_kept_rows(user=reader) == []


def test_with_the_data_key_destroyed_the_copy_is_noise(client, reader):
    home(client), home(client)
    copy = cache.get(reads_kept_keys(reader.pk)[0])
    data_key_destroy(user_id=reader.pk)
    assert history_reads_kept_rows(user=reader) == []
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=reader.pk, ciphertext=copy, context=READS_KEPT_CONTEXT)


def test_a_kept_first_page_is_stored_with_the_copy_its_reads_left(
    client, reader, settings, erased_after_its_rows
):
    settings.FEED_READER_CACHE_SECONDS = 60
    copy_key = reads_kept_keys(reader.pk)[0]
    first, read_rows = home(client)
    assert read_rows and cache.get(f"feed:reader:{reader.pk}") is not None
    assert cache.get(copy_key) is not None  # stored with the page
    cache.delete(f"feed:reader:{reader.pk}")  # past its minute
    again, read_rows = home(client)
    assert read_rows == [] and again == first  # computed again from the copy

    # A change between the rows' query and the page's store: the page is kept as before,
    # its copy is not.
    cache.delete_many([f"feed:reader:{reader.pk}", copy_key])

    with erased_after_its_rows():
        home(client)
    assert cache.get(copy_key) is None


def test_a_page_kept_from_rows_read_before_an_erasure_is_never_served(
    client, reader, settings, erased_after_its_rows
):
    settings.FEED_READER_CACHE_SECONDS = 60
    cache.delete_many(list(reads_kept_keys(reader.pk)))  # no copy: the page reads the rows
    home(client)
    cache.delete(f"feed:reader:{reader.pk}")
    # The history is erased after the page read its rows and before it is kept: the page is
    # stored (the erasure's deletion came first), but not served.
    with erased_after_its_rows():
        page, _ = home(client)
    assert "Because you read" in page  # ranked from the rows it read, as it was asked
    page, read_rows = home(client)
    assert "Because you read" not in page


def test_a_read_written_twice_is_in_the_copy_once(client, room, reader, write_read):
    home(client)
    rocket, moment = room.stories["space"][0], timezone.now()
    for _ in range(2):  # a redelivered task
        write_read(rocket, read_at=moment)
    found = cache.get_many(list(reads_kept_keys(reader.pk)))
    kept = history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found=found)
    assert kept == history_reads_for_user(user=reader, limit=LIMIT) and len(kept) == 3


def test_a_change_while_a_read_is_written_leaves_no_copy(
    client, room, reader, write_read, monkeypatch
):
    home(client)
    copy_key = reads_kept_keys(reader.pk)[0]
    assert cache.get(copy_key) is not None

    def erased_meanwhile(*, user, read_at):
        # The whole history is erased, committed and announced between the write and the
        # copy's update (as its receiver does: a callback run here would run twice).
        ReadingHistoryEntry.objects.filter(user=user).delete()
        history_reads_changed(user_id=user.pk)
        return None

    monkeypatch.setattr(history_kept, "history_read_at", erased_meanwhile)
    write_read(room.stories["space"][0])
    monkeypatch.undo()
    assert cache.get(copy_key) is None
    page, read_rows = home(client)
    assert read_rows and "Because you read" not in page


def test_a_failed_update_of_the_copy_still_outdates_it(
    client, room, reader, write_read, monkeypatch
):
    home(client)
    copy_key, token_key = reads_kept_keys(reader.pk)
    token = cache.get(token_key)

    def broken(*, user, read_at):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(history_kept, "history_read_at", broken)
    write_read(room.stories["space"][0])
    assert cache.get(token_key) != token and cache.get(copy_key) is None


def test_on_another_cache_a_read_written_brings_the_copy_up_to_date_too(
    client, room, reader, write_read, settings
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    home(client), home(client)  # a token, then a copy under it
    rocket = room.stories["space"][0]
    write_read(rocket)
    page, read_rows = home(client)
    assert read_rows == [] and rocket.title not in titles_on(page)
    found = cache.get_many(list(reads_kept_keys(reader.pk)))
    kept = history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found=found)
    assert kept == history_reads_for_user(user=reader, limit=LIMIT)


def test_a_read_older_than_the_newest_takes_its_place_in_the_copy(client, room, reader, write_read):
    home(client)
    late = timezone.now() - timedelta(days=5)  # drained after newer ones: not the newest
    write_read(room.stories["sport"][0], read_at=late)
    found = cache.get_many(list(reads_kept_keys(reader.pk)))
    kept = history_reads_kept(user=reader, asked=ReadsAsked(limit=LIMIT), found=found)
    assert kept == history_reads_for_user(user=reader, limit=LIMIT)
    assert [read.article_id for read in kept][-1] == room.stories["sport"][0].pk


def _days_ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def four_reads(room, reader, write_read):
    """The reader's two food reads (1 and 2 days ago) and two space reads, 6 and 10 days ago."""
    write_read(room.stories["space"][1], read_at=_days_ago(6))
    write_read(room.stories["space"][2], read_at=_days_ago(10))
    reads = history_reads_for_user(user=reader, limit=LIMIT)
    assert len(reads) == 4
    return reads


@pytest.mark.parametrize(
    ("since_days", "newest", "opened"),
    [
        (None, 0, 4),
        (3, 0, 2),
        (3, 3, 3),
        (7, 1, 3),
        (0.5, 1, 1),
        (0.5, 9, 4),
        (30, 0, 4),
        # No candidate at all (an empty pool): only the newest.
        (-math.inf, 2, 2),
        (-math.inf, 0, 0),
        # Since before any read: all of them.
        (math.inf, 0, 4),
    ],
)
def test_only_the_newest_reads_and_those_since_a_time_are_opened(
    reader, four_reads, since_days, newest, opened
):
    if since_days is None:
        since = None
    elif abs(since_days) == math.inf:
        since = -since_days
    else:
        since = _days_ago(since_days).timestamp()
    reads = history_reads_for_user(user=reader, limit=LIMIT, since=since, newest=newest)
    assert reads == four_reads[:opened]


def test_a_copy_of_the_reads_since_a_time_serves_later_pages_only(reader, four_reads):
    keys = reads_kept_keys(reader.pk)
    asked = ReadsAsked(limit=LIMIT, since=_days_ago(3).timestamp(), newest=1)
    made = history_reads_kept(user=reader, asked=asked, found=cache.get_many(keys))
    assert made == four_reads[:2]
    # Only what a page could need is kept in the cache: not the reads of 6 and 10 days ago.
    kept = [row["article_id"] for row in history_reads_kept_rows(user=reader)]
    assert kept == [read.article_id for read in four_reads[:2]]

    found = cache.get_many(keys)

    def asked_again(**asked_for) -> tuple[list, list]:
        with CaptureQueriesContext(connection) as queries:
            reads = history_reads_kept(user=reader, asked=ReadsAsked(**asked_for), found=found)
        return reads, [q for q in queries if HISTORY_TABLE in q["sql"]]

    # Later (the oldest story a page may show is newer): from the copy, as the rows would say.
    later = {"limit": LIMIT, "since": _days_ago(1.5).timestamp(), "newest": 1}
    reads, queried = asked_again(**later)
    assert not queried and reads == history_reads_for_user(user=reader, **later) == four_reads[:1]
    # Asked for reads the copy may not hold: from the database.
    for asked_for, opened in (
        ({"limit": LIMIT, "since": _days_ago(8).timestamp(), "newest": 1}, 3),
        ({"limit": LIMIT, "since": later["since"], "newest": 4}, 4),
        ({"limit": LIMIT}, 4),
    ):
        reads, queried = asked_again(**asked_for)
        assert queried and reads == four_reads[:opened]


def test_a_page_opens_only_the_reads_its_stories_could_have_been_read_in(
    client, room, reader, settings, write_read
):
    settings.RECOMMENDER_HISTORY_LIMIT = 1  # only the newest read shapes the profile
    before_any = room.stories["space"][2]
    Article.objects.filter(pk=before_any.pk).update(published_at=_days_ago(40))
    Article.objects.filter(pk=room.stories["space"][0].pk).update(published_at=_days_ago(1.5))
    write_read(before_any, read_at=_days_ago(30))
    food = room.stories["food"][:2]

    page, read_rows = home(client)
    assert read_rows
    # The read of 30 days ago, before the oldest story a page may show, is neither opened
    # nor kept; the older food read, past the newest, still is: its story stays off the page.
    kept = {row["article_id"] for row in history_reads_kept_rows(user=reader)}
    assert kept == {story.pk for story in food}
    for _ in range(2):
        assert not {story.title for story in food} & set(titles_on(page))
        page, read_rows = home(client)
        assert read_rows == []
