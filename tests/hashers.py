"""A fast hasher for the tests that still passes through the site's cap on concurrent
password hashing, so every sign-in path the suite drives is checked with the cap in place."""

from django.contrib.auth.hashers import MD5PasswordHasher

from common.password_slots import PasswordHashSlotsMixin


class SlotLimitedMD5PasswordHasher(PasswordHashSlotsMixin, MD5PasswordHasher):
    pass
