"""The API's JSON parser: DRF's, refusing JSON nested deeper than any request of ours needs
with a 400 instead of failing with a RecursionError (a 500) in the parser or after it."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The deepest body any endpoint takes is an object holding lists (preferences: two levels);
# 32 leaves room for clients' habits while keeping every later walk of the data shallow.
MAX_JSON_DEPTH = 32

TOO_DEEP = (
    f"The JSON body is nested too deeply (more than {MAX_JSON_DEPTH} levels); nothing was changed."
)


def _depth_exceeds(data, limit: int) -> bool:
    """Whether `data` holds containers nested more than `limit` deep (iterative, so a deep
    value cannot exhaust the stack here either)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The standard library's decoder recurses once per level: about a thousand
            # levels exhaust the stack before any of our limits is looked at.
            raise ParseError(TOO_DEEP) from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(TOO_DEEP)
        return data
