"""Private mode's daily local DP report over HTTP: the bundle offers it, a well-formed report
is added to its day's sums and nothing else is stored; anything else is refused with a clear
message and changes nothing; an address is throttled; the page explains it and it can be off
for the whole site."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from privacy import ldp
from privacy.local_reports import tally_open
from privacy.models import LocalReportTally
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(client):
    """Five live stories and the bundle as a browser gets it; returns its report offer."""
    topic = TopicFactory()
    now = timezone.now()
    for hours in range(5):
        ArticleFactory(topics=[topic], published_at=now - timedelta(hours=hours + 1))
    bundle = json.loads(client.get(reverse("privatemode:bundle")).content)
    return {**bundle["local_reports"], "day": bundle["day"], "size": len(bundle["articles"])}


def _post(client, body, **extra):
    return client.post(
        reverse("privatemode:report"),
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        **extra,
    )


def _report(offer, index=0, seed=1):
    bits = ldp.oue_perturb(
        index, size=offer["size"], epsilon=offer["epsilon"], rng=np.random.default_rng(seed)
    )
    return {"bundle_version": offer["version"], "day": offer["day"], "bits": ldp.bits_pack(bits)}


def _sums(offer):
    tally = LocalReportTally.objects.get(version=offer["version"])
    return tally.reports, tally.ones


def test_the_bundle_offers_a_report_and_its_sums_are_ready(offer):
    assert offer["epsilon"] == 1.0
    assert offer["url"] == reverse("privatemode:report")
    assert offer["max_delay_seconds"] > 0
    assert _sums(offer) == (0, [0] * offer["size"])


def test_a_report_is_added_to_its_days_sums_and_nothing_else_is_kept(client, offer):
    body = _report(offer)
    bits = ldp.bits_unpack(body["bits"], size=offer["size"]).tolist()

    response = _post(client, body, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 204
    assert "set-cookie" not in {k.lower() for k in response.headers}
    assert response.cookies == {}
    assert _sums(offer) == (1, bits)
    _post(client, _report(offer, seed=2))
    reports, ones = _sums(offer)
    assert reports == 2 and sum(ones) >= sum(bits)
    # The sums are all there is: no field could hold an address, a time or an id.
    fields = {f.name for f in LocalReportTally._meta.get_fields()}
    assert fields == {"id", "version", "day", "epsilon", "article_ids", "ones", "reports"}
    assert "203.0.113.9" not in json.dumps(list(LocalReportTally.objects.values()), default=str)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bundle_version": "0" * 32}, "not one of today's or yesterday's"),
        ({"day": "2001-01-01"}, "not 2001-01-01"),
        ({"bits": "AAAAAAAA"}, "must be 5 bits"),
        ({"bits": "AA=!"}, "not valid base64"),
        ({"bits": 7}, "all strings"),
        ({"extra": "id-123"}, "and nothing else"),
    ],
)
def test_a_malformed_report_is_refused_with_a_clear_message_and_nothing_stored(
    client, offer, change, message
):
    response = _post(client, {**_report(offer), **change})

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert "othing was stored" in response.json()["error"]["message"]
    assert _sums(offer) == (0, [0] * offer["size"])


def test_a_report_setting_far_more_bits_than_randomization_does_is_refused(client):
    # Every bit set would add one to every story's count: an honest report of 200 candidates
    # sets about 54 of them.
    day = timezone.localdate()
    version = tally_open(day=day, epsilon=1.0, article_ids=list(range(1, 201)))
    body = {"bundle_version": version, "day": day.isoformat()}

    refused = _post(client, {**body, "bits": ldp.bits_pack(np.ones(200, np.uint8))})
    honest = ldp.oue_perturb(3, size=200, epsilon=1.0, rng=np.random.default_rng(4))
    taken = _post(client, {**body, "bits": ldp.bits_pack(honest)})

    assert refused.status_code == 400
    assert "more bits than a randomized report can" in refused.json()["error"]["message"]
    assert taken.status_code == 204
    assert LocalReportTally.objects.get(version=version).reports == 1


def test_a_body_larger_than_any_report_is_refused(client, offer):
    response = _post(client, {**_report(offer), "bits": "A" * 20_000})
    assert response.status_code == 400
    assert "at most" in response.json()["error"]["message"]
    assert _sums(offer) == (0, [0] * offer["size"])


def test_reports_are_throttled_per_address(client, offer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "private_report": "2/hour",
        },
    }
    codes = [_post(client, _report(offer, seed=s)).status_code for s in range(3)]
    assert codes == [204, 204, 429]
    assert _sums(offer)[0] == 2


def test_only_a_post_is_taken(client, offer):
    assert client.get(reverse("privatemode:report")).status_code == 405


def test_the_page_explains_the_report_and_it_is_off_by_default(client):
    page = client.get(reverse("privatemode:start")).content.decode()
    assert "Send one scrambled report a day" in page
    assert "ε = 1 a day" in page
    assert "no cookie, no account and no identifier" in page
    assert 'id="private-mode-reports-on" checked' not in page


def test_reports_can_be_off_for_the_whole_site(client, settings):
    settings.PRIVATE_MODE_REPORT_EPSILON = 0
    ArticleFactory(topics=[TopicFactory()], published_at=timezone.now() - timedelta(hours=1))
    bundle = json.loads(client.get(reverse("privatemode:bundle")).content)
    assert "local_reports" not in bundle
    assert not LocalReportTally.objects.exists()
    assert "scrambled report" not in client.get(reverse("privatemode:start")).content.decode()
