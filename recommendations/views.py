"""The reader's control over the feed: "Show less like this"."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.services import preferences_show_less
from common.error_pages import error_page
from news.models import Topic


def _back(request) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("news:home")


@login_required
@require_POST
def show_less(request):
    raw = request.POST.get("topic", "")
    topic = Topic.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 else None
    if topic is None:
        return error_page(request, 400, "That cannot be done", "That topic does not exist.")
    try:
        preferences_show_less(user=request.user, topic=topic)
    except ValidationError as error:
        return error_page(request, 400, "That cannot be done", " ".join(error.messages))
    messages.success(request, f"Got it: you will see less about {topic.name}.")
    return redirect(_back(request))
