"""Sign-up, verification, sign-in and reset through allauth, as a visitor experiences them."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, verified_reader

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def sign_up(client, email="new.reader@example.org"):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def test_sign_up_sends_a_verification_email_and_the_link_leads_to_onboarding(client, settings):
    response = sign_up(client)
    assert response.status_code == 302
    assert User.objects.filter(email="new.reader@example.org").exists()
    assert len(mail.outbox) == 1
    # On the site's public address (SITE_URL), never the request's host.
    pattern = re.escape(settings.SITE_URL) + r"(/accounts/confirm-email/\S+)"
    link = re.search(pattern, mail.outbox[0].body)
    assert link, mail.outbox[0].body

    confirm = client.post(link.group(1))
    assert confirm.status_code == 302
    assert confirm["Location"] == reverse("accounts:onboarding")


def test_an_unverified_reader_cannot_sign_in_until_verified(client):
    sign_up(client)
    client.logout()
    mail.outbox.clear()
    response = client.post(
        reverse("account_login"),
        {"login": "new.reader@example.org", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


def test_sign_in_sends_a_new_reader_to_onboarding_then_home_once_done(client):
    reader = verified_reader()
    response = client.post(
        reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD}
    )
    assert response["Location"] == reverse("accounts:onboarding")

    client.post(reverse("accounts:onboarding_step", args=[1]), {"skip": "1"})
    client.logout()
    again = client.post(
        reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD}
    )
    assert again["Location"] == reverse("news:home")


def test_wrong_password_and_unknown_email_get_the_same_message(client):
    reader = verified_reader()
    wrong = client.post(reverse("account_login"), {"login": reader.email, "password": "nope-nope"})
    unknown = client.post(
        reverse("account_login"), {"login": "nobody@example.org", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors
    assert "not correct" in str(wrong.context["form"].errors)


def test_sign_up_with_a_taken_email_does_not_reveal_the_account(client):
    reader = verified_reader()
    taken = sign_up(client, email=reader.email)
    client.logout()
    fresh = sign_up(client, email="someone.else@example.org")
    # Both land on the same "check your inbox" page; the owner gets a warning email instead.
    assert taken["Location"] == fresh["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email=reader.email).count() == 1


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(client):
    reader = verified_reader()
    known = client.post(reverse("account_reset_password"), {"email": reader.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "ghost@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert any(reader.email in m.to for m in mail.outbox)


def test_repeated_failed_logins_are_rate_limited(client):
    reader = verified_reader()
    for _ in range(5):
        client.post(reverse("account_login"), {"login": reader.email, "password": "wrong"})
    # Even the right password is refused while the limit holds.
    blocked = client.post(
        reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD}
    )
    assert "Too many failed login attempts" in str(blocked.context["form"].errors)
    assert "_auth_user_id" not in client.session


def test_two_factor_setup_is_offered_to_a_signed_in_reader(client):
    reader = verified_reader()
    client.post(reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD})
    # Setting up a second factor first asks for the password again.
    ask = client.get(reverse("mfa_activate_totp"))
    assert ask["Location"].startswith(reverse("account_reauthenticate"))
    client.post(ask["Location"], {"password": DEFAULT_PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Authenticator" in html
    assert "otpauth://totp/" in html or "svg" in html


def test_account_pages_use_the_site_layout(client):
    html = client.get(reverse("account_login")).content.decode()
    assert 'class="site-header"' in html
    assert 'href="/static/css/site.css"' in html
