"""Plain-language explanations of the personalization levels, shown wherever one is chosen.

A period they state is the setting's name in braces, read from the settings when shown (see
privacy.purposes.settings_text), so it is the rule the retention purge applies."""

from collections.abc import Iterator, Mapping

from privacy.purposes import settings_text

from .models import Preferences

Level = Preferences.Level

LEVEL_TEMPLATES: dict[str, str] = {
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
        "reading history, encrypted and visible to you, for {PRIVACY_HISTORY_RETENTION_DAYS} "
        "days."
    ),
    Level.DEVICE: (
        "Your topics and what you read stay in this browser, which orders your front page "
        "itself; nothing about them is sent to us. We keep only this choice: topics you chose "
        "here and any reading history we kept are deleted. It needs JavaScript, and each "
        "browser keeps its own."
    ),
}


class _LevelExplanations(Mapping):
    """Level -> its explanation, with the settings' periods as they are now."""

    def __getitem__(self, level: str) -> str:
        return settings_text(LEVEL_TEMPLATES[level])

    def __iter__(self) -> Iterator[str]:
        return iter(LEVEL_TEMPLATES)

    def __len__(self) -> int:
        return len(LEVEL_TEMPLATES)


LEVEL_EXPLANATIONS: Mapping[str, str] = _LevelExplanations()
