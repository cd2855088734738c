"""Example bodies shown in the privacy API's OpenAPI schema (drf-spectacular)."""

from privacy.purposes import PURPOSES

CONSENTS_EXAMPLE = {
    "purposes": [
        {
            "purpose": "digest",
            "title": "Weekly email digest",
            "granted": True,
            "notice": PURPOSES["digest"].notice,
            "notice_sha256": PURPOSES["digest"].notice_sha256,
        }
    ],
    "to_reconfirm": [],
    "changes": [],
    "browser_signal": False,
    "receipts": [
        {
            "purpose": "digest",
            "granted": True,
            "policy_version": "2026-11-01",
            "notice_sha256": PURPOSES["digest"].notice_sha256,
            "browser_signal": False,
            "source": "privacy_center",
            "created_at": "2026-11-23T09:00:00Z",
            "record_hash": "5d41402abc4b2a76b9719d911017c592" * 2,
        }
    ],
}


EXPORT_EXAMPLE = {
    "id": "0b6c3a4e-8f47-4c43-9a53-3c0f4b1b2a10",
    "status": "pending",
    "status_display": "Waiting to start",
    "progress": 0,
    "created_at": "2026-11-23T09:00:00Z",
    "ready_at": None,
    "expires_at": None,
    "size_bytes": None,
    "error": "",
    "download_url": None,
}


POLICY_EXAMPLE = {
    "version": "2026-11-01",
    "published_at": "2026-11-01T00:00:00Z",
    "takes_effect_at": "2026-11-01T00:00:00Z",
    "summary_of_changes": "First version.",
    "full_text": "We collect only what you turn on.\n\nYou can take it all away.",
    "changes_purposes": False,
    "changed_purposes": [],
}
