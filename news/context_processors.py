"""Values every page template needs: the site name and the topic navigation."""

from dataclasses import dataclass

from django.conf import settings

from common.sitewide import SiteWide

from .selectors import topics_all

NAV_TOPICS_KEY = "news:nav-topics:2"
NAV_TOPICS_SECONDS = 300


@dataclass(frozen=True)
class NavTopic:
    name: str
    slug: str
    url: str


def _nav_topics_compute() -> list[NavTopic]:
    return [
        NavTopic(name=topic.name, slug=topic.slug, url=topic.get_absolute_url())
        for topic in topics_all()
    ]


# The same on every page for everyone: read once, forgotten when a topic changes
# (news.signals), so a page neither queries the topics nor works out their links each time.
nav_topics = SiteWide(key=NAV_TOPICS_KEY, compute=_nav_topics_compute, seconds=NAV_TOPICS_SECONDS)


def navigation(request):
    return {"site_name": settings.SITE_NAME, "nav_topics": nav_topics.get}
