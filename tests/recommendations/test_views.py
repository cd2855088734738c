"""The feed, its explanations and controls, and "More like this", as visitors see them."""

import re

import pytest
from django.urls import reverse

from accounts.models import PreferredTopic
from recommendations.services import model_retrain

from .conftest import cards, follow

pytestmark = pytest.mark.django_db
SHOW_LESS = reverse("recommendations:show_less")


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_card_says_why_and_links_to_the_control(client, newsroom, reader, signed_in):
    model_retrain()
    if signed_in:
        follow(reader, newsroom.topics["space"])
        client.force_login(reader)
    html = client.get(reverse("news:home")).content.decode()
    shown = cards(html)
    assert len(shown) == 9
    for card in shown:
        assert "Why am I seeing this?" in card
        assert re.search(r'class="why-reason">[^<]+\.</span> <a href="/[^"]*">[^<]+</a>', card)
    if signed_in:
        assert "Because you follow Space" in html
        assert reverse("accounts:preferences") in html
        assert html.count("Show less like this") == 3  # one per followed-topic story
    else:
        assert "Show less like this" not in html
        assert "Sign up to choose your topics" in html


def test_show_less_lowers_the_topic_at_once_and_the_next_feed_changes(client, newsroom, reader):
    space, sport = newsroom.topics["space"], newsroom.topics["sport"]
    follow(reader, space, sport)
    client.force_login(reader)
    rocket = "Rocket launch carries weather satellite into orbit"
    cup = "Cup final decided on penalties"
    html = client.get(reverse("news:home")).content.decode()
    assert html.index(rocket) < html.index(cup)

    for _ in range(3):
        response = client.post(SHOW_LESS, {"topic": space.pk, "next": "/?page=1"})
        assert response.status_code == 302 and response["Location"] == "/?page=1"
    assert PreferredTopic.objects.get(preferences__user=reader, topic=space).weight == 0.25

    page = client.get(reverse("news:home"))
    html = page.content.decode()
    assert "you will see less about Space" in html
    assert html.index(cup) < html.index(rocket)


def test_show_less_refuses_bad_input_and_changes_nothing(client, newsroom, reader):
    space, food = newsroom.topics["space"], newsroom.topics["food"]
    follow(reader, space)
    client.force_login(reader)
    for data in ({"topic": "999999"}, {"topic": "abc"}, {}, {"topic": food.pk}):
        response = client.post(SHOW_LESS, data)
        assert response.status_code == 400
    assert "You do not follow Food" in response.content.decode()
    assert PreferredTopic.objects.get(preferences__user=reader, topic=space).weight == 1.0
    assert client.get(SHOW_LESS).status_code == 405
    # Somewhere else after the click is not followed off this site.
    response = client.post(SHOW_LESS, {"topic": space.pk, "next": "https://evil.example/"})
    assert response["Location"] == reverse("news:home")


def test_show_less_needs_a_signed_in_reader(client, newsroom):
    response = client.post(SHOW_LESS, {"topic": newsroom.topics["space"].pk})
    assert response["Location"].startswith(reverse("account_login"))


def test_more_like_this_is_the_same_content_based_list_for_everyone(client, newsroom, reader):
    model_retrain()
    comet = newsroom.stories["space"][2]
    anonymous = client.get(comet.get_absolute_url()).content.decode()
    follow(reader, newsroom.topics["food"])
    client.force_login(reader)
    signed_in = client.get(comet.get_absolute_url()).content.decode()

    def related(html):
        section = html[html.index("More like this") :]
        return re.findall(r'class="card-title"><a href="[^"]+">([^<]+)<', section)

    assert related(anonymous) == related(signed_in)
    # The other two space stories first, whatever their age.
    assert set(related(anonymous)[:2]) == {a.title for a in newsroom.stories["space"][:2]}
    assert comet.title not in related(anonymous)


def test_more_like_this_without_a_model_shows_the_same_topic(client, newsroom):
    html = client.get(newsroom.stories["sport"][0].get_absolute_url()).content.decode()
    section = html[html.index("More like this") :]
    assert newsroom.stories["sport"][1].title in section
    assert newsroom.stories["food"][0].title not in section


def test_the_home_page_survives_a_broken_ranking(client, newsroom, monkeypatch, caplog):
    from recommendations import ranking

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ranking, "rank", broken)
    response = client.get(reverse("news:home"))
    assert response.status_code == 200
    assert len(cards(response.content.decode())) == 9
    assert "Feed ranking failed" in caplog.text


def test_editors_see_why_a_retrain_failed_but_cannot_change_versions(client, editor, newsroom):
    from news.models import Article
    from recommendations.models import ModelVersion

    model_retrain()
    Article.objects.update(status=Article.Status.DRAFT)
    model_retrain()
    client.force_login(editor)
    listing = client.get(reverse("admin:recommendations_modelversion_changelist"))
    assert listing.status_code == 200
    assert "Failed" in listing.content.decode()
    failed = ModelVersion.objects.get(version=2)
    detail = client.get(reverse("admin:recommendations_modelversion_change", args=[failed.pk]))
    assert "no published article" in detail.content.decode()
    assert not editor.has_perm("recommendations.change_modelversion")
    assert not editor.has_perm("recommendations.delete_modelversion")
