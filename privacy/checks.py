"""System checks: the master key is the key store's own (privacy.E010, E011); and the words a
reader agrees to state the periods the site applies.

A notice or explanation that writes a period by hand ("90 days") would go on promising it
after an operator changes the setting, and every new consent receipt would prove agreement
to a false text. Periods are written as `{SETTING_NAME}` instead (privacy.purposes)."""

import re
import string
from collections.abc import Iterable

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from .crypto import master_key_problem
from .purposes import OPTIONAL_PURPOSES

HAND_WRITTEN_PERIOD = re.compile(
    r"\b\d+\s*(?:second|minute|hour|day|week|month|year)s?\b", re.IGNORECASE
)


def period_problems(*, where: str, template: str, check_id: str) -> list[checks.CheckMessage]:
    """What is wrong with the periods of one text: written by hand, or naming a setting that
    is not a positive whole number."""
    problems: list[checks.CheckMessage] = []
    for period in HAND_WRITTEN_PERIOD.findall(template):
        problems.append(
            checks.Error(
                f"{where} states the period '{period}' by hand.",
                hint="Write it as {SETTING_NAME} so the text follows the setting the purge uses.",
                id=check_id,
            )
        )
    for _, name, _, _ in string.Formatter().parse(template):
        if not name:
            continue
        value = getattr(settings, name, None)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append(
                checks.Error(
                    f"{where} names the setting {name}, which is not a positive whole number "
                    f"({value!r}).",
                    id=check_id,
                )
            )
    return problems


def purpose_texts(purposes: Iterable) -> Iterable[tuple[str, str]]:
    for purpose in purposes:
        for part in ("reason", "stored", "retention_template", "when_off"):
            yield f"The notice of '{purpose.title}' ({part})", getattr(purpose, part)


@checks.register()
def notices_state_the_settings_periods(app_configs=None, purposes=OPTIONAL_PURPOSES, **kwargs):
    return [
        problem
        for where, template in purpose_texts(purposes)
        for problem in period_problems(where=where, template=template, check_id="privacy.E001")
    ]


def master_key_messages() -> list[checks.CheckMessage]:
    """privacy.E010: NEWSITE_MASTER_KEY is malformed; privacy.E011: it is a key, but not the
    one the key store was made with (every signed-in page of a reader with a key would fail).
    A key store that cannot be read yet (not migrated) has nothing to check against."""
    try:
        problem = master_key_problem()
    except DatabaseError:
        # No key store yet (before `migrate --database=keys`): nothing to check the key
        # against, and nothing it could fail to open.
        return []
    if problem is None:
        return []
    if problem.kind == "malformed":
        return [
            checks.Error(
                problem.message,
                hint="32 random bytes in url-safe base64, as `make .env` writes.",
                id="privacy.E010",
            )
        ]
    return [checks.Error(problem.message, id="privacy.E011")]


@checks.register()
def master_key_opens_the_key_store(app_configs=None, **kwargs):
    # Not tagged `database`: plain `check` (and so `runserver` and a worker) must refuse a
    # wrong key, not only `migrate`.
    return master_key_messages()
