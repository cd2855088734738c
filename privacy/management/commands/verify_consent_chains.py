"""Check that no consent receipt was altered, removed or reordered, against the keyed chain
and every published daily digest."""

from django.core.management.base import BaseCommand, CommandError

from privacy.services import consent_chains_verify


class Command(BaseCommand):
    help = (
        "Recompute every reader's keyed consent-receipt chain, check it against every "
        "published digest, and report any break."
    )

    def handle(self, *args, **options):
        report = consent_chains_verify()
        for problem in report.problems:
            where = f"reader {problem.user_id}" if problem.user_id is not None else "digests"
            receipt = f", receipt {problem.record_id}" if problem.record_id is not None else ""
            self.stderr.write(f"{where}{receipt}: {problem.problem}")
        if report.problems:
            raise CommandError(
                f"{len(report.problems)} problem(s) in {report.checked} consent receipts and "
                f"{report.digests} digests."
            )
        rekeyed = (
            f" {report.rekeyed} were re-keyed from the unkeyed chain by migration 0010."
            if report.rekeyed
            else ""
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"All {report.checked} consent receipts verified.{rekeyed} "
                f"{report.digests} published digests match."
            )
        )
