"""The account pages read like the site: an "Account" page, allauth's pages in sentence case
and plain sentences."""

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_account_link_leads_to_an_account_page_with_every_sign_in_setting(client, reader):
    EmailAddress.objects.filter(user=reader).update(verified=True)
    client.force_login(reader)
    home = client.get(reverse("news:home")).content.decode()
    assert f'<a href="{reverse("accounts:account")}">Account</a>' in home
    html = client.get(reverse("accounts:account")).content.decode()
    assert "<h1>Your account</h1>" in html
    assert reader.email in html
    for name in ("account_email", "account_change_password", "mfa_index", "privacy:delete_account"):
        assert f'href="{reverse(name)}"' in html


def test_the_account_page_is_for_signed_in_readers(client):
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


@pytest.mark.parametrize(
    ("name", "heading", "wrong"),
    [
        ("account_signup", "Sign up", "Sign Up"),
        ("account_login", "Sign in", "Sign In"),
        ("account_reset_password", "Reset your password", "Password Reset"),
    ],
)
def test_allauth_pages_are_in_sentence_case_and_in_the_site_form_style(
    client, name, heading, wrong
):
    html = client.get(reverse(name)).content.decode()
    assert f"<h1>{heading}</h1>" in " ".join(html.split()).replace("<h1> ", "<h1>").replace(
        " </h1>", "</h1>"
    )
    assert wrong not in html
    assert 'class="stacked account-form"' in html


def test_confirming_an_email_asks_a_plain_question(client, reader):
    address = EmailAddress.objects.get(user=reader)  # as signed up: not yet confirmed
    key = EmailConfirmationHMAC(address).key
    html = client.get(reverse("account_confirm_email", args=[key])).content.decode()
    assert f"Is <strong>{reader.email}</strong> your email address?" in html
    assert "is an email address for user" not in html
