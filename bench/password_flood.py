"""Password flood: what concurrent sign-ins cost the pages, with and without the site's cap on
concurrent password hashing (common.password_slots).

`python -m bench.password_flood [--flooders 4] [--pages 60] [--workers 2]`: a fresh database
of its own (FLOOD_DATABASE_URL) seeded by `seed_demo`, gunicorn with the production hasher
(PBKDF2 at Django's work factor) and settings; first the anonymous home page alone, then the
same while `--flooders` clients post correct passwords to the API's token endpoint without
pause. The per-account and per-address password limits are raised for the run, as if the
requests came from many accounts and addresses (what the cap is for). Runs once with the cap
at its default and once with it lifted; writes the table into bench/README.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

from bench.load import _free_port, _start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
FLOOD_DATABASE_URL = os.environ.get(
    "FLOOD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsite_floodbench"
)
FLOOD_CACHE_URL = os.environ.get("FLOOD_CACHE_URL", "redis://127.0.0.1:6379/9")
README = ROOT / "bench" / "README.md"
START, END = "<!-- password-flood:start -->", "<!-- password-flood:end -->"
DEMO_READER, DEMO_PASSWORD = "reader@example.com", "reader-demo-pass"


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": FLOOD_DATABASE_URL,
        "KEYS_DATABASE_URL": FLOOD_DATABASE_URL + "_keys",
        "CACHE_URL": FLOOD_CACHE_URL,
        "SECRET_KEY": "password-flood-benchmark-only-" + "x" * 30,
        "NEWSITE_MASTER_KEY": "cGFzc3dvcmQtZmxvb2QtYmVuY2htYXJrLW9ubHktMDA=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_MANIFEST": "0",
        "LOG_LEVEL": "WARNING",
        # As if every request came from another account and address: only the cap is left.
        "API_THROTTLE_PASSWORD": "100000/minute",
        "API_THROTTLE_ADDRESS": "100000/minute",
        "PASSWORD_FAILURES_PER_ACCOUNT": "100000",
        "PASSWORD_FAILURES_PER_ADDRESS": "100000",
    }


def _fresh_database(env: dict[str, str]) -> None:
    name = FLOOD_DATABASE_URL.rsplit("/", 1)[1]
    admin = FLOOD_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    # The site's database and its key store (newsite/db_routers.py).
    for database in (name, f"{name}_keys"):
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {database}"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {database}"], check=True)
    manage = [sys.executable, "manage.py"]
    for database in ("keys", "default"):
        migrate = [*manage, "migrate", "--noinput", "-v0", f"--database={database}"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    # The demo accounts with their known '<role>-demo-pass' passwords.
    subprocess.run(
        [*manage, "seed_demo", "--demo-passwords"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def _get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
    return time.perf_counter() - started


def _token(url: str) -> int:
    body = f'{{"email": "{DEMO_READER}", "password": "{DEMO_PASSWORD}"}}'.encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _home_medians(*, base: str, pages: int, flooders: int) -> dict:
    """The home page's latency alone, then under `flooders` clients posting passwords."""
    home = base + "/"
    for _ in range(5):
        _get(home)
    alone = [_get(home) for _ in range(pages)]
    stop, outcomes = threading.Event(), []

    def flood() -> None:
        while not stop.is_set():
            outcomes.append(_token(base + "/api/v1/auth/token/"))

    threads = [threading.Thread(target=flood) for _ in range(flooders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the flood reach every worker
    flooded = [_get(home) for _ in range(pages)]
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "alone": statistics.median(alone),
        "flooded": statistics.median(flooded),
        "flooded_p90": statistics.quantiles(flooded, n=10)[-1],
        "tokens_per_s": outcomes.count(201) / elapsed + outcomes.count(200) / elapsed,
        "refused_per_s": outcomes.count(429) / elapsed,
    }


def main() -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--pages", type=int, default=60, help="Home page requests per phase.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn (sync) workers.")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()

    env = _environment()
    _fresh_database(env)
    runs = []
    for label, cap in [
        ("no cap (slots 64)", {"PASSWORD_HASH_SLOTS": "64"}),
        ("cap (the default: half the cores, refused at once)", {}),
        ("cap, waiting up to 0.5 s for a slot", {"PASSWORD_HASH_WAIT_SECONDS": "0.5"}),
    ]:
        port = _free_port()
        server = _start_gunicorn(port=port, env={**env, **cap}, workers=args.workers)
        try:
            result = _home_medians(
                base=f"http://127.0.0.1:{port}", pages=args.pages, flooders=args.flooders
            )
        finally:
            server.terminate()
            server.wait(30)
        runs.append({"label": label, **result})
        print(
            f"{label}: home alone {result['alone'] * 1000:.0f} ms, flooded "
            f"{result['flooded'] * 1000:.0f} ms (p90 {result['flooded_p90'] * 1000:.0f} ms); "
            f"tokens {result['tokens_per_s']:.2f}/s, refused {result['refused_per_s']:.1f}/s",
            flush=True,
        )
    if not args.no_readme:
        _write_readme(runs, flooders=args.flooders, workers=args.workers, pages=args.pages)
    return runs


def _write_readme(runs: list[dict], *, flooders: int, workers: int, pages: int) -> None:
    rows = [
        f"| {r['label']} | {r['alone'] * 1000:.0f} | {r['flooded'] * 1000:.0f} | "
        f"{r['flooded_p90'] * 1000:.0f} | {r['tokens_per_s']:.2f} | {r['refused_per_s']:.1f} |"
        for r in runs
    ]
    table = "\n".join(
        [
            START,
            f"Run {date.today().isoformat()}: {os.cpu_count()} cores, {workers} sync gunicorn "
            f"workers, {flooders} clients posting correct passwords to `/api/v1/auth/token/` "
            f"without pause, {pages} home requests per phase.",
            "",
            "| setting | home median alone (ms) | home median flooded (ms) | flooded p90 (ms) "
            "| tokens issued /s | refused (429) /s |",
            "|---|---|---|---|---|---|",
            *rows,
            END,
        ]
    )
    text = README.read_text()
    if START in text:
        text = text[: text.index(START)] + table + text[text.index(END) + len(END) :]
    else:
        text += "\n## Password flood (concurrent sign-ins against the pages)\n\n" + table + "\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
