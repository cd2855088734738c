from django.shortcuts import render

from .models import Story

CARDS = 30


def cards(request):
    stories = (
        Story.objects.filter(status="published")
        .only("slug", "title", "summary", "published_at")
        .order_by("-published_at")[:CARDS]
    )
    return render(request, "ceiling/cards.html", {"stories": stories})
