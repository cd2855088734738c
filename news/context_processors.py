"""Values every page template needs: the site name and the topic navigation."""

from django.conf import settings

from .selectors import topics_all


def navigation(request):
    return {"site_name": settings.SITE_NAME, "nav_topics": topics_all}
