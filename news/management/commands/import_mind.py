"""Import articles from a MIND (Microsoft News Dataset) news.tsv; categories become topics."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from news.ingest import FeedUnreadable, mind_parse
from news.management.progress import entry_progress
from news.services import ImportAborted, mind_rows_import

from .import_feed import SOME_REFUSED


class Command(BaseCommand):
    help = (
        "Import a MIND news.tsv (NewsID, Category, SubCategory, Title, Abstract, URL, "
        "TitleEntities, AbstractEntities). Articles arrive as drafts unless --publish; rows "
        "already imported are skipped. A file that is not a MIND news.tsv is refused whole "
        "(nothing imported, exit code 1). Malformed rows are refused by line with their reason "
        "and the others imported, with exit code 2."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The news.tsv file.")
        parser.add_argument(
            "--publish", action="store_true", help="Publish the articles at once (demo data)."
        )

    def handle(self, *args, **options):
        path: Path = options["path"]
        try:
            size = path.stat().st_size
            if size > settings.MIND_IMPORT_MAX_BYTES:
                raise CommandError(
                    f"{path} is {size:,} bytes, over the MIND_IMPORT_MAX_BYTES limit of "
                    f"{settings.MIND_IMPORT_MAX_BYTES:,}; nothing imported."
                )
            content = path.read_bytes()
        except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
            reason = getattr(error, "strerror", None) or error
            raise CommandError(f"Cannot read {path}: {reason}; nothing imported.") from error
        try:
            entries = mind_parse(content)
        except FeedUnreadable as error:
            raise CommandError(f"{path.name}: {error} Nothing imported.") from error

        with entry_progress(
            stdout=self.stdout, stderr=self.stderr, total=len(entries), label=path.name
        ) as progress:
            try:
                result = mind_rows_import(
                    entries=entries,
                    publish=options["publish"],
                    on_progress=progress,
                    on_retry=progress.restart,
                )
            except ImportAborted as error:
                raise CommandError(f"{path.name}: {error}") from error
        self.stdout.write(f"{path.name}: {result.summary()}")
        if result.errors:
            raise CommandError(result.refusals(), returncode=SOME_REFUSED)
