"""Values every page template needs: the site name and the topic navigation."""

from django.conf import settings
from django.core.cache import cache

from .selectors import topics_all

NAV_TOPICS_KEY = "news:nav-topics"
NAV_TOPICS_SECONDS = 300


def _nav_topics():
    # The same on every page for everyone: read once, forgotten when a topic changes
    # (news.signals), so a page does not query the topics each time.
    return cache.get_or_set(NAV_TOPICS_KEY, lambda: list(topics_all()), NAV_TOPICS_SECONDS)


def navigation(request):
    return {"site_name": settings.SITE_NAME, "nav_topics": _nav_topics}
