"""The "Your data" page speaks to people: labels, not field names; words, not codes or
True/False; the site's one date format; article titles beside their ids."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from privacy.services import read_store
from tests.factories import ArticleFactory, reader_choices

pytestmark = pytest.mark.django_db

FIELD_NAMES = ("date_joined", "last_login", "notice_sha256", "record_hash", "created_at")


@pytest.fixture
def page(client, reader):
    with time_machine.travel(datetime(2026, 3, 4, 9, 5, tzinfo=UTC), tick=False):
        reader_choices(reader)
        article = ArticleFactory(title="Tide tables for the spring")
        read_store(user_id=reader.pk, article_id=article.pk, read_at=datetime.now(UTC).isoformat())
    client.force_login(reader)
    return client.get(reverse("privacy:data")).content.decode()


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html)]


def test_columns_are_labelled_for_people_not_by_field_name(page):
    headers = cells(page)
    assert "Account created" in headers and "Feature" in headers and "Choice" in headers
    for name in FIELD_NAMES:
        assert name not in page


def test_values_are_words_and_dates_are_in_the_site_format(page):
    values = cells(page)
    assert "True" not in values and "False" not in values
    assert "On" in values  # the consent receipt's choice
    assert "4 March 2026, 09:05" in values
    assert not any(re.fullmatch(r"\d{4}-\d\d-\d\dT.*", value) for value in values)
    # A fingerprint is shortened on the page, whole in its tooltip (and in the export).
    assert re.search(r'<code title="[0-9a-f]{64}">[0-9a-f]{12}…</code>', page)


def test_a_read_article_is_named_and_linked(page):
    assert re.search(r'<a href="/articles/[^"]+">Tide tables for the spring</a>', page)
