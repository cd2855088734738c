"""The feed caches in Redis: the non-personal feed is shared and forgotten on publish; a
reader's own feed is sealed with their key, never served to anyone else, and forgotten when
anything it was made from changes."""

import json
from datetime import datetime, timedelta

import pytest
import redis
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Preferences
from news.models import Article
from news.services import article_publish, article_unpublish
from privacy.browser_signals import NO_SIGNALS
from privacy.crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    data_key_destroy,
    decrypt_for_user,
    encrypt_for_user,
)
from privacy.erasure import CONFIRMATION_WORD, account_erase
from privacy.registry import category
from privacy.services import history_clear
from recommendations.feed.pending import READER_READS_CONTEXT, entry_parts
from recommendations.feed.pool import candidate_pool_forget
from recommendations.feed_cache import PUBLIC_KEYS, READER_FEED_CONTEXT
from recommendations.services import model_retrain
from tests.conftest import redis_cache_settings
from tests.factories import DEFAULT_PASSWORD, ReaderFactory

from .conftest import cards, follow, story, titles_on

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def redis_cache(settings):
    """The production cache: django-redis on a real Redis, with its own key prefix."""
    settings.CACHES = redis_cache_settings("test-feed-cache")
    cache.clear()
    yield
    cache.clear()


def reader_key(user) -> str:
    return f"feed:reader:{user.pk}"


def home(client) -> str:
    return client.get(reverse("news:home")).content.decode()


def test_the_non_personal_feed_is_shared_from_the_cache_until_a_story_is_published(
    client, newsroom, editor, django_capture_on_commit_callbacks
):
    model_retrain()
    assert "Cup final decided on penalties" in home(client)
    assert cache.get(PUBLIC_KEYS[0]) is not None
    # A story that went live without passing through the site (no save signal): visitors keep
    # getting the cached page, even once this process would rank it.
    Article.objects.bulk_create(
        [
            Article(
                title="Quietly inserted story",
                slug="quietly-inserted",
                body="Words.",
                status=Article.Status.PUBLISHED,
                published_at=timezone.now() - timedelta(minutes=5),
            )
        ]
    )
    candidate_pool_forget()
    assert "Quietly inserted story" not in home(client)

    draft = story(title="Breaking: bridge reopens", body="Traffic flows.", status="draft")
    with django_capture_on_commit_callbacks(execute=True):
        article_publish(article=draft, changed_by="Editor")
    candidate_pool_forget()
    html = home(client)
    assert "Breaking: bridge reopens" in html
    assert "Quietly inserted story" in html


def test_a_readers_cached_feed_is_sealed_and_never_served_to_another_reader(client, newsroom):
    model_retrain()
    alice, bob = ReaderFactory(), ReaderFactory()
    follow(alice, newsroom.topics["space"])
    follow(bob, newsroom.topics["food"])
    client.force_login(bob)
    assert "Because you follow Food" in home(client)
    client.force_login(alice)
    assert "Because you follow Space" in home(client)
    sealed = cache.get(reader_key(alice))
    assert isinstance(sealed, bytes)
    # Nothing readable in the cache: no title, no reason, no topic.
    for secret in (b"Rocket launch", b"Because you follow", b"Space", b"items"):
        assert secret not in sealed
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=bob.pk, ciphertext=sealed, context=READER_FEED_CONTEXT)

    # Even planted under Bob's key, Alice's page is never shown to him.
    cache.set(reader_key(bob), sealed, 60)
    client.force_login(bob)
    html = home(client)
    assert "Because you follow Food" in html
    assert "Because you follow Space" not in html

    data_key_destroy(user_id=alice.pk)
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=alice.pk, ciphertext=sealed, context=READER_FEED_CONTEXT)


def test_reading_a_story_takes_it_out_of_the_cached_feed(client, newsroom, read_page):
    model_retrain()
    reader = follow(
        ReaderFactory(), newsroom.topics["space"], level=Preferences.Level.TOPICS_HISTORY
    )
    client.force_login(reader)
    rocket = newsroom.stories["space"][0]
    assert rocket.title in home(client)
    assert cache.get(reader_key(reader)) is not None

    read_page(client, rocket)
    assert cache.get(reader_key(reader)) is None
    titles = "".join(cards(home(client)))
    assert rocket.title not in titles
    assert newsroom.stories["space"][1].title in titles


def test_changing_topics_level_or_show_less_forgets_the_cached_feed(
    client, newsroom, django_capture_on_commit_callbacks
):
    model_retrain()
    space, sport = newsroom.topics["space"], newsroom.topics["sport"]
    reader = follow(ReaderFactory(), space)
    client.force_login(reader)
    assert "Because you follow Space" in home(client)

    # Show less: the next page says so at once.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("recommendations:show_less"), {"topic": space.pk})
    assert response.status_code == 302
    assert cache.get(reader_key(reader)) is None
    assert "you will see less about Space" in home(client)

    # New topics.
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.preferences_set_topics(user=reader, topic_ids=[sport.pk])
    assert cache.get(reader_key(reader)) is None
    html = home(client)
    assert "Because you follow Sport" in html and "Because you follow Space" not in html

    # Personalization off (the consent to use reading history goes with it).
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.personalization_pause(user=reader, signals=NO_SIGNALS)
    assert cache.get(reader_key(reader)) is None
    assert "Personalization is off" in home(client)


def test_a_readers_kept_page_is_served_whole_until_a_story_changes(
    client, newsroom, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    model_retrain()
    reader = follow(ReaderFactory(), newsroom.topics["space"])
    client.force_login(reader)
    rocket = newsroom.stories["space"][0]
    first = home(client)
    assert rocket.title in first
    # Served again from the sealed entry: the same cards, with no story looked up (the
    # session read with the reader, their preferences and key; the impression counter).
    with django_assert_max_num_queries(2):
        again = home(client)
    assert cards(again) == cards(first)

    # An editor withdraws the story: no reader's kept page shows it again.
    with django_capture_on_commit_callbacks(execute=True):
        article_unpublish(article=rocket, changed_by="Editor")
    candidate_pool_forget()
    assert cache.get(reader_key(reader)) is not None  # still there, but outdated
    assert rocket.title not in "".join(cards(home(client)))


def test_a_kept_page_seals_its_cards_as_html_and_an_earlier_one_is_still_served(
    client, newsroom, django_assert_max_num_queries
):
    """The sealed page is one line of JSON, then the cards' HTML as rendered (line breaks
    and quotes in it untouched); a page kept in the earlier form (all one JSON document,
    still in the cache while a new release starts) is served as it was."""
    model_retrain()
    reader = follow(ReaderFactory(), newsroom.topics["space"])
    client.force_login(reader)
    first = home(client)
    sealed, _ = entry_parts(cache.get(reader_key(reader)))
    text = decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context=READER_FEED_CONTEXT)
    head, _, html = text.partition("\n")
    entry = json.loads(head)
    assert entry["cards"] is None
    assert "\n" in html and '"' in html
    assert cards(html) == cards(first)

    # The earlier form, with a marker of its own in the cards: served, not computed again.
    earlier = {**entry, "cards": html.replace("</article>", "<!-- earlier --></article>", 1)}
    resealed = encrypt_for_user(
        user=reader, plaintext=json.dumps(earlier), context=READER_FEED_CONTEXT
    )
    cache.set(reader_key(reader), resealed, 60)
    with django_assert_max_num_queries(2):
        again = home(client)
    assert "<!-- earlier -->" in again
    assert cards(again.replace("<!-- earlier -->", "")) == cards(first)


def test_a_kept_page_outlives_other_stories_news_but_not_a_change_to_its_own(
    client, newsroom, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    model_retrain()
    reader = follow(ReaderFactory(), newsroom.topics["space"])
    client.force_login(reader)
    rocket = newsroom.stories["space"][0]
    first = home(client)
    assert rocket.title in first

    # A story published elsewhere on the site does not drop every reader's kept page: this
    # reader's is served whole again, and shows the new story when next computed.
    draft = story(title="Harbour crane arrives", body="Lifted.", status="draft")
    with django_capture_on_commit_callbacks(execute=True):
        article_publish(article=draft, changed_by="Editor")
    candidate_pool_forget()
    with django_assert_max_num_queries(2):
        again = home(client)
    assert cards(again) == cards(first)

    # One of its own stories is corrected: the page is made again, with the correction.
    with django_capture_on_commit_callbacks(execute=True):
        rocket.title = "Rocket launch moved to Friday"
        rocket.save()
    html = "".join(cards(home(client)))
    assert "Rocket launch moved to Friday" in html
    assert "Harbour crane arrives" in html


def test_a_computed_page_lists_its_stories_once_until_a_story_changes(
    client, newsroom, settings, django_capture_on_commit_callbacks
):
    settings.FEED_READER_CACHE_SECONDS = 0  # every page computed
    model_retrain()
    reader = follow(ReaderFactory(), newsroom.topics["space"])
    client.force_login(reader)
    rocket, comet = newsroom.stories["space"][0], newsroom.stories["space"][2]
    old_title = rocket.title
    first = home(client)
    assert old_title in first and comet.title in first
    # Ranked afresh, but the stories' rows this process listed under the same catalogue
    # marker are not asked for again.
    with CaptureQueriesContext(connection) as queries:
        again = home(client)
    assert cards(again) == cards(first)
    assert not [q for q in queries if Article._meta.db_table in q["sql"]]

    # An editor corrects one story and withdraws another: the next page shows both changes.
    with django_capture_on_commit_callbacks(execute=True):
        rocket.title = "Rocket launch moved to Friday"
        rocket.save()
        article_unpublish(article=comet, changed_by="Editor")
    html = "".join(cards(home(client)))
    assert "Rocket launch moved to Friday" in html
    assert old_title not in html
    assert comet.title not in html


def test_a_topic_or_model_change_drops_every_kept_page(
    client, newsroom, django_capture_on_commit_callbacks
):
    model_retrain()
    reader = follow(ReaderFactory(), newsroom.topics["space"])
    client.force_login(reader)
    assert "Because you follow Space" in home(client)
    space = newsroom.topics["space"]
    with django_capture_on_commit_callbacks(execute=True):
        space.name = "Outer space"
        space.save()
    html = home(client)
    assert "Because you follow Outer space" in html
    assert "Because you follow Space" not in html


def test_an_outdated_entry_is_not_served_even_if_forgetting_it_failed(client, newsroom):
    model_retrain()
    space, food = newsroom.topics["space"], newsroom.topics["food"]
    reader = follow(ReaderFactory(), space)
    client.force_login(reader)
    assert "Because you follow Space" in home(client)
    sealed = cache.get(reader_key(reader))
    # The change commits, but the cache never hears of it (say Redis was briefly away).
    accounts_services.preferences_set_topics(user=reader, topic_ids=[food.pk])
    cache.set(reader_key(reader), sealed, 60)
    html = home(client)
    assert "Because you follow Food" in html and "Because you follow Space" not in html


def test_clearing_history_and_erasure_forget_it_and_the_registry_shows_it(
    client, newsroom, django_capture_on_commit_callbacks
):
    model_retrain()
    reader = follow(
        ReaderFactory(), newsroom.topics["space"], level=Preferences.Level.TOPICS_HISTORY
    )
    client.force_login(reader)
    home(client)
    rows = category("feed_cache").rows_for(user=reader)
    assert rows and rows[0]["reason"] == "Because you follow Space"
    with django_capture_on_commit_callbacks(execute=True):
        history_clear(user=reader)
    assert cache.get(reader_key(reader)) is None

    home(client)
    assert cache.get(reader_key(reader)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        account_erase(user=reader, password=DEFAULT_PASSWORD, confirmation=CONFIRMATION_WORD)
    assert cache.get(reader_key(reader)) is None
    assert category("feed_cache").rows_for(user=reader) == []


def test_what_we_collect_lists_the_cached_front_page_and_how_long_it_is_kept(client, settings):
    settings.FEED_READER_CACHE_SECONDS = 45
    html = client.get(reverse("privacy:what_we_collect")).content.decode()
    assert "Your front page, kept briefly" in html
    assert "45 seconds at most" in html


def test_more_like_this_is_kept_per_article_and_drops_a_story_unpublished_since(
    client, newsroom, django_capture_on_commit_callbacks
):
    model_retrain()
    rocket, station = newsroom.stories["space"][0], newsroom.stories["space"][1]
    html = client.get(rocket.get_absolute_url()).content.decode()
    assert station.title in html.split("More like this", 1)[1]
    # Through the site's own service, as editors do: the kept article page follows the
    # catalogue marker it moves.
    with django_capture_on_commit_callbacks(execute=True):
        article_unpublish(article=station)
    html = client.get(rocket.get_absolute_url()).content.decode()
    assert station.title not in html


def a_monday() -> datetime:
    return timezone.make_aware(datetime(2026, 11, 23, 9, 0))


def sport_reader_on(monday: datetime, client, newsroom):
    """A reader following Sport at "Topics + reading history", signed in on `monday`, with
    every story published the day before and the model trained then."""
    Article.objects.update(published_at=monday - timedelta(days=1))
    with time_machine.travel(monday, tick=False):
        model_retrain()
        reader = follow(
            ReaderFactory(), newsroom.topics["sport"], level=Preferences.Level.TOPICS_HISTORY
        )
        client.force_login(reader)
    return reader


def test_erasing_the_reading_history_category_recomputes_the_next_front_page(
    client, newsroom, read_page, django_capture_on_commit_callbacks
):
    monday = a_monday()
    reader = sport_reader_on(monday, client, newsroom)
    with time_machine.travel(monday, tick=False):
        read_page(client, newsroom.stories["food"][1])  # a topic they do not follow
    with time_machine.travel(monday + timedelta(days=2), tick=False):
        assert "Because you read" in home(client)  # ranked from the history, kept
        assert cache.get(reader_key(reader)) is not None

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("privacy:category_erase", kwargs={"key": "reading_history"})
            )
        assert response.status_code == 302
        # The kept page was ranked from the erased history: it is not served again.
        assert cache.get(reader_key(reader)) is None
        html = home(client)
    assert "Because you read" not in html
    assert "Because you follow Sport" in html


# --- A story read while its write waits in the read queue -----------------------------------


@pytest.fixture
def queued_reads(scratch_broker, read_page, settings):
    """Reads go through the Redis read queue, as in production: the article page returns
    before the history is written. Yields a function that drains the queue as a worker
    would, running what the writes queue after their commit."""
    from privacy.services import reads_store_queued

    def drain(django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            return reads_store_queued()

    return drain


def test_a_story_read_stays_off_the_front_page_while_its_write_is_queued(
    client,
    newsroom,
    read_page,
    queued_reads,
    scratch_broker,
    settings,
    django_capture_on_commit_callbacks,
):
    from privacy.models import ReadingHistoryEntry

    model_retrain()
    reader = follow(
        ReaderFactory(), newsroom.topics["space"], level=Preferences.Level.TOPICS_HISTORY
    )
    client.force_login(reader)
    rocket = newsroom.stories["space"][0]
    assert rocket.title in titles_on(home(client))

    read_page(client, rocket)
    assert scratch_broker.llen(settings.PRIVACY_READ_QUEUE_KEY) == 1
    assert not ReadingHistoryEntry.objects.filter(user=reader).exists()  # not written yet
    # The read is noted in the reader's entry in place of the page, sealed: nothing in it
    # readable, nor theirs to anyone else.
    entry = cache.get(reader_key(reader))
    page, note = entry_parts(entry)
    assert page is None and note
    # A worker still running the code from before notes (a deployment rolling out) takes the
    # entry for a damaged page, which it drops: never an error page.
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=reader.pk, ciphertext=entry, context=READER_FEED_CONTEXT)
    assert f"[[{rocket.pk}, ".encode() not in note  # the note as written, sealed
    other = ReaderFactory()
    encrypt_for_user(user=other, plaintext="their own key", context="test")
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=other.pk, ciphertext=note, context=READER_READS_CONTEXT)
    titles = titles_on(home(client))
    assert rocket.title not in titles
    assert newsroom.stories["space"][1].title in titles
    assert rocket.title not in titles_on(home(client))  # nor on the page kept from it
    # Nor on the next page, nor in the API's feed.
    assert rocket.title not in client.get(reverse("news:home") + "?page=2").content.decode()
    api = client.get(reverse("api:feed")).json()
    assert rocket.pk not in [item["article"]["id"] for item in api["results"]]

    # The write drops the note with the page; the history leaves the story out from then on.
    assert queued_reads(django_capture_on_commit_callbacks) == 1
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    assert cache.get(reader_key(reader)) is None
    assert rocket.title not in titles_on(home(client))


def test_stories_read_while_no_worker_writes_them_shape_the_page_and_stay_off_it(
    client, newsroom, read_page, queued_reads, settings
):
    settings.FEED_READER_CACHE_SECONDS = 0  # no page kept: the note alone does it
    monday = a_monday()
    sport_reader_on(monday, client, newsroom)
    with time_machine.travel(monday, tick=False):
        pasta, bread = newsroom.stories["food"][0], newsroom.stories["food"][1]
        read_page(client, pasta)  # a topic they do not follow
        read_page(client, bread)
    with time_machine.travel(monday + timedelta(days=2), tick=False):
        html = home(client)
    assert pasta.title not in titles_on(html) and bread.title not in titles_on(html)
    # Ranked with the reads already: the third food story is there because of them.
    sauce = next(card for card in cards(html) if newsroom.stories["food"][2].title in card)
    assert "Because you read" in sauce
    assert "Because you follow Sport" in html


def test_a_noted_read_holds_when_its_kept_page_is_past_its_time_and_goes_with_the_history(
    client, newsroom, read_page, queued_reads, settings, django_capture_on_commit_callbacks
):
    from recommendations.feed_cache import PENDING_READ_REASON, reader_feed_rows

    model_retrain()
    reader = follow(
        ReaderFactory(), newsroom.topics["space"], level=Preferences.Level.TOPICS_HISTORY
    )
    client.force_login(reader)
    rocket = newsroom.stories["space"][0]
    read_page(client, rocket)
    assert rocket.title not in titles_on(home(client))
    # In the reader's copy of their data, with what it is for.
    assert {"article_id": rocket.pk, "reason": PENDING_READ_REASON} in reader_feed_rows(user=reader)
    # The kept page is past its time (as the clock says): the note still holds.
    ttl = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).ttl(
        cache.make_and_validate_key(reader_key(reader))
    )
    assert 0 < ttl <= settings.FEED_READER_CACHE_SECONDS  # the page's retention, no longer
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        assert rocket.title not in titles_on(home(client))

    # Clearing the history takes the note with it: the story is back, as if never read.
    with django_capture_on_commit_callbacks(execute=True):
        history_clear(user=reader)
    assert cache.get(reader_key(reader)) is None
    assert rocket.title in titles_on(home(client))
