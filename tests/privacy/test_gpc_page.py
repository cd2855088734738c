"""The footer's "We honour Global Privacy Control" leads to a page that explains it in plain
words, tells the visitor whether their browser sends it, and links the machine-readable
statement, which stays where the GPC specification puts it."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from privacy.purposes import POPULAR_COUNTING, READING_HISTORY

pytestmark = pytest.mark.django_db

GPC_PAGE = reverse("privacy:gpc")


def footer_link(html: str) -> str:
    footer = html.split('<footer class="site-footer">', 1)[1]
    return re.search(r'<a href="([^"]+)">We honour Global Privacy Control\.</a>', footer).group(1)


def test_the_footer_link_leads_to_a_page_that_explains_gpc_and_links_the_json(client):
    link = footer_link(client.get(reverse("news:home")).content.decode())
    assert link == GPC_PAGE

    response = client.get(link)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>Global Privacy Control</h1>" in html
    assert "Do Not Track" in html
    # What it switches off, by the names readers see in the privacy center.
    assert escape(READING_HISTORY.title) in html and escape(POPULAR_COUNTING.title) in html
    assert "Signed out" in html and "Signed in" in html
    assert f'href="{reverse("privacy:consents")}"' in html
    assert 'href="/.well-known/gpc.json"' in html


def test_the_machine_readable_statement_stays_at_its_well_known_address(client, settings):
    response = client.get("/.well-known/gpc.json")

    assert response.status_code == 200
    assert response.json() == {"gpc": True, "lastUpdate": settings.GPC_LAST_UPDATE}


@pytest.mark.parametrize(
    ("headers", "gpc", "dnt"),
    [
        ({}, "off", "off"),
        ({"HTTP_SEC_GPC": "1"}, "on", "off"),
        ({"HTTP_DNT": "1"}, "off", "on"),
        ({"HTTP_SEC_GPC": "0", "HTTP_DNT": "yes"}, "off", "off"),
    ],
    ids=["none", "gpc", "dnt", "other-values"],
)
def test_the_page_tells_whether_this_browser_sends_the_signal(client, headers, gpc, dnt):
    response = client.get(GPC_PAGE, **headers)

    html = response.content.decode()
    assert f'<strong id="gpc-state">{gpc}</strong>' in html
    assert f'<strong id="dnt-state">{dnt}</strong>' in html
    # The answer depends on the headers, so no cache may serve one browser's to another.
    assert {"Sec-GPC", "DNT"} <= {v.strip() for v in response["Vary"].split(",")}


def test_the_page_is_the_same_for_a_signed_in_reader(client, reader):
    client.force_login(reader)

    response = client.get(GPC_PAGE, HTTP_SEC_GPC="1")

    assert response.status_code == 200
    assert '<strong id="gpc-state">on</strong>' in response.content.decode()
