"""The public candidate bundle: the same bytes for every visitor, cacheable, never reading
who asks, and holding what the browser needs to rank (and nothing about any reader)."""

import gzip
import json
import re

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from news.models import Article
from news.services import article_unpublish
from privatemode.bundle import (
    FORMAT,
    SUMMARY_CHARACTERS,
    bundle_decode,
    int8_decode,
    int8_encode,
    summary_cut,
)
from privatemode.services import bundle_build, bundle_bytes, bundle_current
from recommendations.active import active_model
from tests.factories import ArticleFactory, TopicFactory, reader_choices, verified_reader

from .conftest import RANKING_JS

pytestmark = pytest.mark.django_db
BUNDLE = reverse("privatemode:bundle")


def _bundle(response) -> dict:
    return json.loads(response.content)


def test_everyone_gets_the_same_bytes_and_nothing_is_read_or_set_about_them(client, newsroom):
    reader = verified_reader()
    reader_choices(reader, level="topics_history")
    anonymous = client.get(BUNDLE)
    client.force_login(reader)
    signed_in = client.get(BUNDLE, HTTP_COOKIE=client.cookies.output(header="", sep=";"))

    assert anonymous.status_code == signed_in.status_code == 200
    assert anonymous.content == signed_in.content
    for response in (anonymous, signed_in):
        assert response["Content-Type"] == "application/json"
        assert response["Cache-Control"] == "public, max-age=3600"
        # Only the encoding varies the answer: not the cookie, not the session.
        assert response["Vary"] == "Accept-Encoding"
        assert not response.cookies
        assert response["ETag"].startswith('"') and not response["ETag"].startswith("W/")


def test_a_repeated_ask_is_answered_not_modified_and_gzip_carries_the_same_bundle(client, newsroom):
    first = client.get(BUNDLE)
    again = client.get(BUNDLE, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "public, max-age=3600"

    compressed = client.get(BUNDLE, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert compressed["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.content) == first.content
    assert compressed["ETag"] != first["ETag"]  # another representation, another strong tag
    refused = client.get(BUNDLE, HTTP_ACCEPT_ENCODING="gzip;q=0, identity")
    assert "Content-Encoding" not in refused and refused.content == first.content


def test_the_bundle_holds_every_live_candidate_with_what_ranking_needs(client, newsroom):
    bundle = _bundle(client.get(BUNDLE))
    live = Article.objects.published(now=timezone.now())
    rows = [dict(zip(bundle["article_fields"], row, strict=True)) for row in bundle["articles"]]
    assert {row["id"] for row in rows} == set(live.values_list("pk", flat=True))
    decoded = bundle_decode(bundle)
    # Newest first, as the feed's pool, each at its publication second.
    published = {a.pk: a.published_at.timestamp() for a in live}
    assert list(decoded.published) == [round(published[i]) for i in decoded.ids]
    assert list(decoded.published) == sorted(decoded.published, reverse=True)
    story = live.get(pk=rows[0]["id"])
    topic_names = {topic[0]: topic[1] for topic in bundle["topics"]}
    assert rows[0]["title"] == story.title
    assert rows[0]["summary"] == story.summary
    assert {bundle["topics"][c][0] for c in rows[0]["columns"]} == set(
        story.topics.values_list("pk", flat=True)
    )
    assert "Space" in topic_names.values()
    assert bundle["model_version"] == active_model().version
    assert bundle["weights"]["topic"] == 1.0 and set(bundle["weights"]) >= {
        "topic",
        "content",
        "popularity",
        "freshness",
        "pick",
    }
    assert any(row["counted"] and row["popularity"] > 0 for row in rows)
    assert any(row["pick_until"] > 0 for row in rows)
    # Popularity as the pool has it, to the bundle's five decimals.
    assert np.all(decoded.candidates.popularity >= 0) and decoded.candidates.popularity.max() <= 1
    assert decoded.candidates.vectors.shape == (len(rows), bundle["vectors"]["dimensions"])
    # The model's unit vectors ship as unit vectors: no scale per row to send.
    assert "scale" not in bundle["vectors"] and "scale" not in bundle["model"]["centroids"]
    norms = np.linalg.norm(decoded.candidates.vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-12)


def test_a_story_is_linked_by_its_id_and_the_link_leads_to_its_own_page(client, newsroom):
    body = client.get(BUNDLE).content.decode()
    bundle = json.loads(body)
    assert bundle["format"] == FORMAT == 2
    # The browser's code reads the same format.
    assert re.search(r"export const FORMAT = (\d+);", RANKING_JS.read_text())[1] == str(FORMAT)
    assert "slug" not in bundle["article_fields"]
    story = Article.objects.get(pk=bundle["articles"][0][0])
    assert story.slug not in body  # links by id: no slug is shipped

    link = bundle["article_url"].replace("{id}", str(story.pk))
    response = client.get(link)

    assert response.status_code == 301
    assert response["Location"] == story.get_absolute_url()
    page = client.get(response["Location"])
    assert page.status_code == 200 and story.title in page.content.decode()
    # The page names its story, so the browser notes a read without a slug to match.
    assert f'data-article-id="{story.pk}"' in page.content.decode()
    assert 'data-article-id=""' in client.get(reverse("news:home")).content.decode()


def test_a_long_summary_is_cut_at_a_word_with_an_ellipsis(client, db):
    words = "The council voted on the harbour plan after a long debate about costs, "
    long_summary = (words * 4).strip()
    ArticleFactory(topics=[TopicFactory()], summary=long_summary)
    short = ArticleFactory(topics=[TopicFactory()], summary="Two lines at most.")
    bundle = _bundle(client.get(BUNDLE))
    fields = bundle["article_fields"]
    summaries = {row[0]: row[fields.index("summary")] for row in bundle["articles"]}

    cut = summaries[Article.objects.get(summary=long_summary).pk]
    assert len(cut) <= SUMMARY_CHARACTERS and cut.endswith("…")
    assert long_summary.startswith(cut.removesuffix("…"))
    # At a word: what is kept ends where a word of the whole summary ends.
    assert long_summary[len(cut) - 1] in " ," and not cut.endswith(" …")
    assert summaries[short.pk] == "Two lines at most."


def test_summary_cut_keeps_whole_words_and_cuts_a_lone_long_word_where_it_must():
    assert summary_cut("word " * 30) == ("word " * 24).strip() + "…"
    assert summary_cut("a" * 200) == "a" * 119 + "…"
    fits = "x" * SUMMARY_CHARACTERS
    assert summary_cut(fits) == fits
    assert summary_cut("x" * 118 + " tail end") == "x" * 118 + "…"
    # No comma or full stop before the ellipsis.
    assert summary_cut("y" * 112 + ", zzzzzzzzzzzzzzzz") == "y" * 112 + "…"


def test_what_readers_do_never_changes_the_bundle(client, newsroom):
    reader = verified_reader()
    reader_choices(reader, level="topics_history")  # (which adds a topic: bundles list them)
    before = client.get(BUNDLE).content
    accounts_services.preferences_set_topics(user=reader, topic_ids=[newsroom["Food"].pk])
    client.force_login(reader)
    client.get(Article.objects.first().get_absolute_url())
    assert client.get(BUNDLE).content == before
    # Built afresh from the same catalogue and model: the very same bytes.
    assert bundle_bytes(bundle_build()) == before


def test_a_withdrawn_story_leaves_the_bundle_at_once(client, newsroom):
    bundle = _bundle(client.get(BUNDLE))
    withdrawn = Article.objects.get(pk=bundle["articles"][0][0])
    article_unpublish(article=withdrawn, changed_by="editor@example.com")
    after = _bundle(client.get(BUNDLE))
    assert withdrawn.pk not in {row[0] for row in after["articles"]}
    assert withdrawn.title not in client.get(BUNDLE).content.decode()


def test_the_bundle_is_built_once_and_then_served_as_kept(newsroom, django_assert_max_num_queries):
    first = bundle_current()
    with django_assert_max_num_queries(1):
        again = bundle_current()
    assert again.body == first.body and again.etag == first.etag


def test_the_bundle_without_a_model_is_still_a_valid_bundle(client, db):
    from tests.factories import ArticleFactory, TopicFactory

    ArticleFactory(topics=[TopicFactory()])
    bundle = _bundle(client.get(BUNDLE))
    assert bundle["model_version"] is None
    assert len(bundle["articles"]) == 1
    assert bundle_decode(bundle).candidates.vectors.shape[0] == 1


def test_unit_rows_ship_without_scales_and_come_back_as_unit_vectors():
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(40, 64))
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix[3] = 0.0
    encoded = int8_encode(matrix)
    assert "scale" not in encoded
    decoded = int8_decode(encoded)
    norms = np.linalg.norm(decoded, axis=1)
    assert np.allclose(np.delete(norms, 3), 1.0, atol=1e-12) and norms[3] == 0.0
    # Each row keeps its direction: cosine to the original above 0.999.
    cosines = np.sum(np.delete(decoded, 3, 0) * np.delete(matrix, 3, 0), axis=1)
    assert cosines.min() > 0.999


def test_int8_keeps_each_value_within_half_a_step_of_its_row_scale():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(50, 16))
    matrix[7] = 0.0
    encoded = int8_encode(matrix)
    decoded = int8_decode(encoded)
    steps = np.array(encoded["scale"])[:, None]
    assert np.all(np.abs(decoded - matrix) <= steps / 2 + 1e-12)
    assert np.all(decoded[7] == 0.0)
