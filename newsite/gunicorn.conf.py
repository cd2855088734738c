"""gunicorn settings for the site (`gunicorn -c newsite/gunicorn.conf.py newsite.wsgi`); every
value can be changed from the environment without editing this file."""

import os
import sys

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: every request is CPU work in Python (ranking, templates), so one process per
# core serves best; more workers than cores only adds context switches.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Measured on 2 cores (bench.load): sync serves the personalized home page faster than gthread
# with 2 or 4 threads, whose threads contend for each process's interpreter lock. Both can be
# chosen from the environment to measure again elsewhere.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A page that takes this long is stuck: the worker is replaced rather than holding a slot.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Loaded once in the master and shared copy-on-write by the workers: Django, NumPy and
# scikit-learn are imported once. The model itself is loaded lazily in each worker.
preload_app = True
# A worker restarts after this many requests (with jitter so they never restart together),
# which bounds any slow growth in memory.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The control socket (gunicorn 25.1 and later, for `gunicornc`) can add and remove workers,
# reload and stop the server. The site never uses it, and gunicorn's default location is
# shared: ./gunicorn.ctl in the working directory in some versions, $XDG_RUNTIME_DIR or
# ~/.gunicorn in others, the same for every gunicorn the user runs. So it is off, as gunicorn
# documents (`--no-control-socket`), unless GUNICORN_CONTROL_SOCKET names an absolute path of
# this site's own; then only the socket's owner may connect.
control_socket_path = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if control_socket_path and not os.path.isabs(control_socket_path):
    raise ValueError(
        f"GUNICORN_CONTROL_SOCKET must be an absolute path, not {control_socket_path!r}: a "
        "relative one would land in whatever directory gunicorn is started from."
    )
control_socket_disable = not control_socket_path
if control_socket_path:
    control_socket = control_socket_path
    control_socket_mode = 0o600


def on_starting(server):
    """Refuse to serve with a wrong or malformed NEWSITE_MASTER_KEY (or any other failed
    system check): every signed-in page of a reader with a key would be an error otherwise.
    The Celery worker refuses the same way (privacy.checks). Then compile the site's templates
    and freeze what the master holds (`common.serving`), once for every worker it forks."""
    import django
    from django.core.management import call_command

    django.setup()  # already done when the app is preloaded; harmless then
    call_command("check")  # raises SystemCheckError, naming the problem, and gunicorn stops
    # The checks read the key store: a connection left open here would be inherited by every
    # forked worker, which would then share one socket (answers crossed between workers).
    from django.db import connections

    connections.close_all()
    from common.serving import kept_objects_freeze, site_templates_compile

    try:
        site_templates_compile()
    except Exception:  # a worker compiles what it renders anyway
        server.log.exception("The site's templates could not be compiled before serving")
    kept_objects_freeze(collect=True)


def post_worker_init(worker):
    """A new worker (at start, and each time `max_requests` replaces one) loads the serving
    model and the feed's candidates before it takes a request: the first reader's page after
    a restart waited about 0.3 s for them (bench/README.md). Then what it loaded is frozen
    (`common.serving.kept_objects_freeze`). Nothing here may stop a worker from starting: a
    failure is logged and the first page loads them, as it would have. (The load test's bare
    Django app runs with this file too, without the feed.)"""
    from django.apps import apps
    from django.db import connections

    from common.serving import kept_objects_freeze

    try:
        if apps.is_installed("recommendations"):
            from recommendations.feed.pool import candidate_pool_warm

            candidate_pool_warm()
    except Exception:
        worker.log.exception("Worker %s could not load the feed before its first page", worker.pid)
    finally:
        connections.close_all()  # opened outside a request: each request manages its own
    kept_objects_freeze(collect=True)


def worker_exit(server, worker):
    """Write the feed impression counts this worker has not written yet (they are added up in
    the process, recommendations/impressions.py). A worker that never loaded the counters has
    none; a failure is logged, and the worker still exits."""
    impressions = sys.modules.get("recommendations.impressions")
    if impressions is None:
        return
    try:
        impressions.feed_impressions_flush()
    except Exception:
        server.log.exception("Feed impression counts not written at worker %s's exit", worker.pid)
