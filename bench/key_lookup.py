"""What a first visit saves by reading its reader's data key once: one key-store lookup,
timed against the same lookup answered from the request's memory.

`python -m bench.key_lookup [--repeat 2000]`: its own database (`BENCH_DATABASE_URL`) and key
store (`KEYS_DATABASE_URL`), both migrated; one reader with a data key; then, alternately, the
reader's key looked up in the key store (as before, the second time on a first visit) and
inside `data_keys_remembered` after a first lookup (now), each then unwrapped as sealing does.
Prints the medians and quartiles in microseconds, wall and CPU, and the load average.
"""

import argparse
import os
import statistics
import time

from bench.common import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    call_command("migrate", database="keys", verbosity=0)
    from accounts.models import User
    from privacy import crypto

    reader, _ = User.objects.get_or_create(email="key-lookup@bench.invalid")
    crypto.encrypt_for_user(user=reader, plaintext="warm", context="bench")

    def seal_key() -> None:
        # What sealing the kept page asks for: the reader's key, looked up and unwrapped.
        crypto._data_key_get_or_create(user_id=reader.pk)

    timings = {"key store": ([], []), "remembered": ([], [])}
    with crypto.data_keys_remembered():
        crypto._data_key_row(user_id=reader.pk)  # the first lookup of the request
        for index in range(args.repeat):
            order = ("key store", "remembered")
            for name in order if index % 2 == 0 else reversed(order):
                if name == "key store":
                    crypto._forget(user_id=reader.pk)  # as if nothing were remembered
                else:
                    crypto._data_key_row(user_id=reader.pk)
                wall, cpu = time.perf_counter(), time.process_time()
                seal_key()
                timings[name][0].append((time.perf_counter() - wall) * 1e6)
                timings[name][1].append((time.process_time() - cpu) * 1e6)
    print(f"{args.repeat} lookups each, alternating; load average {os.getloadavg()[0]:.1f}\n")
    print("| the key | wall p50 (p25-p75) | CPU p50 |")
    print("|---|---:|---:|")
    for name, (wall, cpu) in timings.items():
        q1, q2, q3 = statistics.quantiles(wall, n=4)
        print(f"| {name} | {q2:.0f} us ({q1:.0f}-{q3:.0f}) | {statistics.median(cpu):.0f} us |")


if __name__ == "__main__":
    main()
