"""Private mode: the public bundle, the page that turns it on, and its browser code."""

from django.apps import AppConfig


class PrivateModeConfig(AppConfig):
    name = "privatemode"
    verbose_name = "Private mode"
