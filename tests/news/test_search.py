"""Search as a reader uses it, on whichever database the suite runs on (PostgreSQL full-text
search in CI, SQLite FTS5 locally): whole words, best matches first, the matches marked, common
words and odd input answered plainly, and only published stories ever listed."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from news.models import Article
from news.search import MARK_END, MARK_START, STOP_WORDS, Term, reader_query
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db

SEARCH = reverse("news:search")


@pytest.fixture
def api():
    return APIClient()


def _search(client, query: str, **params):
    response = client.get(SEARCH, {"q": query, **params})
    assert response.status_code == 200
    return response


def _titles(response) -> list[str]:
    return [article.title for article, _ in response.context["results"]]


def _hours_ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


def test_a_word_matches_whole_words_only_not_parts_of_longer_ones(client):
    ArticleFactory(title="Xbox sales climb", body="The next console is due in spring.")
    ArticleFactory(title="Next steps for the council", body="Plans for the next decade.")
    ArticleFactory(title="Company X wins the contract", body="X beat four rivals.")

    response = _search(client, "x")

    assert _titles(response) == ["Company X wins the contract"]
    assert response.context["page"].paginator.count == 1


def test_common_words_alone_find_nothing_and_the_page_says_why(client):
    ArticleFactory.create_batch(3, title="The story of the day", body="The end of the week.")

    response = _search(client, "the")

    assert response.context["page"].paginator.count == 0
    html = response.content.decode()
    assert "Left out as too common to search for: “the”." in html
    assert "Add a more specific word to look for." in html


def test_common_words_are_left_out_of_a_search_with_other_words(client):
    ArticleFactory(title="The bridge reopens", body="Traffic is back.")
    ArticleFactory(title="The orchard harvest", body="Apples and pears.")

    response = _search(client, "the bridge")

    assert _titles(response) == ["The bridge reopens"]
    assert "too common to search for: “the”" in response.content.decode()


def test_best_matches_come_first_title_before_summary_before_body(client):
    in_body = ArticleFactory(
        title="Council meeting", summary="Budget talks.", body="Later, salmon were mentioned."
    )
    in_summary = ArticleFactory(
        title="River report", summary="Salmon numbers rise.", body="Counts from the weir."
    )
    in_title = ArticleFactory(
        title="Salmon return to the river", summary="A good year.", body="Counts are up."
    )
    # Published in the opposite order, so newest-first would give the reverse.
    for hours, article in enumerate((in_title, in_summary, in_body), start=1):
        Article.objects.filter(pk=article.pk).update(published_at=_hours_ago(hours))

    response = _search(client, "salmon")

    assert _titles(response) == [in_title.title, in_summary.title, in_body.title]
    assert "best matches first" in response.content.decode()


def test_equally_good_matches_are_listed_newest_first(client):
    for hours, name in ((3, "Oldest"), (1, "Newest"), (2, "Middle")):
        ArticleFactory(title=f"{name} harbour", body="Same words.", published_at=_hours_ago(hours))

    assert _titles(_search(client, "harbour")) == [
        "Newest harbour",
        "Middle harbour",
        "Oldest harbour",
    ]


def test_every_word_must_appear_and_forms_of_a_word_match(client):
    ArticleFactory(title="Bridges across the river", body="Two new crossings.")
    ArticleFactory(title="A bridge in the hills", body="Only a stream runs here.")

    assert sorted(_titles(_search(client, "bridge"))) == [
        "A bridge in the hills",
        "Bridges across the river",
    ]
    assert _titles(_search(client, "bridge river")) == ["Bridges across the river"]


def test_phrases_exclusions_and_alternatives(client):
    ArticleFactory(title="New York marathon", body="Runners crossed the city.")
    ArticleFactory(title="York minster bells", body="A new peal rang out.")
    ArticleFactory(title="Paris marathon", body="Runners by the river.")

    assert _titles(_search(client, '"new york"')) == ["New York marathon"]
    assert _titles(_search(client, "marathon -paris")) == ["New York marathon"]
    assert sorted(_titles(_search(client, "minster or paris"))) == [
        "Paris marathon",
        "York minster bells",
    ]


def test_exclusions_alone_find_nothing_rather_than_everything(client):
    ArticleFactory.create_batch(2, title="Weather today", body="Rain.")

    response = _search(client, "-paris")

    assert response.context["page"].paginator.count == 0
    assert "only leaves stories out" in response.content.decode()


def test_matches_are_marked_in_the_title_and_an_excerpt(client):
    ArticleFactory(
        title="Harbour bridge reopens",
        summary="Engineers finished early.",
        body="After two years of repairs, the bridge carries traffic again.",
    )

    html = _search(client, "bridge").content.decode()

    assert "Harbour <mark>bridge</mark> reopens" in html
    excerpt = re.search(r'<p class="card-summary search-excerpt">(.*?)</p>', html, re.S).group(1)
    assert "the <mark>bridge</mark> carries traffic" in excerpt


def test_marking_escapes_the_story_text_and_only_the_search_adds_marks(client):
    ArticleFactory(
        title="<script>alert(1)</script> bridge",
        summary=f"A {MARK_START}fake mark{MARK_END} in the text.",
        body="The <b>bridge</b> & the road.",
    )

    html = _search(client, "bridge").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>bridge</mark>" in html
    # Tags typed into a story are shown as text (SQLite) or left out of the excerpt (PostgreSQL's
    # headline skips them), never rendered.
    assert "<b>" not in html and "&amp; the road" in html
    assert MARK_START not in html and MARK_END not in html
    assert "<mark>fake" not in html
    assert html.count("<mark>") == html.count("</mark>")


@pytest.mark.parametrize(
    "hidden",
    [
        {"status": Article.Status.DRAFT, "published_at": None},
        {"status": Article.Status.SCHEDULED, "published_at": timezone.now() + timedelta(days=1)},
        {"status": Article.Status.PUBLISHED, "published_at": timezone.now() + timedelta(days=1)},
        {"status": Article.Status.ARCHIVED, "published_at": timezone.now() - timedelta(days=9)},
    ],
    ids=["draft", "scheduled", "published-later", "archived"],
)
def test_only_published_stories_are_ever_listed(client, api, hidden):
    ArticleFactory(title="Lighthouse keeper retires", slug="listed")
    ArticleFactory(title="Lighthouse sold at auction", slug="hidden", **hidden)

    assert _titles(_search(client, "lighthouse")) == ["Lighthouse keeper retires"]
    body = api.get("/api/v1/articles/", {"q": "lighthouse"}).json()
    assert [a["slug"] for a in body["results"]] == ["listed"]


def test_a_nul_byte_is_refused_plainly_and_matches_nothing(client, api):
    ArticleFactory.create_batch(3)

    page = client.get(SEARCH, {"q": "\x00zzzz"})
    assert page.status_code == 400
    assert "NUL byte" in page.content.decode()

    listing = api.get("/api/v1/articles/", {"q": "\x00zzzz"})
    assert listing.status_code == 400
    assert listing.json()["error"]["code"] == "invalid"
    assert Article.objects.count() == 3  # nothing changed


def test_the_api_search_is_ranked_and_whole_word_too(api):
    ArticleFactory(slug="in-body", title="Council budget", body="The otter was spotted.")
    ArticleFactory(slug="in-title", title="Otter spotted downstream", body="A rare sight.")
    ArticleFactory(slug="longer-word", title="Otterburn fair", body="Sheep and stalls.")

    body = api.get("/api/v1/articles/", {"q": "otter"}).json()

    assert [a["slug"] for a in body["results"]] == ["in-title", "in-body"]
    assert body["count"] == 2


def test_search_within_a_topic_through_the_api_keeps_the_ranking(api):
    science = TopicFactory(slug="science")
    ArticleFactory(slug="body", title="Field notes", body="Salmon counted.", topics=[science])
    ArticleFactory(slug="title", title="Salmon genes decoded", topics=[science])
    ArticleFactory(slug="elsewhere", title="Salmon recipes")

    body = api.get("/api/v1/articles/", {"q": "salmon", "topic": "science"}).json()

    assert [a["slug"] for a in body["results"]] == ["title", "body"]


def test_results_are_paginated_with_the_query_kept(client, settings):
    settings.NEWS_PAGE_SIZE = 2
    for hours in range(5):
        ArticleFactory(title=f"Ferry timetable {hours}", published_at=_hours_ago(hours + 1))

    first = _search(client, "ferry")
    second = _search(client, "ferry", page=2)

    assert first.context["page"].paginator.count == 5
    assert _titles(first) == ["Ferry timetable 0", "Ferry timetable 1"]
    assert _titles(second) == ["Ferry timetable 2", "Ferry timetable 3"]
    assert "?q=ferry&amp;page=2" in first.content.decode()


def test_a_results_page_costs_the_same_queries_whatever_the_number_of_results(
    client, django_assert_max_num_queries
):
    topic = TopicFactory()
    ArticleFactory.create_batch(2, title="Tram line opens", topics=[topic])
    with django_assert_max_num_queries(20) as few:
        _search(client, "tram")
    ArticleFactory.create_batch(8, title="Tram line extended", topics=[topic])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = _search(client, "tram")
    assert response.context["page"].paginator.count == 10


def test_searching_leaves_nothing_behind_on_the_connection(client):
    ArticleFactory(title="Canal boats")
    _search(client, "canal")
    _search(client, "boats")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_temp_master WHERE type = 'table'")
            assert cursor.fetchall() == []


def test_reader_query_reads_words_phrases_exclusions_and_alternatives():
    query = reader_query('The "New York" marathon -paris or x-ray OR "the of"')

    assert query.alternatives == (
        (Term(words=("new", "york")), Term(words=("marathon",)), Term(("paris",), excluded=True)),
        (Term(words=("x", "ray")),),
    )
    assert query.common_words == ("the", "of")
    assert query.searchable
    assert not reader_query("the of and").searchable
    assert not reader_query("-paris").searchable
    assert not reader_query('!!! ** ""').searchable
    assert "the" in STOP_WORDS and "x" not in STOP_WORDS


def test_a_link_kept_in_a_story_is_searched_and_shown_by_its_words_alone(client):
    ArticleFactory(
        title="Harbour report",
        body='The port authority <a href="https://port.example.org/tides">published tides</a>.',
    )
    assert _titles(_search(client, "tides")) == ["Harbour report"]
    assert _titles(_search(client, "href")) == []  # the markup is not the story's words
    assert _titles(_search(client, "example")) == []
    html = _search(client, "tides").content.decode()
    assert "published" in html and "port.example.org" not in html
