"""The front page is filled into a frame rendered once per kind of visit: it is the page the
template renders, each reader's own values go only into their own page, and anything else
about the reader (a message) makes the page be rendered whole."""

import re

import pytest
from django.test import Client
from django.urls import reverse

import frontpage.views
from accounts import services as accounts_services
from accounts.models import Preferences
from privacy.browser_signals import NO_SIGNALS
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def reader_following(*topics):
    reader = ReaderFactory()
    accounts_services.preferences_set_topics(user=reader, topic_ids=[t.pk for t in topics])
    accounts_services.preferences_set_level(
        user=reader, level=Preferences.Level.TOPICS, source="preferences", signals=NO_SIGNALS
    )
    return reader


@pytest.fixture
def two_topics():
    space, food = TopicFactory(name="Space <& stars>"), TopicFactory(name="Food")
    for i in range(3):
        ArticleFactory(title=f"Rocket {i}", topics=[space])
        ArticleFactory(title=f"Soup {i}", topics=[food])
    return space, food


def page(client, path="/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("who", ["anonymous", "reader", "editor"])
def test_the_framed_front_page_is_the_page_the_template_renders(who, two_topics, monkeypatch):
    client = Client()
    if who != "anonymous":
        reader = reader_following(two_topics[0])
        if who == "editor":
            reader.is_staff = True
            reader.save()
        client.force_login(reader)
    framed = page(client, "/?utm=x&y=<1>")
    monkeypatch.setattr(frontpage.views, "_home_frame", lambda request, context: None)
    whole = page(client, "/?utm=x&y=<1>")
    assert TOKEN.sub("token", framed) == TOKEN.sub("token", whole)
    if who != "anonymous":
        assert "Space &lt;&amp; stars&gt;" in framed
        assert 'name="next" value="/?utm=x&amp;y=%3C1%3E"' in framed


def test_each_reader_sees_only_their_own_topics_and_their_token_works(two_topics):
    space, food = two_topics
    alice, bob = reader_following(space), reader_following(food)
    alice_client, bob_client = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    alices, bobs = page(alice_client), page(bob_client)
    assert "Stories in your topics first: Space &lt;&amp; stars&gt;, mixed" in alices
    assert "Stories in your topics first: Food, mixed" in bobs
    assert "Food, mixed" not in alices and "stars&gt;, mixed" not in bobs
    # The "Show less" form carries the reader's own CSRF token: the post is accepted.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', bobs).group(1)
    response = bob_client.post(
        reverse("recommendations:show_less"), {"topic": food.pk, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_a_page_with_a_message_is_rendered_whole_and_shows_it(two_topics, client):
    space = two_topics[0]
    client.force_login(reader_following(space))
    page(client)  # the frame of this kind of visit exists now
    client.post(reverse("recommendations:show_less"), {"topic": space.pk})
    html = page(client)
    assert 'class="message message-' in html
    assert "you will see less about Space" in html
