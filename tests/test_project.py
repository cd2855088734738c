"""Project-wide guarantees: migrations match the models, production settings are safe."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.processes import PRODUCTION_ENV, manage


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_production_settings_pass_the_deployment_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_pages_carry_a_strict_content_security_policy_and_security_headers(client, db):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_written_out_reader_query_answers_for_each_reader_and_refuses_other_filters(db):
    from accounts.selectors import reader_profile
    from accounts.services import preferences_set_topics
    from common.db_functions import ANY_READER, one_reader_sql
    from tests.factories import ReaderFactory, TopicFactory

    space, food = TopicFactory(name="Space"), TopicFactory(name="Food")
    first, second = ReaderFactory(), ReaderFactory()
    preferences_set_topics(user=first, topic_ids=[space.pk])
    preferences_set_topics(user=second, topic_ids=[food.pk])
    # The same SQL, built once, run for two readers: each sees only their own choices.
    assert reader_profile(user=first).topic_names == ("Space",)
    assert reader_profile(user=second).topic_names == ("Food",)

    @one_reader_sql
    def with_another_filter():
        from accounts.models import User

        return User.objects.filter(pk=ANY_READER, email="someone@example.org")

    with pytest.raises(ValueError, match="not only the reader's id"):
        with_another_filter()


# --- The site's own error pages and icon (the demo runs with DEBUG off, as production does) --


def test_an_unknown_address_gets_the_sites_own_404_page_not_a_list_of_url_patterns(
    client, db, settings
):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "error.html" in [template.name for template in response.templates]
    page = response.content.decode()
    assert "Page not found" in page and 'rel="icon"' in page
    assert "URLconf" not in page and "urlpatterns" not in page


def test_a_server_error_gets_the_sites_own_page_with_its_stylesheet(rf, settings):
    from django.urls import get_resolver

    settings.DEBUG = False
    handler = get_resolver().resolve_error_handler(500)
    response = handler(rf.get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "css/site.css" in page and 'rel="icon"' in page


def test_browsers_asking_for_favicon_ico_get_the_sites_icon(client, db, settings):
    settings.DEBUG = False
    asked = client.get("/favicon.ico")
    assert asked.status_code == 302
    icon = client.get(asked["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")


def test_every_address_reaches_its_own_page_whatever_order_the_urls_are_tried_in():
    # The front page's patterns are tried first (they serve most requests): none of them may
    # answer an address that another app's page owns, nor another app's one of theirs.
    import uuid

    from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
    from django.urls.converters import IntConverter, PathConverter, UUIDConverter

    def sample(converter) -> str:
        if isinstance(converter, IntConverter):
            return "7"
        if isinstance(converter, UUIDConverter):
            return str(uuid.UUID(int=7))
        return "a/b" if isinstance(converter, PathConverter) else "a-story"

    def named(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from named(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                converters = pattern.pattern.converters
                groups = pattern.pattern.regex.groupindex
                kwargs = {name: sample(converters.get(name)) for name in groups}
                yield namespace + pattern.name, kwargs

    checked = 0
    for name, kwargs in named(get_resolver().url_patterns):
        try:
            address = reverse(name, kwargs=kwargs)
        except Exception:  # noqa: BLE001 (a pattern these samples cannot fill: the admin's)
            continue
        match = resolve(address)
        assert match.view_name == name or name.startswith("admin:"), (
            f"{address} reaches {match.view_name}, not {name}"
        )
        checked += 1
    for name in ("news:home", "news:article", "news:search", "privacy:center", "account_login"):
        kwargs = {"slug": "a-story"} if name == "news:article" else {}
        assert resolve(reverse(name, kwargs=kwargs)).view_name == name
    assert checked > 100


@pytest.mark.parametrize("binding", ["1", "0"])
def test_both_databases_prepare_their_statements_unless_a_pooler_needs_them_not_to(binding):
    """The key store's lookup runs on every personalized page, as the feed's queries do: both
    databases have their statements prepared on the server; behind a transaction-mode pooler
    (`DATABASE_SERVER_SIDE_BINDING=0`) neither may, or the pooler's connections would fail."""
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": "postgres://news@db.example.org:5432/news",
        "KEYS_DATABASE_URL": "postgres://keys@keys.example.org:5432/news_keys",
        "DATABASE_SERVER_SIDE_BINDING": binding,
    }
    shown = (
        "import json; from django.conf import settings; print(json.dumps({name: "
        "database.get('OPTIONS', {}).get('server_side_binding', False) for name, database "
        "in settings.DATABASES.items()}))"
    )
    result = manage("shell", "-c", shown, env_overrides=env)
    assert result.returncode == 0, result.stderr
    on = binding == "1"
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"default": on, "keys": on}
