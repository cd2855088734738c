"""`manage.py` run as a separate process, as an operator runs it, with the environment a test
gives it; and the environment of a production deployment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, env_overrides: dict) -> subprocess.CompletedProcess:
    # The browser tests allow sync ORM calls beside Playwright's loop; production never does.
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 20 + "roduction-secret-with-enough-entropy-4f9a1c7e2b8d",
    "ALLOWED_HOSTS": "news.example.org",
    "STATIC_MANIFEST": "1",
    "SECURE_SSL_REDIRECT": "1",
    "NEWSITE_MASTER_KEY": "nF3cLoTlvpAqhdJRwb9yrv1kzZ9jw-QGoBDChpaRNbA=",
}
