"""A feed page's cards are joined in Python from the shared card bodies and each card's
reason: the same HTML as the card template renders, so the front page, the topic pages and
"More like this" show one card."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from news.cards import card_bodies, feed_cards_html
from recommendations.explanations import Reason
from recommendations.feed.page import FeedItem
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory

pytestmark = pytest.mark.django_db


def same_markup(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def items() -> list[FeedItem]:
    space = TopicFactory(name="Space & <Stars>")
    rocket = ArticleFactory(title='Rocket "launch" <today>', topics=[space])
    station = ArticleFactory(title="Station & crew", topics=[space])
    return [
        FeedItem(
            article=rocket,
            reason=Reason(
                kind="topic",
                sentence="Because you follow Space & <Stars>",
                control_url="/accounts/preferences/?from=card&x=<1>",
                control_label="Change your topics",
                show_less_topic_id=space.pk,
                show_less_topic_name="Space & <Stars>",
            ),
            list_type="personal",
        ),
        FeedItem(
            article=station,
            reason=Reason(
                kind="fresh", sentence="Just in", control_url="/signup/", control_label="Sign up"
            ),
            list_type="editorial",
        ),
    ]


@pytest.mark.parametrize("signed_in", [True, False])
def test_joined_cards_are_the_card_template_with_escaped_reasons(signed_in):
    user = ReaderFactory() if signed_in else AnonymousUser()
    feed = items()
    joined = feed_cards_html(items=feed, user=user)
    bodies = card_bodies(cards=[(item.article, item.list_type) for item in feed])
    by_template = "".join(
        render_to_string(
            "includes/article_card.html",
            {
                "article": item.article,
                "reason": item.reason,
                "via": item.list_type,
                "card_body": body,
                "user": user,
            },
        )
        for item, body in zip(feed, bodies, strict=True)
    )
    assert same_markup(joined) == same_markup(by_template)
    # Nothing a reason carries reaches the page unescaped.
    assert "<Stars>" not in joined and "&lt;Stars&gt;" in joined
    assert ("Show less like this" in joined) is signed_in
    assert 'href="/accounts/preferences/?from=card&amp;x=&lt;1&gt;"' in joined


def test_an_empty_feed_says_so():
    assert "No stories yet." in feed_cards_html(items=[], user=AnonymousUser())
