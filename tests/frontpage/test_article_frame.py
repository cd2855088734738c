"""A live story's page is kept whole per process and kind of visit: it is the page the
template renders, a story withdrawn since leaves its "More like this" at once, the sign-out
form carries each visitor's own token, a page with a message is rendered whole, and a kept
page costs a visitor one query."""

import re

import pytest
from django.test import Client
from django.urls import reverse

import frontpage.views
from accounts import services as accounts_services
from news.services.articles import article_unpublish
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def space():
    topic = TopicFactory(name="Space <& stars>")
    stories = [ArticleFactory(title=f"Rocket {i}", topics=[topic]) for i in range(4)]
    return topic, stories


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def related(html: str) -> list[str]:
    section = html[html.index("More like this") :]
    return re.findall(r'class="card-title"><a href="[^"]+">([^<]+)<', section)


@pytest.mark.parametrize("who", ["anonymous", "reader", "editor"])
def test_the_kept_article_page_is_the_page_the_template_renders(who, space, monkeypatch):
    client = Client()
    if who != "anonymous":
        reader = ReaderFactory(is_staff=who == "editor")
        client.force_login(reader)
    path = space[1][0].get_absolute_url()
    page(client, path)  # kept now
    kept = page(client, path)
    monkeypatch.setattr(frontpage.views, "_article_frame", lambda request, article: None)
    whole = page(client, path)
    assert TOKEN.sub("token", kept) == TOKEN.sub("token", whole)
    assert "Space &lt;&amp; stars&gt;" in kept
    assert ("Sign out" in kept) is (who != "anonymous")
    assert ("Editor tools" in kept) is (who == "editor")


def test_a_story_withdrawn_leaves_more_like_this_at_once(space, client):
    first, withdrawn = space[1][0], space[1][1]
    path = first.get_absolute_url()
    assert withdrawn.title in related(page(client, path))
    article_unpublish(article=withdrawn)
    assert withdrawn.title not in related(page(client, path))


def test_an_edited_story_is_shown_as_edited(space, client):
    story = space[1][0]
    page(client, story.get_absolute_url())
    story.title = "Rocket lands <safely>"
    story.save()
    assert "<h1>Rocket lands &lt;safely&gt;</h1>" in page(client, story.get_absolute_url())


def test_each_reader_signs_out_with_their_own_token(space):
    path = space[1][0].get_absolute_url()
    tokens = []
    for _ in range(2):
        client = Client(enforce_csrf_checks=True)
        client.force_login(ReaderFactory())
        token = TOKEN.search(page(client, path)).group(1)
        tokens.append(token)
        response = client.post(reverse("account_logout"), {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session
    assert tokens[0] != tokens[1]


def test_an_article_page_with_a_message_is_rendered_whole_and_shows_it(space, client):
    topic, stories = space
    reader = ReaderFactory()
    accounts_services.preferences_set_topics(user=reader, topic_ids=[topic.pk])
    client.force_login(reader)
    path = stories[0].get_absolute_url()
    page(client, path)  # the kept page of this kind of visit exists now
    client.post(reverse("recommendations:show_less"), {"topic": topic.pk})
    html = page(client, path)
    assert 'class="message message-' in html
    assert "you will see less about Space" in html
    assert 'class="message message-' not in page(client, path)


def test_a_kept_article_page_costs_a_visitor_one_query(space, client, django_assert_num_queries):
    path = space[1][0].get_absolute_url()
    page(client, path)
    with django_assert_num_queries(1):  # the story by its address; nothing else
        html = page(client, path)
    assert "More like this" in html
