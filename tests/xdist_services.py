"""Each pytest-xdist worker's own Redis databases.

Two workers on one Redis database would empty each other's: tests flush the cache and the
scratch broker, real Celery workers consume from the broker, and the queue of reads is a list
on it. So before a worker starts, the run gives it databases of its own in its environment
(`CELERY_BROKER_URL`, a Redis `CACHE_URL`, `TEST_CACHE_REDIS_DB`, `TEST_SCRATCH_REDIS_DB`):
Django's settings, Celery and the processes tests start read them as they read any run's.

Worker N of n uses database d + N * (16 // n), modulo Redis's 16, for each database d the run
names, so a second run on the same server keeps apart by naming other databases. A run whose
databases would meet is refused before it starts. The defaults (the broker's 0, the tests' 15
and 14, and the README's cache 1) differ modulo 4, so even four workers fit on one server.

PostgreSQL needs nothing here: pytest-django names each worker's test databases after it
(`test_<name>_gw0`, the key store's too).
"""

from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_TEST_DATABASES = {"TEST_CACHE_REDIS_DB": 15, "TEST_SCRATCH_REDIS_DB": 14}
REDIS_SCHEMES = frozenset({"redis", "rediss", "rediscache", "valkey", "valkeys"})


def is_redis(url: str) -> bool:
    return url.partition("://")[0] in REDIS_SCHEMES and "://" in url


def redis_url(database: int | str, *, environ) -> str:
    """A Redis database of the tests' own, on the broker's server (or a local default one)."""
    broker = environ.get("CELERY_BROKER_URL", "")
    parts = urlsplit(broker if is_redis(broker) else DEFAULT_BROKER)
    return urlunsplit(parts._replace(path=f"/{database}", query=""))


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def _database(url: str, variable: str) -> int:
    path = urlsplit(url).path.strip("/")
    if not path:
        return 0
    if not path.isdigit():
        raise ValueError(f"{variable} names Redis database {path!r}, not a number.")
    return int(path)


def redis_uses(environ) -> list[tuple[str, str, int]]:
    """(variable, server, database) for every Redis database a test run empties or reads."""
    uses = []
    for variable in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = environ.get(variable, "")
        if is_redis(url):
            uses.append((variable, _server(url), _database(url, variable)))
    server = _server(redis_url(0, environ=environ))
    for variable, default in DEFAULT_TEST_DATABASES.items():
        value = environ.get(variable, str(default))
        if not value.isdigit():
            raise ValueError(f"{variable} must be a Redis database number, not {value!r}.")
        uses.append((variable, server, int(value)))
    for variable, _, database in uses:
        if database >= REDIS_DATABASES:
            raise ValueError(
                f"{variable} names Redis database {database}; a server has {REDIS_DATABASES}."
            )
    return uses


def worker_environments(environ, *, workers: int) -> list[dict[str, str]]:
    """The variables each of `workers` workers starts with; ValueError, naming both, when two
    would share a Redis database."""
    if not 1 <= workers <= REDIS_DATABASES:
        raise ValueError(f"{workers} workers cannot each have a Redis database of their own.")
    stride = REDIS_DATABASES // workers
    uses = redis_uses(environ)
    owners: dict[tuple[str, int], str] = {}
    environments = []
    for worker in range(workers):
        environment = {}
        for variable, server, database in uses:
            moved = (database + worker * stride) % REDIS_DATABASES
            owner = f"{variable} of worker gw{worker}"
            if (server, moved) in owners:
                raise ValueError(
                    f"Redis database {moved} on {server} would be both the "
                    f"{owners[server, moved]} and the {owner}: worker N of {workers} uses each "
                    f"of the run's databases plus N * {stride} (modulo {REDIS_DATABASES}). "
                    "Name other databases (CELERY_BROKER_URL, CACHE_URL, TEST_CACHE_REDIS_DB, "
                    "TEST_SCRATCH_REDIS_DB), or run fewer workers (-n 0: one process)."
                )
            owners[server, moved] = owner
            if variable.endswith("_URL"):
                url = urlsplit(environ[variable])
                environment[variable] = urlunsplit(url._replace(path=f"/{moved}"))
            else:
                environment[variable] = str(moved)
        environments.append(environment)
    return environments
