"""Every write to accounts: creating users and the demo accounts."""

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from news.permissions import EDITORS_GROUP

from .models import User


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    display_name: str = "",
    is_editor: bool = False,
    is_admin: bool = False,
) -> User:
    user = User(
        email=User.objects.normalize_email(email),
        display_name=display_name,
        is_staff=is_editor or is_admin,
        is_superuser=is_admin,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    if is_editor:
        user.groups.add(Group.objects.get(name=EDITORS_GROUP))
    return user


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str | None  # None when the account already existed: its password is unchanged
    created: bool


DEMO_ACCOUNTS = (
    ("reader", "reader@example.com", "Demo Reader", False, False),
    ("editor", "editor@example.com", "Demo Editor", True, False),
    ("admin", "admin@example.com", "Demo Admin", False, True),
)


def demo_accounts_ensure(*, fixed_passwords: bool) -> list[DemoAccount]:
    """Create the reader, editor and admin demo accounts if missing.

    With `fixed_passwords` (local demo) each password is '<role>-demo-pass'; otherwise a
    random one is generated and shown once. Existing accounts are left untouched.
    """
    accounts = []
    for role, email, name, is_editor, is_admin in DEMO_ACCOUNTS:
        if User.objects.filter(email=email).exists():
            accounts.append(DemoAccount(role=role, email=email, password=None, created=False))
            continue
        password = f"{role}-demo-pass" if fixed_passwords else secrets.token_urlsafe(12)
        user_create(
            email=email,
            password=password,
            display_name=name,
            is_editor=is_editor,
            is_admin=is_admin,
        )
        accounts.append(DemoAccount(role=role, email=email, password=password, created=True))
    return accounts
