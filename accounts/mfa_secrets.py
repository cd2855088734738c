"""Encryption at rest of the second factor's secrets (TOTP secrets, recovery-code seeds), which
allauth keeps in `mfa.Authenticator.data`: AES-GCM under a key derived from the master key.

A copy of the database alone then holds no secret that computes a valid code. The key is a
subkey (HKDF) of NEWSITE_MASTER_KEY, never the master key itself, and a ciphertext names the
master key it was sealed under, so secrets stay readable with NEWSITE_OLD_MASTER_KEYS while a
rotation is under way (`mfa_secrets_rewrap` re-seals them under the current key).
"""

from __future__ import annotations

import base64
import binascii
import os

from allauth.mfa.models import Authenticator
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import transaction

from privacy.crypto import DecryptionFailed, MasterKeyMissing, master_keys_configured

# "mfa1$<master key fingerprint>$<url-safe base64 of nonce + ciphertext + tag>". A TOTP secret
# (base32), a seed (hex) or a recovery code (digits) never contains "$", so a sealed value is
# told apart from a plain one without guessing.
PREFIX = "mfa1"
SEPARATOR = "$"
NONCE_BYTES = 12
# The subkey's purpose: another use of the master key derives another, unrelated key.
HKDF_INFO = b"newsite:allauth.mfa:authenticator-secrets:v1"
# Binds a ciphertext to this use, so none sealed elsewhere under the same subkey opens here.
ASSOCIATED_DATA = b"mfa.Authenticator.data"

# The fields of `Authenticator.data` that allauth passes through its adapter's encrypt().
SEALED_FIELDS = ("secret", "seed")
SEALED_LISTS = ("migrated_codes",)


def _subkey(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(master_key)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX + SEPARATOR)


def seal(plaintext: str) -> str:
    """Encrypt a secret under the current master key's subkey."""
    current_id, keys = master_keys_configured()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_subkey(keys[current_id])).encrypt(nonce, plaintext.encode(), ASSOCIATED_DATA)
    body = base64.urlsafe_b64encode(nonce + sealed).decode()
    return SEPARATOR.join((PREFIX, current_id, body))


def unseal(value: str) -> str:
    """Decrypt a sealed secret; a plain or altered one is refused, never passed through."""
    parts = value.split(SEPARATOR)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionFailed("This second-factor secret is not sealed.")
    _, key_id, body = parts
    master_key = master_keys_configured()[1].get(key_id)
    if master_key is None:
        raise MasterKeyMissing(
            f"A second-factor secret is sealed under master key {key_id}, which is neither "
            "NEWSITE_MASTER_KEY nor in NEWSITE_OLD_MASTER_KEYS."
        )
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        plaintext = AESGCM(_subkey(master_key)).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], ASSOCIATED_DATA
        )
    except (InvalidTag, binascii.Error, ValueError) as error:
        raise DecryptionFailed("A second-factor secret is damaged.") from error
    return plaintext.decode()


def _sealed_under_current_key(value: str, current_id: str) -> bool:
    return is_sealed(value) and value.split(SEPARATOR)[1] == current_id


def data_sealed(data: dict) -> tuple[dict, bool]:
    """`Authenticator.data` with every secret sealed under the current master key (plain ones
    sealed, ones under an old key re-sealed); returns it and whether anything changed."""
    current_id, _ = master_keys_configured()

    def reseal(value: str) -> str:
        if _sealed_under_current_key(value, current_id):
            return value
        return seal(unseal(value) if is_sealed(value) else value)

    changed = dict(data)
    for field in SEALED_FIELDS:
        if isinstance(changed.get(field), str):
            changed[field] = reseal(changed[field])
    for field in SEALED_LISTS:
        if isinstance(changed.get(field), list):
            changed[field] = [reseal(v) for v in changed[field]]
    return changed, changed != data


def data_unsealed(data: dict) -> dict:
    """`Authenticator.data` with its secrets in plain text (to reverse the migration only)."""
    plain = dict(data)
    for field in SEALED_FIELDS:
        if isinstance(plain.get(field), str) and is_sealed(plain[field]):
            plain[field] = unseal(plain[field])
    for field in SEALED_LISTS:
        if isinstance(plain.get(field), list):
            plain[field] = [unseal(v) if is_sealed(v) else v for v in plain[field]]
    return plain


def mfa_secrets_rewrap(*, authenticators) -> int:
    """Seal every secret of `authenticators` (a queryset of `mfa.Authenticator`, current or
    historical model) under the current master key; returns how many rows changed. Running it
    again changes nothing."""
    changed_rows = []
    with transaction.atomic():
        # Locked: a recovery code spent meanwhile (allauth rewrites `data`) is not undone.
        for authenticator in authenticators.select_for_update().order_by("pk"):
            data, changed = data_sealed(authenticator.data)
            if changed:
                authenticator.data = data
                changed_rows.append(authenticator)
        authenticators.model.objects.bulk_update(changed_rows, ["data"], batch_size=500)
    return len(changed_rows)


def mfa_secrets_follow_master_key(**kwargs) -> int:
    """On `privacy.signals.master_key_rotated`: every two-factor secret under the new key."""
    return mfa_secrets_rewrap(authenticators=Authenticator.objects.all())
