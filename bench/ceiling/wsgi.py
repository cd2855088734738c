"""WSGI entry point of the ceiling (`gunicorn -c newsite/gunicorn.conf.py bench.ceiling.wsgi`)."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ceiling.settings"
application = get_wsgi_application()
