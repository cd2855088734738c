"""The personalization levels a reader chooses between, as privacy's recording rules read them.

The level is kept with the reader's preferences (accounts, a layer above privacy). Accounts
tells privacy where with `level_source_register` when it starts, as apps declare their
personal data to the registry, so privacy reads the level without importing accounts."""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import models


class Level(models.TextChoices):
    OFF = "off", "Off"
    TOPICS = "topics", "Topics only"
    TOPICS_HISTORY = "topics_history", "Topics + reading history"
    # Private mode: topics and reads stay in the reader's browser, which ranks the page from
    # the public candidate bundle (privatemode); the server keeps the level and nothing else.
    DEVICE = "device", "On this device only"


# The levels at which the server ranks a reader's front page from what it keeps about them
# (their topics, and at the top level their reads). At the others it keeps neither.
SERVER_PERSONALIZED_LEVELS = frozenset({Level.TOPICS, Level.TOPICS_HISTORY})


@dataclass(frozen=True)
class LevelSource:
    """The table and columns holding each reader's level (one row per reader at most)."""

    table: str
    user_column: str
    level_column: str


_source: LevelSource | None = None


def level_source_register(*, table: str, user_column: str, level_column: str) -> None:
    global _source
    _source = LevelSource(table=table, user_column=user_column, level_column=level_column)


def level_source() -> LevelSource:
    if _source is None:
        raise ImproperlyConfigured(
            "No app has told privacy where readers' personalization levels are kept "
            "(accounts does, in AccountsConfig.ready)."
        )
    return _source
