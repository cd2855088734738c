"""Paging for API lists: `page` from 1 and `page_size` from 1 to MAX_PAGE_SIZE, the site's page
size (NEWS_PAGE_SIZE) when left out. One set of bounds for every list, the feed's included; a
page size outside them is refused with a 400 that says so, never silently changed."""

from django.conf import settings
from rest_framework import pagination, serializers

PAGE_SIZE_PARAM = "page_size"
MAX_PAGE_SIZE = 100
PAGE_SIZE_HELP = f"Items per page, from 1 to {MAX_PAGE_SIZE}; the site's page size when left out."


def page_size_field() -> serializers.IntegerField:
    """The `page_size` input, for views that page by hand (the feed) and for the paginator."""
    return serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text=PAGE_SIZE_HELP,
        error_messages={
            "invalid": f"Send a whole number of items per page, from 1 to {MAX_PAGE_SIZE}.",
            "min_value": "A page holds at least 1 item.",
            "max_value": f"A page holds at most {MAX_PAGE_SIZE} items.",
        },
    )


class _PageSizeInput(serializers.Serializer):
    page_size = page_size_field()


def page_size_asked(query_params) -> int:
    """The page size a request asks for, or the site's; a bad one raises DRF's ValidationError
    (the API's 400 with `fields.page_size`)."""
    # The query itself, not a dict of it: DRF then reads `?page_size=` (a blank form field) as
    # left out, as the feed's own input does.
    params = _PageSizeInput(data=query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data.get(PAGE_SIZE_PARAM) or settings.NEWS_PAGE_SIZE


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = PAGE_SIZE_PARAM
    max_page_size = MAX_PAGE_SIZE
    page_size_query_description = PAGE_SIZE_HELP

    def get_page_size(self, request):
        # Read per request so NEWS_PAGE_SIZE set in tests or the environment applies.
        self.page_size = page_size_asked(request.query_params)
        return self.page_size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "Page number, from 1."
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
        return parameters
