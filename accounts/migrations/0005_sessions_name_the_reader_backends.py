"""Sessions signed in before the site's own authentication backends name Django's and
allauth's; Django's login check accepts only a configured backend, so without this every
reader would be signed out once by the deployment. Each such session is re-saved naming the
backend that took that one's place (and back, if the migration is reversed)."""

from django.db import migrations

BACKENDS = {
    "django.contrib.auth.backends.ModelBackend": "accounts.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend": "accounts.backends.AuthenticationBackend",
}
BACKEND_SESSION_KEY = "_auth_user_backend"


def sessions_rename_backends(ReaderSession, renames: dict[str, str]) -> int:
    from accounts.sessions import SessionStore

    codec = SessionStore()
    changed = []
    for session in ReaderSession.objects.filter(user__isnull=False).iterator(chunk_size=2000):
        data = codec.decode(session.session_data)  # {} for one it cannot read: left alone
        backend = data.get(BACKEND_SESSION_KEY)
        if backend in renames:
            data[BACKEND_SESSION_KEY] = renames[backend]
            session.session_data = codec.encode(data)
            changed.append(session)
    ReaderSession.objects.bulk_update(changed, ["session_data"], batch_size=2000)
    return len(changed)


def forwards(apps, schema_editor):
    sessions_rename_backends(apps.get_model("accounts", "ReaderSession"), BACKENDS)


def backwards(apps, schema_editor):
    reverse = {new: old for old, new in BACKENDS.items()}
    sessions_rename_backends(apps.get_model("accounts", "ReaderSession"), reverse)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_reader_sessions")]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
