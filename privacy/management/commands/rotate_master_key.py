"""Re-wrap every reader's data key under the current master key, after a master key change."""

import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from privacy.crypto import DecryptionFailed, master_key_fingerprint, master_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-wrap every data key under NEWSITE_MASTER_KEY, unwrapping with NEWSITE_OLD_MASTER_KEYS. "
        "Safe to run again; remove the old keys once it has succeeded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **options):
        # The bar goes to stderr, so stdout carries only the summary.
        console = Console(file=options.get("stderr") or sys.stderr)
        columns = (TextColumn("Re-wrapping data keys"), BarColumn(), MofNCompleteColumn())
        with Progress(
            *columns, TimeElapsedColumn(), console=console, disable=options["verbosity"] == 0
        ) as bar:
            task = bar.add_task("rotate", total=None)
            try:
                count = master_keys_rotate(
                    batch_size=options["batch_size"],
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
                fingerprint = master_key_fingerprint()
            except DecryptionFailed as error:
                # Earlier batches stay re-wrapped; a second run carries on from there.
                raise CommandError(f"{error} Re-wrapping stopped there.") from error
            except (ImproperlyConfigured, ValueError) as error:
                raise CommandError(str(error)) from error
        noun = "data key" if count == 1 else "data keys"
        self.stdout.write(
            self.style.SUCCESS(f"Re-wrapped {count} {noun} under master key {fingerprint}.")
        )
