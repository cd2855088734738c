"""Check that no consent receipt was altered, removed or reordered."""

from django.core.management.base import BaseCommand, CommandError

from privacy.services import consent_chains_verify


class Command(BaseCommand):
    help = "Recompute every reader's consent-receipt hash chain and report any break."

    def handle(self, *args, **options):
        checked, problems = consent_chains_verify()
        for problem in problems:
            self.stderr.write(
                f"reader {problem.user_id}, receipt {problem.record_id}: {problem.problem}"
            )
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in {checked} consent receipts.")
        self.stdout.write(self.style.SUCCESS(f"All {checked} consent receipts verified."))
