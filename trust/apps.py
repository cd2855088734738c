"""Trust: the survey of how comfortable readers are with how the site uses their data, and
the register of security and privacy incidents, both published on the transparency page."""

from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "trust"
    verbose_name = "Trust and incidents"
