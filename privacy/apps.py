"""Privacy: data registry, consent, signal collection, retention, export and erasure."""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"
