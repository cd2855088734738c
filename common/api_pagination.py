"""Page-number pagination for API lists, at the site's page size."""

from django.conf import settings
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        # Read per request so NEWS_PAGE_SIZE set in tests or the environment applies.
        self.page_size = settings.NEWS_PAGE_SIZE
        return super().get_page_size(request)
