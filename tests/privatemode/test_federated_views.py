"""Private mode's federated update over HTTP: the bundle offers it with the weights, clip and
noise the server worked out; a well-formed update is kept as its day and numbers, without
cookie or address; anything else is refused with a clear message and changes nothing; an
address is throttled; the page states it, off by default; it can be off for the whole site."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from privacy.federated import noise_sigma
from privacy.models import FederatedUpdate
from recommendations.weights import FEDERATED_WEIGHTS
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(client):
    """Three live stories and the bundle as a browser gets it; returns its federated offer."""
    topic = TopicFactory()
    now = timezone.now()
    for hours in range(3):
        ArticleFactory(topics=[topic], published_at=now - timedelta(hours=hours + 1))
    bundle = json.loads(client.get(reverse("privatemode:bundle")).content)
    return {**bundle["federated"], "day": bundle["day"]}


def _post(client, body, **extra):
    return client.post(
        reverse("privatemode:federated"),
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        **extra,
    )


def _update(offer, **changes):
    return {"day": offer["day"], "update": [0.25, -0.5, 2.0, 1.0], **changes}


def test_the_bundle_offers_the_update_with_the_servers_noise(offer):
    assert offer["weights"] == list(FEDERATED_WEIGHTS)
    assert (offer["epsilon"], offer["delta"], offer["clip"]) == (1.0, 1e-6, 0.25)
    # Rounded up as shipped: never less noise than the epsilon stated.
    sigma = noise_sigma(epsilon=1.0, delta=1e-6, clip=0.25)
    assert sigma <= offer["sigma"] <= sigma + 1e-5
    assert offer["url"] == reverse("privatemode:federated")
    assert offer["max_reads"] > 0 and offer["max_delay_seconds"] > 0


def test_an_update_is_kept_as_its_day_and_numbers_without_cookie_or_address(client, offer):
    response = _post(client, _update(offer), REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"
    assert "set-cookie" not in {k.lower() for k in response.headers}
    assert response.cookies == {}
    kept = list(FederatedUpdate.objects.values())
    assert [(row["day"].isoformat(), row["vector"]) for row in kept] == [
        (offer["day"], [0.25, -0.5, 2.0, 1.0])
    ]
    assert "203.0.113.7" not in json.dumps(kept, default=str)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"update": [0, 0, 0, 0]}, "day and update, and nothing else"),
        ({"day": "{day}", "update": [0, 0, 0, 0], "id": "abc"}, "day and update, and nothing"),
        ([1, 2, 3], "day and update, and nothing else"),
        ({"day": "{day}", "update": [0, 0, 0]}, f"list of {len(FEDERATED_WEIGHTS)} numbers"),
        ({"day": "{day}", "update": [0, "x", 0, 0]}, "finite"),
        ({"day": "{day}", "update": [0, 0, 90, 0]}, "norm"),
        ({"day": "2020-01-01", "update": [0, 0, 0, 0]}, "today or yesterday"),
        ({"day": "soon", "update": [0, 0, 0, 0]}, "YYYY-MM-DD"),
        ('{"day": "{day}", "update": [NaN, 0, 0, 0]}', "JSON"),
        ("not json", "JSON"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message_and_nothing_is_stored(
    client, offer, body, message
):
    if isinstance(body, dict):
        body = {k: v.replace("{day}", offer["day"]) if k == "day" else v for k, v in body.items()}
    elif isinstance(body, str):
        body = body.replace("{day}", offer["day"])

    response = _post(client, body)

    assert response.status_code == 400
    text = response.json()["error"]["message"]
    assert message in text
    if "JSON" not in message:
        assert "Nothing was stored." in text
    assert not FederatedUpdate.objects.exists()


def test_an_oversized_body_is_refused_before_it_is_read(client, offer):
    response = _post(client, _update(offer, update=[0.0] * 400))
    assert response.status_code == 400
    assert "at most" in response.json()["error"]["message"]
    assert not FederatedUpdate.objects.exists()


def test_updates_are_throttled_per_address(client, offer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "private_federated": "2/hour",
        },
    }
    codes = [_post(client, _update(offer)).status_code for _ in range(3)]
    assert codes == [204, 204, 429]
    assert FederatedUpdate.objects.count() == 2


def test_only_a_post_is_taken(client, offer):
    assert client.get(reverse("privatemode:federated")).status_code == 405


def test_the_page_states_the_update_and_it_is_off_by_default(client):
    page = client.get(reverse("privatemode:start")).content.decode()
    assert 'id="private-mode-federated-on"' in page
    assert 'id="private-mode-federated-on" checked' not in page
    assert "ε = 1, δ = 1e-06 a day" in page
    assert f"sends {len(FEDERATED_WEIGHTS)} numbers" in page
    assert "no cookie and no identifier" in page


def test_federated_tuning_can_be_off_for_the_whole_site(client, settings):
    settings.FEDERATED_EPSILON = 0
    ArticleFactory(topics=[TopicFactory()], published_at=timezone.now() - timedelta(hours=1))
    bundle = json.loads(client.get(reverse("privatemode:bundle")).content)
    assert "federated" not in bundle
    assert "private-mode-federated" not in client.get(reverse("privatemode:start")).content.decode()
    response = _post(client, {"day": bundle["day"], "update": [0, 0, 0, 0]})
    assert response.status_code == 400 and "off" in response.json()["error"]["message"]
    assert not FederatedUpdate.objects.exists()
