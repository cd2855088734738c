"""WSGI entry point (gunicorn newsite.wsgi)."""

import os

# One BLAS thread per web worker: gunicorn already runs a worker per core, and extra threads
# in each would fight over the same cores while scoring a feed (measured: several times
# slower under load). Set before numpy is first imported; Celery workers keep the default.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsite.settings")
application = get_wsgi_application()
