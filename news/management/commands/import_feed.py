"""Import one RSS or Atom feed, from a file or an http(s) address, into a source."""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from news.ingest import FeedUnreadable, feed_parse
from news.management.progress import entry_progress
from news.safe_fetch import FetchError, fetch
from news.services import feed_entries_import, feed_source_for_import


def read_feed_file(path: Path) -> bytes:
    size = path.stat().st_size
    if size > settings.INGEST_MAX_BYTES:
        raise CommandError(
            f"{path} is {size} bytes, over the INGEST_MAX_BYTES limit of "
            f"{settings.INGEST_MAX_BYTES}; nothing imported."
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}; nothing imported.") from error


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name the system cannot even look up, such as one too long
        return False


class Command(BaseCommand):
    help = (
        "Import an RSS or Atom feed from a file or an http(s) address. New entries become "
        "drafts (or published articles when the source auto-publishes); running it again "
        "skips what is already there."
    )

    def add_arguments(self, parser):
        parser.add_argument("location", metavar="PATH_OR_URL", help="A feed file or address.")
        parser.add_argument(
            "--source",
            metavar="NAME",
            help="File entries under this source (created, not polled, if missing). Default: "
            "the source with this address, else one named after the feed.",
        )

    def handle(self, *args, **options):
        location: str = options["location"]
        path = Path(location)
        url = None
        if urlsplit(location).scheme.lower() in ("http", "https"):
            url = location
            try:
                content = fetch(url).content
            except FetchError as error:
                raise CommandError(f"{error} Nothing imported.") from error
        elif _is_file(path):
            content = read_feed_file(path)
        else:
            raise CommandError(
                f"'{location}' is neither a readable file nor an http(s) address; nothing imported."
            )
        try:
            feed = feed_parse(content)
        except FeedUnreadable as error:
            raise CommandError(f"{error} Nothing imported.") from error
        if feed.warning:
            self.stderr.write(f"Warning: {feed.warning}")
        try:
            source = feed_source_for_import(name=options["source"], url=url, feed=feed)
        except ValidationError as error:
            raise CommandError(
                f"Cannot use that source: {' '.join(error.messages)} Nothing imported."
            ) from error

        with entry_progress(
            stdout=self.stdout, stderr=self.stderr, total=len(feed.entries), label=source.name
        ) as on_progress:
            result = feed_entries_import(source=source, feed=feed, on_progress=on_progress)
        self.stdout.write(f"{source.name}: {result.summary()}")
