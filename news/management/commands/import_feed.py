"""Import one RSS or Atom feed, from a file or an http(s) address, into a source."""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from news.ingest import FeedUnreadable, feed_parse
from news.management.progress import entry_progress
from news.safe_fetch import FetchError, fetch
from news.services import ImportAborted, feed_import

# The exit code of an import that refused some entries and imported the others.
SOME_REFUSED = 2


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
        "drafts (or published articles when the source auto-publishes), dated as the feed "
        "dates them; running it again skips what is already there. A document that is not a "
        "well-formed RSS or Atom feed (a file cut short, say) is refused whole: nothing is "
        "imported and the exit code is 1. In a well-formed feed, each entry that cannot become "
        "an article (no title, no text...) is refused by name with its reason, the others are "
        "imported, and the exit code is 2. Addresses inside the site's own network are "
        "refused; download such a feed and give the file instead."
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

        label = options["source"] or feed.title or "Imported feed"
        with entry_progress(
            stdout=self.stdout, stderr=self.stderr, total=len(feed.entries), label=label
        ) as progress:
            try:
                result = feed_import(
                    feed=feed,
                    source_name=options["source"],
                    url=url,
                    on_progress=progress,
                    on_retry=progress.restart,
                )
            except ValidationError as error:
                raise CommandError(
                    f"Cannot use that source: {' '.join(error.messages)} Nothing imported."
                ) from error
            except ImportAborted as error:
                raise CommandError(str(error)) from error
        self.stdout.write(f"{result.source.name}: {result.summary()}")
        if result.errors:
            raise CommandError(result.refusals(), returncode=SOME_REFUSED)
