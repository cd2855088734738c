"""The OpenAPI schema and its docs, and property-based checks with Schemathesis: the GET
endpoints, anonymous and with a reader's token, never fail with a 500 and always answer what
the schema says (status codes, content types, bodies)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_token_issue, preferences_set_level, preferences_set_topics
from newsite.wsgi import application
from privacy.browser_signals import NO_SIGNALS
from privacy.models import PolicyVersion
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The download answers a file; it is covered by the privacy API tests, not fuzzed here.
NOT_FUZZED = {"/api/v1/privacy/exports/{export_id}/download/"}


def test_schema_is_served_and_documents_every_operation(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path, operations in schema["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("description"), where
            # The one error format is documented on every operation.
            for status in ("400", "401", "404", "429"):
                error = operation["responses"][status]["content"]["application/json"]
                assert error["schema"]["$ref"].endswith("/Error"), where
    security = schema["components"]["securitySchemes"]
    assert {"tokenAuth", "cookieAuth"} <= set(security)


def test_docs_are_served_from_the_site(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # Swagger UI from the site's own static files, never from a CDN, and no inline script
    # (the Content-Security-Policy forbids it): its start-up script is a separate file.
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "<script>" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


@pytest.fixture
def content():
    science = TopicFactory(name="Science", slug="science")
    ArticleFactory.create_batch(3, topics=[science])
    PolicyVersion.objects.create(version="2026-01-01", summary_of_changes="First.", full_text="x")
    return science


@pytest.fixture
def keep_test_connection():
    """The WSGI app closes the database connection after each request; inside the test's
    transaction that would end the test. Django's test client avoids it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(settings, keep_test_connection):
    # Hundreds of quick requests: far below real traffic, but above the default per-minute
    # limits, which have their own tests.
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def _fuzz_get_operations(schema, headers: dict) -> int:
    """Run each GET operation with up to 20 derandomized examples; returns how many ran."""
    ran = 0
    for result in schema.include(method="GET").get_all_operations():
        operation = result.ok()
        if operation.path in NOT_FUZZED:
            continue

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        check()
        ran += 1
    return ran


def test_public_get_endpoints_conform_to_the_schema(api_schema, content):
    assert _fuzz_get_operations(api_schema, headers={}) == 11


def test_signed_in_get_endpoints_conform_to_the_schema(api_schema, content, verified_reader):
    preferences_set_topics(user=verified_reader, topic_ids=[content.pk])
    preferences_set_level(
        user=verified_reader, level="topics", source="preferences", signals=NO_SIGNALS
    )
    token = api_token_issue(user=verified_reader).key
    assert _fuzz_get_operations(api_schema, headers={"Authorization": f"Token {token}"}) == 11
