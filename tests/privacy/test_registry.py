"""The data registry covers every model that can hold a reader's personal data."""

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Preferences
from accounts.services import preferences_set_purposes, preferences_set_topics
from privacy.browser_signals import NO_SIGNALS
from privacy.registry import LegalBasis, categories, category, registered_models
from tests.conftest import models_relating_to_user
from tests.factories import TopicFactory


def test_every_model_that_relates_to_a_user_is_registered():
    missing = {m._meta.label for m in models_relating_to_user() - registered_models()}
    assert not missing, f"Register these in privacy/registry.py: {sorted(missing)}"


def test_the_completeness_check_would_catch_an_unregistered_model():
    # The walk itself must find indirect relations, e.g. preferred topics via preferences.
    found = {m._meta.label for m in models_relating_to_user()}
    assert {"accounts.PreferredTopic", "account.EmailConfirmation"} <= found


def test_every_category_states_purpose_basis_and_retention():
    keys = [c.key for c in categories()]
    assert len(keys) == len(set(keys))
    for entry in categories():
        assert entry.purpose.endswith(".")
        assert entry.legal_basis in {
            LegalBasis.CONTRACT,
            LegalBasis.CONSENT,
            LegalBasis.LEGAL_OBLIGATION,
            LegalBasis.RIGHTS_REQUESTS,
            LegalBasis.LEGITIMATE_INTEREST,
        }
        assert entry.retention()


def test_each_category_states_the_basis_that_is_true_of_it():
    # "We must be able to prove what you agreed to" is true of consent receipts alone; the
    # key that seals your data, your copies and your activity log rest on other grounds.
    proving = [e.key for e in categories() if e.legal_basis == LegalBasis.LEGAL_OBLIGATION]
    assert proving == ["consent_receipts"]
    assert category("data_key").legal_basis == LegalBasis.CONTRACT
    assert category("exports").legal_basis == LegalBasis.RIGHTS_REQUESTS
    assert category("privacy_activity").legal_basis == LegalBasis.RIGHTS_REQUESTS


def test_retention_shown_follows_the_settings(settings):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 30
    assert category("reading_history").retention() == "30 days"


@pytest.mark.django_db
def test_a_category_exports_and_erases_only_its_readers_rows(reader):
    other = get_user_model().objects.create_user(email="other@example.org", password="x" * 12)
    topic = TopicFactory(name="Science")
    for user in (reader, other):
        preferences_set_topics(user=user, topic_ids=[topic.pk])
        preferences_set_purposes(
            user=user,
            wanted={"region": True},
            region="east",
            source="preferences",
            signals=NO_SIGNALS,
        )
    rows = category("preferences").rows_for(user=reader)
    assert rows[0]["topics"] == "Science (weight 1.00)"
    assert rows[0]["region"] == "east"

    category("preferences").erase_for(user=reader)
    assert not Preferences.objects.filter(user=reader).exists()
    assert Preferences.objects.filter(user=other).exists()


# --- An open registry --------------------------------------------------------------------


def test_the_registry_imports_no_app_and_each_app_declares_its_own_categories():
    import ast
    from pathlib import Path

    import privacy.registry

    tree = ast.parse(Path(privacy.registry.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert all(name.split(".")[0] not in {"accounts", "news", "recommendations", "privacy"}
               for name in imported), imported  # fmt: skip
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree)), (
        "no relative import either"
    )

    declared_in = {entry.key: entry.retention.__module__ for entry in categories()}
    assert category("preferences").exporter.__module__ == "accounts.personal_data"
    assert category("feed_cache").exporter.__module__ == "recommendations.feed_cache"
    assert category("reading_history").exporter.__module__ == "privacy.personal_data"
    assert set(declared_in) >= {"account", "reading_history", "feed_cache", "exports"}


def test_a_second_declaration_of_a_category_is_refused():
    from dataclasses import replace

    from privacy.registry import register

    with pytest.raises(ValueError, match="'reading_history' is registered twice"):
        register(replace(category("reading_history"), title="Something else"))
    register(category("reading_history"))  # the same declaration again changes nothing
    assert category("reading_history").title == "Reading history"


def test_account_erasure_runs_the_account_category_last():
    order = sorted(categories(), key=lambda entry: entry.erase_order)
    assert order[-1].key == "account"


@pytest.mark.django_db
def test_the_overview_counts_the_history_without_decrypting_it(
    reader, article, record_read, django_assert_num_queries
):
    from privacy.crypto import data_key_destroy
    from tests.factories import reader_choices

    reader_choices(reader)
    for _ in range(3):
        record_read(user=reader, article=article, signals=NO_SIGNALS)
    history = category("reading_history")
    with django_assert_num_queries(1):
        assert history.count_for(user=reader) == 3
    data_key_destroy(user_id=reader.pk)  # no key: nothing could be decrypted now
    assert history.count_for(user=reader) == 3
