"""The site's one settings module: every value that differs between machines comes from the
environment (or a local `.env` that git ignores), documented in `.env.example`."""

import os
from datetime import date
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = BASE_DIR / ".env"
if _env_file.exists():
    # Values already in the environment win over the file.
    env.read_env(str(_env_file), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "local-development-only-key-not-for-any-deployment-0123456789"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    # Only for its sitemap.xml template (frontpage.sitemaps); it has no models.
    "django.contrib.sitemaps",
    "rest_framework",
    # Hashed API tokens; before accounts, whose admin replaces knox's.
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "news",
    "recommendations",
    "privacy",
    "demo",
    "privatemode",
    "trust",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Around everything that opens a reader's data: their wrapped key read once a request.
    "privacy.key_memo.DataKeyMemoMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "common.password_slots.PasswordChecksBusyMiddleware",
    "accounts.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "privacy.middleware.BrowserPrivacySignalsMiddleware",
]

ROOT_URLCONF = "newsite.urls"
WSGI_APPLICATION = "newsite.wsgi.application"
ASGI_APPLICATION = "newsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "news.context_processors.navigation",
                "privacy.context_processors.reconsent",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections, checked before reuse, so a PostgreSQL restart is survived.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default is written by two processes in the demo (the web server and the
    # Celery worker). A writer waits for the other up to the timeout instead of failing with
    # "database is locked"; IMMEDIATE takes the write lock as a transaction begins, because a
    # read lock upgraded later fails at once whatever the timeout; WAL lets pages read while
    # the worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_TIMEOUT_SECONDS", default=20),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# The key store: readers' wrapped data keys, the daily pseudonym salts and the consent-chain
# key, in a database of its own with its own short backup retention (docs/operations.md), so a
# main-database backup holds nothing that opens it. Default: beside the main database, named
# <main>_keys (PostgreSQL) or <main file>_keys.sqlite3 (SQLite). Migrate it first:
# `manage.py migrate --database=keys && manage.py migrate`.
_main = DATABASES["default"]
if env("KEYS_DATABASE_URL", default=""):
    DATABASES["keys"] = env.db("KEYS_DATABASE_URL")
elif _main["ENGINE"] == "django.db.backends.sqlite3":
    _main_file = Path(_main["NAME"])
    DATABASES["keys"] = {**_main, "NAME": str(_main_file.with_stem(f"{_main_file.stem}_keys"))}
else:
    DATABASES["keys"] = {**_main, "NAME": f"{_main['NAME']}_keys"}
DATABASES["keys"].pop("TEST", None)
DATABASES["keys"]["OPTIONS"] = dict(DATABASES["keys"].get("OPTIONS", {}))
if DATABASES["keys"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["keys"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["keys"]["CONN_HEALTH_CHECKS"] = True
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql" and env.bool(
        "DATABASE_SERVER_SIDE_BINDING", default=True
    ):
        # Parameters bound by the server and statements prepared on their second run, in both
        # databases: the feed's queries and the key store's lookup have the same shape on
        # every page, and planning them cost more than running them (measured: 10.9 to 10.0
        # ms per page at 100,000 articles). Turn it off behind a pooler in transaction mode
        # (PgBouncer), which cannot keep prepared statements.
        _database.setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 2}
        )
    if _database["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, checking a kept connection without a round trip while its socket
        # is quiet (common/postgresql/base.py).
        _database["ENGINE"] = "common.postgresql"
DATABASE_ROUTERS = ["newsite.db_routers.KeyStoreRouter"]
# Days a backup of the key store is kept (stated to erased readers): after this, no copy of an
# erased reader's data key exists anywhere, and every main-database backup is noise for them.
KEY_STORE_BACKUP_RETENTION_DAYS = env.int("KEY_STORE_BACKUP_RETENTION_DAYS", default=7)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # Django's and allauth's, reading the signed-in reader with their session (one query).
    "accounts.backends.ModelBackend",
    "accounts.backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "news:home"

# --- Accounts (django-allauth) --------------------------------------------------------------
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# Verification is always required; the demo prints the link on the console.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_UNIQUE_EMAIL = True
# Sign-up, login and reset never tell whether an address has an account.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = None

# --- Client address and password guessing ---------------------------------------------------
# Reverse proxies in front of the site that each append the address they saw to
# X-Forwarded-For. 0: the client address is REMOTE_ADDR and X-Forwarded-For is ignored (a
# client can write anything there). The one source of the client address for allauth's
# limits, the API's throttles (DRF NUM_PROXIES) and the site's own password limits.
if env("API_NUM_PROXIES", default=None) is not None:
    raise ImproperlyConfigured("API_NUM_PROXIES was renamed TRUSTED_PROXY_COUNT.")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None
# Wrong passwords (and wrong second-factor codes) allowed per account and per client address
# in a window, counted together wherever a password is typed: the sign-in page (so the admin,
# which signs in through it), API tokens, re-authentication and account erasure.
PASSWORD_FAILURES_PER_ACCOUNT = env.int("PASSWORD_FAILURES_PER_ACCOUNT", default=5)
PASSWORD_FAILURES_PER_ADDRESS = env.int("PASSWORD_FAILURES_PER_ADDRESS", default=20)
PASSWORD_FAILURE_WINDOW_SECONDS = env.int("PASSWORD_FAILURE_WINDOW_SECONDS", default=600)
# Password hashing costs about a second of one core by design; at most this many hashes run
# at once across the whole site (counted in the cache's Redis; per process without it), so
# sign-in attempts cannot take every core from the pages. Beyond it: 429 with Retry-After.
# Only the capped hasher: any other listed would hash uncapped.
PASSWORD_HASHERS = ["common.password_slots.SlotLimitedPBKDF2PasswordHasher"]
PASSWORD_HASH_SLOTS = env.int("PASSWORD_HASH_SLOTS", default=max(1, (os.cpu_count() or 2) // 2))
if PASSWORD_HASH_SLOTS < 1:
    raise ImproperlyConfigured("PASSWORD_HASH_SLOTS must be 1 or more.")
# How long a password check may wait for a free slot before it is refused. 0 by default: a
# waiting request holds a worker, and under a flood that starves the pages (bench/README.md,
# "Password flood": with 0.5 s of waiting the flooded home page took ~1 s, refused at once 0.05 s).
PASSWORD_HASH_WAIT_SECONDS = env.float("PASSWORD_HASH_WAIT_SECONDS", default=0.0)
PASSWORD_HASH_RETRY_AFTER_SECONDS = env.int("PASSWORD_HASH_RETRY_AFTER_SECONDS", default=2)
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": (
        f"{PASSWORD_FAILURES_PER_ADDRESS}/{PASSWORD_FAILURE_WINDOW_SECONDS}s/ip,"
        f"{PASSWORD_FAILURES_PER_ACCOUNT}/{PASSWORD_FAILURE_WINDOW_SECONDS}s/key"
    ),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "confirm_email": "1/180s/key",
    "reauthenticate": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Encrypts TOTP secrets and recovery-code seeds at rest, under a key derived from
# NEWSITE_MASTER_KEY (accounts.mfa_secrets).
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_TOTP_ISSUER = env("SITE_NAME", default="Newsite")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    # With Redis down the site keeps serving: a cache miss instead of an error, logged.
    # Sign-in attempts, whose rate limits live here, are refused meanwhile (fail closed);
    # signed-in readers are unaffected (sessions and everything personal are in the database).
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
    )
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --- Language, time, files ----------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed static files need `collectstatic`; development and tests skip that step.
_static_backend = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if env.bool("STATIC_MANIFEST", default=not DEBUG)
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)
# Private files (exports, model artifacts) never live under a public URL.
PRIVATE_STORAGE_ROOT = env.path("PRIVATE_STORAGE_ROOT", default=BASE_DIR / "var" / "private")
# Without `collectstatic` (development, tests), serve straight from the app and static folders.
WHITENOISE_USE_FINDERS = not env.bool("STATIC_MANIFEST", default=not DEBUG)
# Files looked up on every request, so an edited stylesheet shows without a restart (debug, and
# the demo's DEBUG-off server); never with hashed files, which only `collectstatic` changes.
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS and env.bool(
    "WHITENOISE_AUTOREFRESH", default=DEBUG
)
FORMS_URLFIELD_ASSUME_HTTPS = True
# Uploaded content (articles' lead images, news.images): public files in the default storage.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# A path here, or an address on another host (object storage, a CDN: img-src then names it).
MEDIA_URL = env("MEDIA_URL", default="/media/")
# Django serves MEDIA_ROOT itself only when asked (debug, and `make demo` with DEBUG off);
# production serves it from the web server or from object storage in front of it.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": _static_backend},
}

# --- Security -----------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Database sessions that know their reader, so erasure can end them all.
SESSION_ENGINE = "accounts.sessions"
# Cookies only over HTTPS whenever DEBUG is off. The local demo (`make demo`) runs with DEBUG off
# over plain HTTP on this machine: it sets SECURE_COOKIES=0, or no browser could sign in.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# A strict Content-Security-Policy (django-csp): scripts and styles only from this site, never
# inline; no framing; forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *([MEDIA_URL] if "://" in MEDIA_URL else [])],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if SECURE_SSL_REDIRECT:
    # The health check is answered over plain HTTP so a load balancer can probe it.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Celery -------------------------------------------------------------------------------
# No broker configured means tasks run in-process, so a new machine needs no Redis.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # `make demo`: a real worker and beat with no server to install. kombu's filesystem
    # transport keeps each message as a file in one folder that the web server writes and the
    # worker reads (one machine only; production uses Redis). `make demo` makes the folders.
    _broker_folder = BASE_DIR / env("CELERY_BROKER_FOLDER", default=".demo/broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder / "queue"),
        "data_folder_out": str(_broker_folder / "queue"),
        "control_folder": str(_broker_folder / "control"),
        "processed_folder": str(_broker_folder / "processed"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "publish-scheduled-articles": {
        "task": "news.tasks.articles_publish_due",
        "schedule": 60.0,
    },
    # Each batch of queued reads schedules its own drain; this catches one that was lost.
    "store-queued-reads": {
        "task": "privacy.tasks.reads_store_queued",
        "schedule": 60.0,
    },
    # Every minute; each source is fetched only when its own poll interval has passed.
    "poll-feed-sources": {
        "task": "news.tasks.sources_poll_due",
        "schedule": 60.0,
    },
    # Just after midnight (TIME_ZONE), when yesterday is closed and its counts can be released.
    # After midnight: yesterday's consent-receipt chain heads, published on the transparency
    # page, so a receipt rewritten later shows against the copy anyone kept.
    "publish-consent-chain-digest": {
        "task": "privacy.tasks.consent_digest_publish",
        "schedule": crontab(hour=0, minute=5),
    },
    "aggregate-popularity-signals": {
        "task": "privacy.tasks.aggregate_pending",
        "schedule": crontab(hour=0, minute=15),
    },
    # Export files are personal data in one convenient file: deleted within minutes of expiry
    # rather than waiting for the nightly purge.
    # Exports asked for while the broker was down: their build message never reached a worker.
    "build-pending-exports": {
        "task": "privacy.tasks.exports_build_pending",
        "schedule": 300.0,
    },
    "expire-data-exports": {
        "task": "privacy.tasks.exports_purge",
        "schedule": 900.0,
    },
    # After the aggregation, so a day's raw events are released before they expire.
    "purge-expired-personal-data": {
        "task": "privacy.tasks.retention_purge",
        "schedule": crontab(hour=0, minute=45),
    },
    # Private mode's local reports of the day before yesterday (yesterday's may still come),
    # after the central release of that day, before the retrain that learns from both.
    "release-local-reports": {
        "task": "privacy.tasks.local_reports_release_pending",
        "schedule": crontab(hour=0, minute=30),
    },
    # Private mode's federated updates of the day before yesterday, after the central
    # release of that day (which takes a day with a ledger line as done), before the retrain.
    "release-federated-updates": {
        "task": "privacy.tasks.federated_release_pending",
        "schedule": crontab(hour=0, minute=35),
    },
    # Incident notices whose message never reached a worker (the broker was down).
    "send-pending-incident-notices": {
        "task": "trust.tasks.incident_notices_send_pending",
        "schedule": 300.0,
    },
    # Lead-image files a failed save left behind (none is ever shown: nothing points to them).
    "delete-orphaned-lead-images": {
        "task": "news.tasks.lead_images_orphaned_delete",
        "schedule": crontab(hour=3, minute=30),
    },
    # After the aggregation, so the new model learns from yesterday's released counts.
    "retrain-recommender": {
        "task": "recommendations.tasks.model_retrain",
        "schedule": crontab(hour=1, minute=15),
    },
    # An editor's "retrain now" asked while the broker was down: its message never got out.
    "retrain-if-requested": {
        "task": "recommendations.tasks.model_retrain_if_requested",
        "schedule": 300.0,
    },
    # Safety net for articles that went live without `article_publish` (admin form, importers):
    # they get a vector within a minute, so they can be recommended by content.
    "vectorise-fresh-articles": {
        "task": "recommendations.tasks.articles_vectorise_fresh",
        "schedule": 60.0,
    },
}

# --- Site ---------------------------------------------------------------------------------
SITE_NAME = env("SITE_NAME", default="Newsite")
# Where the site is reached; emails sent from Celery tasks have no request to build links from.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
NEWS_PAGE_SIZE = env.int("NEWS_PAGE_SIZE", default=20)
# The day the site opened to readers: the transparency page counts incidents since then.
SITE_LAUNCH_DATE = date.fromisoformat(env("SITE_LAUNCH_DATE", default="2026-11-01"))
# The trust score is published only once this many survey answers exist.
TRUST_SURVEY_MIN_ANSWERS = env.int("TRUST_SURVEY_MIN_ANSWERS", default=100)

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Newsite <news@localhost>")
if not DEBUG:
    EMAIL_HOST = env("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Ingest -------------------------------------------------------------------------------
# Limits on fetching a feed: a feed larger or slower than this is refused and logged on its
# source, so one bad feed cannot exhaust a worker.
INGEST_MAX_BYTES = env.int("INGEST_MAX_BYTES", default=5_000_000)
# A MIND news.tsv is read whole: MIND's largest is under 100 MB; far larger is not one.
MIND_IMPORT_MAX_BYTES = env.int("MIND_IMPORT_MAX_BYTES", default=256_000_000)
INGEST_TIMEOUT_SECONDS = env.float("INGEST_TIMEOUT_SECONDS", default=15.0)
# Feed errors shown to editors are forgotten after this many days.
INGEST_ERROR_RETENTION_DAYS = env.int("INGEST_ERROR_RETENTION_DAYS", default=30)

# --- Privacy ------------------------------------------------------------------------------
# The date our GPC handling last changed, published in /.well-known/gpc.json.
GPC_LAST_UPDATE = "2026-11-23"
CSRF_FAILURE_VIEW = "common.error_pages.csrf_failure"

# Encryption at rest: the master key (url-safe base64 of 32 random bytes) wraps every reader's
# data key; keep it out of the database and its backups, or crypto-shredding proves nothing.
NEWSITE_MASTER_KEY = env("NEWSITE_MASTER_KEY", default="")
if not NEWSITE_MASTER_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "NEWSITE_MASTER_KEY must be set when DEBUG is off (url-safe base64 of 32 random "
            'bytes; generate one with `python -c "import base64, os; '
            'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`).'
        )
    # Public, so development data is never protected: urlsafe_b64(sha256(b"newsite local
    # development only master key")).
    NEWSITE_MASTER_KEY = "Fu-nwoeAod8hvGVV5CY8ihaGizOOJ4C6aS7_vlKgDck="
# Previous master keys, kept only until `manage.py rotate_master_key` has re-wrapped every data key.
NEWSITE_OLD_MASTER_KEYS = env.list("NEWSITE_OLD_MASTER_KEYS", default=[])

# Retention, enforced daily by `purge_expired` (and shown on the public privacy pages).
PRIVACY_HISTORY_RETENTION_DAYS = env.int("PRIVACY_HISTORY_RETENTION_DAYS", default=90)
PRIVACY_SIGNAL_RETENTION_HOURS = env.int("PRIVACY_SIGNAL_RETENTION_HOURS", default=48)
PRIVACY_EXPORT_RETENTION_HOURS = env.int("PRIVACY_EXPORT_RETENTION_HOURS", default=24)
# An export's record (status and dates, no file) stays listed this long after the request.
PRIVACY_EXPORT_RECORD_DAYS = env.int("PRIVACY_EXPORT_RECORD_DAYS", default=7)
# Each copy reads every table holding the reader's data: a few a day is plenty for anyone.
PRIVACY_EXPORTS_PER_DAY = env.int("PRIVACY_EXPORTS_PER_DAY", default=3)
# Downloading a copy (and, later, erasing the account) needs the password typed this recently.
PRIVACY_REAUTH_SECONDS = env.int("PRIVACY_REAUTH_SECONDS", default=600)
PRIVACY_AUDIT_RETENTION_DAYS = env.int("PRIVACY_AUDIT_RETENTION_DAYS", default=730)
# Reads are queued in Redis by the article page and stored in batches this many seconds later.
PRIVACY_READ_QUEUE_KEY = env("PRIVACY_READ_QUEUE_KEY", default="newsite:reads:pending")
PRIVACY_READ_FLUSH_SECONDS = env.int("PRIVACY_READ_FLUSH_SECONDS", default=2)
# Differential privacy of popularity counts.
DP_EPSILON_PER_DAY = env.float("DP_EPSILON_PER_DAY", default=1.0)
# In the popularity counts (per article, per topic) each reader counts for at most this
# many articles a day: the noise grows with it, and 1 measured best on every figure
# (bench/README.md, "Laplace vs Gaussian" and the sparse catalogue). The editors'
# click-through counts per feed list type are two large sums: a wider bound costs them little.
DP_CONTRIBUTION_BOUND = env.int("DP_CONTRIBUTION_BOUND", default=1)
DP_CLICK_THROUGH_CONTRIBUTION_BOUND = env.int("DP_CLICK_THROUGH_CONTRIBUTION_BOUND", default=20)
# Counts under this are shown to editors as "<k".
DP_SUPPRESSION_THRESHOLD = env.int("DP_SUPPRESSION_THRESHOLD", default=10)
# Private mode's local DP reports (each browser's reader turns them on; off by default): the
# epsilon of the one randomized report a browser may send a day, at most 1; 0 turns reports
# off for the whole site (the bundle then offers none).
PRIVATE_MODE_REPORT_EPSILON = env.float("PRIVATE_MODE_REPORT_EPSILON", default=1.0)
if not 0 <= PRIVATE_MODE_REPORT_EPSILON <= 1:
    raise ImproperlyConfigured("PRIVATE_MODE_REPORT_EPSILON must be between 0 and 1.")
# A browser sends its report at a time drawn uniformly within this many seconds (or at its
# next visit, when the page is closed first), so the time says nothing of the read.
PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS = env.int(
    "PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS", default=600
)
# Private mode's federated tuning of the blend weights (off in each browser until its reader
# turns it on): each browser's daily update is clipped to this L2 norm and noised on the
# device with Gaussian noise for (epsilon, delta) local DP; 0 epsilon turns it off site-wide.
# A day's updates are averaged only when at least FEDERATED_MIN_UPDATES arrived.
FEDERATED_EPSILON = env.float("FEDERATED_EPSILON", default=1.0)
FEDERATED_DELTA = env.float("FEDERATED_DELTA", default=1e-6)
# The noise grows with the clip: on real readers a browser's update has a norm of 0.16 (median),
# 0.37 at the 90th percentile, so 0.25 clips a quarter of them and needs a quarter of the noise
# a clip of 1 does (bench/README.md, "Federated tuning of the blend").
FEDERATED_CLIP = env.float("FEDERATED_CLIP", default=0.25)
FEDERATED_MIN_UPDATES = env.int("FEDERATED_MIN_UPDATES", default=100)
if not (0 <= FEDERATED_EPSILON <= 4 and 0 < FEDERATED_DELTA < 1e-3 and FEDERATED_CLIP > 0):
    raise ImproperlyConfigured(
        "FEDERATED_EPSILON must be between 0 and 4, FEDERATED_DELTA between 0 and 0.001 "
        "(exclusive) and FEDERATED_CLIP positive."
    )
if FEDERATED_MIN_UPDATES < 2:
    raise ImproperlyConfigured("FEDERATED_MIN_UPDATES must be at least 2.")
# The share of personalized readers who, on a given day (drawn per reader and day from a keyed
# hash, nothing stored), see the editors' order instead of their own: the control group that
# makes the dashboard's personalization uplift causal. 0 turns it off; the transparency page
# says so whenever it is on.
PERSONALIZATION_HOLDOUT_SHARE = env.float("PERSONALIZATION_HOLDOUT_SHARE", default=0.0)
if not 0.0 <= PERSONALIZATION_HOLDOUT_SHARE < 1.0:
    raise ImproperlyConfigured(
        "PERSONALIZATION_HOLDOUT_SHARE is a share of readers: at least 0 (off) and under 1, "
        f"not {PERSONALIZATION_HOLDOUT_SHARE}."
    )

# --- Recommender --------------------------------------------------------------------------
# Model artifacts are pickles: private storage only (default var/private/models, git-ignored),
# never under a public URL or MEDIA.
RECOMMENDER_ARTIFACT_DIR = Path(
    env("RECOMMENDER_ARTIFACT_DIR", default=str(Path(str(PRIVATE_STORAGE_ROOT)) / "models"))
)
# Versions whose artifacts are kept for rollback (the active one included).
RECOMMENDER_KEEP_VERSIONS = env.int("RECOMMENDER_KEEP_VERSIONS", default=5)
# How often (seconds) each process checks whether another version was activated.
RECOMMENDER_RELOAD_SECONDS = env.int("RECOMMENDER_RELOAD_SECONDS", default=5)
# A retrain holding the lock longer than this is presumed dead and the lock is taken over.
RECOMMENDER_RETRAIN_LOCK_SECONDS = env.int("RECOMMENDER_RETRAIN_LOCK_SECONDS", default=2 * 3600)
# Training corpus: the most recent published articles, at most this many.
RECOMMENDER_TRAINING_MAX_ARTICLES = env.int("RECOMMENDER_TRAINING_MAX_ARTICLES", default=100_000)
RECOMMENDER_MAX_FEATURES = env.int("RECOMMENDER_MAX_FEATURES", default=50_000)
# Dimensions after TruncatedSVD (a corpus of up to 4 times as many stories keeps plain TF-IDF
# vectors). 64 keeps private mode's bundle of 2,000 stories under 300 KB gzipped; 128 ranked
# real readers no better beyond the spread of the noise (bench/README.md, "Private mode's
# bundle").
RECOMMENDER_SVD_COMPONENTS = env.int("RECOMMENDER_SVD_COMPONENTS", default=64)
# DP counts of the last N days feed the popularity prior, halving in weight every H days.
RECOMMENDER_POPULARITY_DAYS = env.int("RECOMMENDER_POPULARITY_DAYS", default=30)
RECOMMENDER_POPULARITY_HALF_LIFE_DAYS = env.float(
    "RECOMMENDER_POPULARITY_HALF_LIFE_DAYS", default=2.0
)
# Feed candidates: published in the last N days, the newest M at most.
RECOMMENDER_CANDIDATE_DAYS = env.int("RECOMMENDER_CANDIDATE_DAYS", default=14)
RECOMMENDER_MAX_CANDIDATES = env.int("RECOMMENDER_MAX_CANDIDATES", default=5_000)
# The candidates are read again this many seconds after a change the site made (a story, a
# topic or the model saved; a story published through the site's services is in the next page).
RECOMMENDER_CANDIDATE_CACHE_SECONDS = env.int("RECOMMENDER_CANDIDATE_CACHE_SECONDS", default=20)
# ...and this many seconds after the last read when nothing reported one (a change made outside
# the site, the oldest stories leaving the window).
RECOMMENDER_CANDIDATE_RECHECK_SECONDS = env.int(
    "RECOMMENDER_CANDIDATE_RECHECK_SECONDS", default=300
)
# A stale pool is rebuilt by a background thread while requests are served from the old
# one; off, the request that finds it stale rebuilds it (the test suite, where each test's
# data lives in a transaction only its own connection can see).
RECOMMENDER_CANDIDATE_REFRESH_IN_BACKGROUND = env.bool(
    "RECOMMENDER_CANDIDATE_REFRESH_IN_BACKGROUND", default=True
)
# Shared cache (Redis) around the feed, see recommendations/feed_cache.py; 0 turns one off.
# The non-personal first page, the same for every visitor it is shown to; forgotten at once
# when an article or the model changes, so this bounds only freshness and popularity drift.
FEED_PUBLIC_CACHE_SECONDS = env.int("FEED_PUBLIC_CACHE_SECONDS", default=60)
# A reader's own first page, sealed with their data key, forgotten on any change of theirs.
FEED_READER_CACHE_SECONDS = env.int("FEED_READER_CACHE_SECONDS", default=60)
# A story the reader read, noted in that same sealed entry while its write waits in the read
# queue (privacy.read_queue), at most this long: the write drops it, normally within seconds.
FEED_PENDING_READ_SECONDS = env.int("FEED_PENDING_READ_SECONDS", default=600)
# A reader's latest reads, sealed with their data key, for the pages computed while their
# history is unchanged (privacy/history_kept.py); any change of their data outdates it.
HISTORY_READS_KEPT_SECONDS = env.int("HISTORY_READS_KEPT_SECONDS", default=600)
# "More like this" story ids per article and model version.
MORE_LIKE_THIS_CACHE_SECONDS = env.int("MORE_LIKE_THIS_CACHE_SECONDS", default=600)
# The feed's impression counters are added up in each process and written at most every N
# seconds (0: on every page). A crashed worker may lose that many seconds of its counts, as a
# crash of PostgreSQL already may with their synchronous_commit off; never a reader's data.
FEED_IMPRESSIONS_FLUSH_SECONDS = env.float("FEED_IMPRESSIONS_FLUSH_SECONDS", default=1.0)
# Freshness halves every N hours.
RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS = env.float(
    "RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS", default=24.0
)
# Weight of diversity in maximal-marginal-relevance re-ranking: 0 = by score only, 1 = spread.
RECOMMENDER_DIVERSITY = env.float("RECOMMENDER_DIVERSITY", default=0.3)
# At most this many stories of one topic on one feed page.
RECOMMENDER_TOPIC_CAP = env.int("RECOMMENDER_TOPIC_CAP", default=6)
# Reads (newest first) that shape the profile of a reader at "Topics + reading history".
RECOMMENDER_HISTORY_LIMIT = env.int("RECOMMENDER_HISTORY_LIMIT", default=50)
# Reads (newest first) whose stories are left out of the feed: every read in the candidate
# window for all but the heaviest readers.
RECOMMENDER_EXCLUDED_READS = env.int("RECOMMENDER_EXCLUDED_READS", default=1_000)

# --- Public API (Django REST framework, docs/api.md) -----------------------------------------
# API tokens are django-rest-knox's: only a digest is stored. One per reader (accounts.services),
# lasting until revoked, as before hashing: an app holding one has no password or second factor
# to renew it with.
REST_KNOX = {"TOKEN_TTL": None, "AUTH_HEADER_PREFIX": "Token"}
REST_FRAMEWORK = {
    # Other clients send a token from POST /api/v1/auth/token/; the site's own pages use the
    # session (CSRF enforced on unsafe methods). Token first: its WWW-Authenticate header is
    # what makes "not signed in" a 401 rather than a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.api_parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.api_pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "common.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.api_errors.exception_handler",
    # Every caller is limited per address; a signed-in caller also per account, so neither
    # many accounts behind one address nor one account from many addresses escapes a limit.
    "DEFAULT_THROTTLE_CLASSES": [
        "common.api_throttles.AddressRateThrottle",
        "common.api_throttles.AccountRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "address": env("API_THROTTLE_ADDRESS", default="600/minute"),
        "account": env("API_THROTTLE_ACCOUNT", default="300/minute"),
        # Password checks (token sign-in, re-authentication, erasure), per address and per
        # account, on top of PASSWORD_FAILURES_*: slow enough that a password cannot be
        # guessed through the API.
        "password": env("API_THROTTLE_PASSWORD", default="10/minute"),
        # Asking for a copy of one's data starts a heavy build.
        "export": env("API_THROTTLE_EXPORT", default="10/hour"),
        # Private mode's local reports: one a browser a day; an address is kept only as a
        # keyed hash, for the throttle's window.
        "private_report": env("API_THROTTLE_PRIVATE_REPORT", default="30/hour"),
        # Private mode's federated updates: one a browser a day, counted the same way.
        "private_federated": env("API_THROTTLE_PRIVATE_FEDERATED", default="30/hour"),
    },
    # The client address: REMOTE_ADDR, or the X-Forwarded-For entry the nearest trusted proxy
    # added. Never None, with which DRF keys on the whole header a client writes itself.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": (
        "The public API of a privacy-first news site: articles, topics, your feed with the "
        "reason for every story, your preferences and every privacy right (consents, reading "
        "history, a copy of your data, erasure). Errors always look like "
        '`{"error": {"code": ..., "message": ..., "fields": {...}}}`. See docs/api.md.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the site itself: no CDN learns who reads the API docs.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {},
}
