"""System checks: the words a reader agrees to state the periods the site applies.

A notice or explanation that writes a period by hand ("90 days") would go on promising it
after an operator changes the setting, and every new consent receipt would prove agreement
to a false text. Periods are written as `{SETTING_NAME}` instead (privacy.purposes)."""

import re
import string
from collections.abc import Iterable

from django.conf import settings
from django.core import checks

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
