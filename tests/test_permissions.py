"""The permission matrix: every page and API endpoint, for every kind of visitor.

Rows are URL names; each cell is the status a GET gets from: an anonymous visitor, the reader
who owns the objects in the URL, another reader, an editor and an admin. A test also fails
when a URL exists that the matrix does not cover, so a new page cannot skip this review.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from privacy.models import ExportRequest, ReadingHistoryEntry
from privacy.services import read_store
from tests.factories import (
    AdminFactory,
    ArticleFactory,
    EditorFactory,
    ReaderFactory,
    reader_choices,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "owner", "other_reader", "editor", "admin")
LOGIN = 302  # sent to sign in
# name: (anonymous, owner, other reader, editor, admin)
MATRIX: dict[str, tuple[int, ...]] = {
    "healthz": (200, 200, 200, 200, 200),
    "favicon": (302, 302, 302, 302, 302),  # to the icon among the static files
    "news:home": (200, 200, 200, 200, 200),
    "news:article": (200, 200, 200, 200, 200),
    "news:article_short": (301, 301, 301, 301, 301),  # to the story's own address
    "news:topic": (200, 200, 200, 200, 200),
    "news:search": (200, 200, 200, 200, 200),
    "news:feed_rss": (200, 200, 200, 200, 200),
    "news:feed_atom": (200, 200, 200, 200, 200),
    "news:topic_feed_rss": (200, 200, 200, 200, 200),
    "news:topic_feed_atom": (200, 200, 200, 200, 200),
    "sitemap": (200, 200, 200, 200, 200),
    "robots_txt": (200, 200, 200, 200, 200),
    "media": (404, 404, 404, 404, 404),  # uploaded images; none in this world
    "news:editor_dashboard": (LOGIN, 403, 403, 200, 200),
    # POST only: a GET is refused before anything else is looked at.
    "news:editor_model_retrain": (405, 405, 405, 405, 405),
    "news:editor_model_rollback": (405, 405, 405, 405, 405),
    "recommendations:show_less": (LOGIN, 405, 405, 405, 405),
    "accounts:onboarding": (LOGIN, 302, 302, 302, 302),
    "accounts:onboarding_step": (LOGIN, 200, 200, 200, 200),  # none finished onboarding
    "accounts:account": (LOGIN, 200, 200, 200, 200),
    "accounts:preferences": (LOGIN, 200, 200, 200, 200),
    "privacy:gpc_json": (200, 200, 200, 200, 200),
    "privacy:gpc": (200, 200, 200, 200, 200),
    "privacy:transparency": (200, 200, 200, 200, 200),
    "privacy:policy": (200, 200, 200, 200, 200),
    "privacy:policy_version": (200, 200, 200, 200, 200),
    "privacy:what_we_collect": (200, 200, 200, 200, 200),
    "privacy:center": (LOGIN, 200, 200, 200, 200),
    # Private mode: the public bundle and its page for everyone; the account switch is a POST.
    "privatemode:bundle": (200, 200, 200, 200, 200),
    "privatemode:start": (200, 200, 200, 200, 200),
    "privatemode:account_level": (LOGIN, 405, 405, 405, 405),
    "privatemode:report": (405, 405, 405, 405, 405),  # POST only: a browser's daily report
    "privatemode:federated": (405, 405, 405, 405, 405),  # POST only: a browser's daily update
    "privacy:data": (LOGIN, 200, 200, 200, 200),
    "privacy:data_correct": (LOGIN, 405, 405, 405, 405),
    "privacy:category_erase": (LOGIN, 405, 405, 405, 405),
    "privacy:profile": (LOGIN, 200, 200, 200, 200),
    "privacy:profile_reset": (LOGIN, 405, 405, 405, 405),
    "privacy:personalization": (LOGIN, 405, 405, 405, 405),
    "privacy:history": (LOGIN, 200, 200, 200, 200),
    "privacy:history_clear": (LOGIN, 405, 405, 405, 405),
    "privacy:history_delete": (LOGIN, 405, 405, 405, 405),
    "privacy:consents": (LOGIN, 200, 200, 200, 200),
    "privacy:consent_choice": (LOGIN, 405, 405, 405, 405),
    "privacy:activity": (LOGIN, 200, 200, 200, 200),
    "privacy:delete_account": (LOGIN, 200, 200, 200, 200),
    "privacy:erased": (302, 302, 302, 302, 302),
    "privacy:export": (LOGIN, 200, 200, 200, 200),
    "privacy:export_confirm_password": (LOGIN, 200, 200, 200, 200),
    "privacy:export_status": (LOGIN, 302, 404, 404, 404),
    "privacy:export_download": (LOGIN, 302, 404, 404, 404),
    "api:schema": (200, 200, 200, 200, 200),
    "api:docs": (200, 200, 200, 200, 200),
    "api:redoc": (200, 200, 200, 200, 200),
    "api:auth_token": (401, 405, 405, 405, 405),  # POST signs in, DELETE signs out
    "api:articles": (200, 200, 200, 200, 200),
    "api:article": (200, 200, 200, 200, 200),
    "api:topics": (200, 200, 200, 200, 200),
    "api:feed": (200, 200, 200, 200, 200),
    "api:preferences": (401, 200, 200, 200, 200),
    "api:consents": (401, 200, 200, 200, 200),
    "api:history": (401, 200, 200, 200, 200),
    "api:history_entry": (401, 405, 405, 405, 405),
    "api:exports": (401, 200, 200, 200, 200),
    "api:export": (401, 200, 404, 404, 404),
    "api:export_download": (401, 403, 404, 404, 404),
    "api:reauth": (401, 405, 405, 405, 405),
    "api:policies": (200, 200, 200, 200, 200),
    "api:policy": (200, 200, 200, 200, 200),
    "api:account_erase": (401, 405, 405, 405, 405),
    # The trust survey: the signed-in reader's form, and a private-mode browser's answer.
    "trust:survey": (LOGIN, 405, 405, 405, 405),
    "trust:survey_randomized": (405, 405, 405, 405, 405),
}
# Third-party URL sets reviewed on their own: the admin (editor/admin permissions are tested
# in tests/news/test_admin.py) and allauth's account pages (tests/accounts/test_auth.py).
SKIPPED_PREFIXES = ("admin", "account_", "mfa_", "socialaccount_")


def _names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith(("admin/", "accounts/")):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name


def test_every_url_is_in_the_matrix():
    names = set(_names(get_resolver().url_patterns))
    names = {name for name in names if not name.startswith(SKIPPED_PREFIXES)}
    assert names - set(MATRIX) == set(), "add these URLs to the permission matrix"
    assert set(MATRIX) - names == set(), "these matrix rows name no URL"


@pytest.fixture
def world(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path
    owner = reader_choices(ReaderFactory())
    article = ArticleFactory(topics=[owner.preferences.topics.first()])
    read_store(user_id=owner.pk, article_id=article.pk, read_at=timezone.now().isoformat())
    export = ExportRequest.objects.create(
        user=owner,
        status=ExportRequest.Status.READY,
        file_name="copy.zip",
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "copy.zip").write_bytes(b"zip")
    users = {
        "anonymous": None,
        "owner": owner,
        "other_reader": reader_choices(ReaderFactory()),
        "editor": EditorFactory(),
        "admin": AdminFactory(),
    }
    entry = ReadingHistoryEntry.objects.get(user=owner)
    topic = article.topics.first()
    kwargs = {
        "news:article": {"slug": article.slug},
        "news:article_short": {"pk": article.pk},
        "media": {"path": "lead-images/missing.jpg"},
        "api:article": {"slug": article.slug},
        "news:topic": {"slug": topic.slug},
        "news:topic_feed_rss": {"slug": topic.slug},
        "news:topic_feed_atom": {"slug": topic.slug},
        "accounts:onboarding_step": {"step": 1},
        "privacy:policy_version": {"version": "2026-11-01"},
        "api:policy": {"version": "2026-11-01"},
        "privacy:category_erase": {"key": "reading_history"},
        "privacy:history_delete": {"entry_id": entry.pk},
        "api:history_entry": {"entry_id": entry.pk},
        "privacy:export_status": {"export_id": export.pk},
        "privacy:export_download": {"export_id": export.pk},
        "api:export": {"export_id": export.pk},
        "api:export_download": {"export_id": export.pk},
    }
    return users, kwargs


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_visitor_gets_the_expected_status(client, world, name):
    users, kwargs = world
    url = reverse(name, kwargs=kwargs.get(name))
    got = []
    for role in ROLES:
        client.logout()
        if users[role] is not None:
            client.force_login(users[role])
        got.append(client.get(url).status_code)
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, MATRIX[name], strict=True))


# Every page that changes something, posted without the CSRF token by a signed-in owner.
STATE_CHANGING = [
    "accounts:preferences",
    "accounts:onboarding_step",
    "privacy:data_correct",
    "privacy:category_erase",
    "privacy:profile_reset",
    "privacy:personalization",
    "privacy:history_clear",
    "privacy:history_delete",
    "privacy:consents",
    "privacy:consent_choice",
    "privacy:delete_account",
    "privacy:export",
    "privacy:export_confirm_password",
    "recommendations:show_less",
    "privatemode:account_level",
    "news:editor_model_retrain",
    "news:editor_model_rollback",
    "trust:survey",
]


# What a browser sends without cookies, so without a session a forged request could use: it
# changes no one's data (each view says why it takes no CSRF token).
SENT_WITHOUT_COOKIES = {
    "trust:survey_randomized",
    "privatemode:report",
    "privatemode:federated",
}


@pytest.mark.parametrize("name", STATE_CHANGING)
def test_a_state_change_without_the_csrf_token_is_refused_and_changes_nothing(world, name):
    from django.test import Client

    from privacy.models import ConsentRecord, PrivacyAuditEvent

    users, kwargs = world
    owner = users["owner"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    before = (
        ReadingHistoryEntry.objects.count(),
        ConsentRecord.objects.count(),
        PrivacyAuditEvent.objects.count(),
        ExportRequest.objects.count(),
    )
    response = client.post(
        reverse(name, kwargs=kwargs.get(name)),
        {"password": "correct-horse-battery-staple", "confirmation": "DELETE", "action": "pause"},
    )
    assert response.status_code == 403
    assert "nothing was saved" in response.content.decode()
    after = (
        ReadingHistoryEntry.objects.count(),
        ConsentRecord.objects.count(),
        PrivacyAuditEvent.objects.count(),
        ExportRequest.objects.count(),
    )
    assert after == before
    owner.refresh_from_db()
    assert owner.is_active


def test_every_post_only_page_is_in_the_csrf_list():
    post_only = {name for name, cells in MATRIX.items() if cells[1] == 405 and ":" in name}
    api = {name for name in post_only if name.startswith("api:")}
    assert post_only - api - SENT_WITHOUT_COOKIES <= set(STATE_CHANGING)
