"""The data registry: every model that holds personal data, registered once with its
category, purpose, legal basis, retention and how its rows are exported, counted, erased and
purged.

The registry is open, as the admin's is: each app declares its own categories in its own
`personal_data.py` with `register()`, and `autodiscover()` (run from PrivacyConfig.ready)
imports those modules. The registry itself imports no app. The privacy center, export,
erasure, the retention purge and the public "what we collect and why" page all read
`categories()`, so adding a model with personal data means adding one entry in its app.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.module_loading import autodiscover_modules


class LegalBasis:
    CONTRACT = "Contract: needed to provide the service you signed up for"
    CONSENT = "Consent: only while you have it turned on"
    # For consent receipts only: the obligation is to prove consent.
    LEGAL_OBLIGATION = "Legal obligation: we must be able to prove what you agreed to"
    RIGHTS_REQUESTS = (
        "Legal obligation: we must carry out your requests about your data, and be able to "
        "show we did"
    )
    LEGITIMATE_INTEREST = (
        "Legitimate interest: a record of who changed what protects your account and the site"
    )


@dataclass(frozen=True)
class DataCategory:
    key: str
    title: str
    models: tuple[str, ...]  # "app_label.ModelName"; the first is the category's main model
    user_path: str | None  # lookup from the main model to the user; None: not linked by key
    purpose: str
    legal_basis: str
    retention: Callable[[], str]
    # Where it is listed (privacy center, export, public page): lower first.
    position: int = 100
    export_fields: tuple[str, ...] = ()
    # Custom export (rows as dicts) for sealed or derived data; default: export_fields.
    exporter: Callable | None = field(default=None, compare=False)
    # Custom count of the reader's rows; default: a query count, else the exported rows.
    counter: Callable | None = field(default=None, compare=False)
    # Custom erasure returning the number of rows removed; default: delete via user_path.
    eraser: Callable | None = field(default=None, compare=False)
    # Account erasure runs categories by this, lowest first (the account row itself last).
    erase_order: int = 0
    # Deletes everyone's rows past retention at `now`: {what was removed: how many}.
    purger: Callable[..., dict[str, int]] | None = field(default=None, compare=False)
    # Whether a reader may erase this category on its own, keeping the account.
    reader_erasable: bool = False

    @property
    def main_model(self) -> type[models.Model]:
        return apps.get_model(self.models[0])

    def _own_rows(self, *, user):
        return self.main_model.objects.filter(**{self.user_path: user.pk})

    def rows_for(self, *, user) -> list[dict]:
        if self.exporter is not None:
            return self.exporter(user=user)
        if self.user_path is None:
            return []
        return list(self._own_rows(user=user).values(*self.export_fields))

    def count_for(self, *, user) -> int:
        """How many rows the reader has here, without decrypting them where a query can
        count them (the privacy center's overview)."""
        if self.counter is not None:
            return self.counter(user=user)
        if self.user_path is not None:
            return self._own_rows(user=user).count()
        return len(self.rows_for(user=user))

    def erase_for(self, *, user) -> int:
        if self.eraser is not None:
            return self.eraser(user=user)
        if self.user_path is None:
            return 0
        return self._own_rows(user=user).delete()[0]

    def purge(self, *, now: datetime) -> dict[str, int]:
        return self.purger(now=now) if self.purger is not None else {}


_REGISTRY: dict[str, DataCategory] = {}


def register(*entries: DataCategory) -> None:
    """Declare categories of personal data; called from an app's `personal_data.py`."""
    for entry in entries:
        if entry.key in _REGISTRY and _REGISTRY[entry.key] != entry:
            raise ValueError(f"The data category {entry.key!r} is registered twice.")
        _REGISTRY[entry.key] = entry


def autodiscover() -> None:
    """Import every installed app's `personal_data` module, which registers its categories."""
    autodiscover_modules("personal_data")


def categories() -> tuple[DataCategory, ...]:
    return tuple(sorted(_REGISTRY.values(), key=lambda entry: entry.position))


def category(key: str) -> DataCategory:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise KeyError(f"No data category {key!r}.") from None


def registered_models() -> set[type[models.Model]]:
    return {apps.get_model(label) for entry in _REGISTRY.values() for label in entry.models}


# Retention wordings the apps' declarations share.


def days(setting: str, unit: str = "days") -> Callable[[], str]:
    return lambda: f"{getattr(settings, setting)} {unit}"


def until_account_deleted() -> str:
    return "until you delete your account"
