"""Plain-language explanations of the personalization levels, shown wherever one is chosen."""

from .models import Preferences

Level = Preferences.Level

LEVEL_EXPLANATIONS: dict[str, str] = {
    Level.OFF: (
        "Nothing about you is used: you get editor's picks, fresh and popular stories, "
        "and we store nothing about your reading."
    ),
    Level.TOPICS: (
        "Only the topics you chose are used to order your front page; we store those topics "
        "and nothing about what you read."
    ),
    Level.TOPICS_HISTORY: (
        "Your topics and what you read here are used to suggest stories; we keep your "
        "reading history, encrypted and visible to you, for 90 days."
    ),
}
