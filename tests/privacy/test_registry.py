"""The data registry covers every model that can hold a reader's personal data."""

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from accounts.models import Preferences
from accounts.services import preferences_set_purposes, preferences_set_topics
from privacy.browser_signals import NO_SIGNALS
from privacy.registry import LegalBasis, categories, category, registered_models
from tests.factories import TopicFactory


def models_relating_to_user() -> set:
    """Every installed model that points at the user, directly or through such a model."""
    user_model = get_user_model()
    related = {user_model}
    all_models = apps.get_models(include_auto_created=True)
    changed = True
    while changed:
        changed = False
        for model in all_models:
            if model in related:
                continue
            for field in model._meta.get_fields():
                if field.is_relation and field.concrete and field.related_model in related:
                    related.add(model)
                    changed = True
                    break
    return related


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
        }
        assert entry.retention()


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
