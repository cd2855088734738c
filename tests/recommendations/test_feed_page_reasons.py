"""Each card's reason is its own story's, though a page makes each distinct reason once:
stories in different followed topics name their own topic and lower it with "Show less like
this", and stories placed by the reading history name the read that placed them."""

import pytest

from accounts.models import Preferences
from privacy.browser_signals import NO_SIGNALS
from recommendations.feed.page import feed_page
from recommendations.services import model_retrain

from .conftest import follow

pytestmark = pytest.mark.django_db


def test_every_card_names_its_own_topic_or_read(newsroom, reader, record_read):
    model_retrain()
    space, food = newsroom.topics["space"], newsroom.topics["food"]
    follow(reader, space, food, level=Preferences.Level.TOPICS_HISTORY)
    read = newsroom.stories["food"][1]
    record_read(user=reader, article=read, signals=NO_SIGNALS)
    page = feed_page(user=reader)
    topic_of = {a: name for name, stories in newsroom.stories.items() for a in stories}
    followed = {"space": space, "food": food}
    seen = set()
    for item in page:
        name = topic_of[item.article]
        reason = item.reason
        seen.add(reason.kind)
        if reason.kind == "topic":
            assert reason.sentence == f"Because you follow {name.title()}"
        if reason.kind == "history":
            assert reason.sentence.startswith(f"Because you read '{read.title}'")
        if name in followed:
            assert reason.show_less_topic_id == followed[name].pk
            assert reason.show_less_topic_name == name.title()
        else:
            assert reason.show_less_topic_id is None
    assert "topic" in seen
