"""OpenAPI generation: every operation documents the error format for the failures any
request can meet, besides the responses its view declares."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from .api_errors import error_response

# Any request can meet these: bad input or query, a wrong or revoked token (refused even where
# signing in is optional), a missing CSRF token or permission, an unknown id, a rate limit.
COMMON_ERRORS = (400, 401, 403, 404, 429)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in COMMON_ERRORS:
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_response(status), str(status), direction=direction
                )
        return responses

    def get_serializer_name(self, serializer, direction):
        # Views nest their own InputSerializer / OutputSerializer: name the schema component
        # after the view ("PreferencesInput"), so no two views' components collide.
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.split(".")[-2:]
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
