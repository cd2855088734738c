"""The re-consent banner: shown on every page until the reader answers for each purpose."""

from .selectors import purposes_to_reconfirm


def reconsent(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"purposes_to_reconfirm": purposes_to_reconfirm(user=user)}
