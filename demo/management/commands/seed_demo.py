"""Load the demo topics and articles shipped with the site, and the demo accounts."""

import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import demo_accounts_ensure
from news.models import Article
from news.services import demo_content_load
from recommendations.models import ModelVersion
from recommendations.services import model_active_version, model_retrain

# The demo content ships with the news app.
DEMO_DIR = Path(__file__).resolve().parents[3] / "news" / "fixtures" / "demo"


def read_demo_documents(directory: Path) -> dict:
    """Merge every JSON document in the folder into one {topics, articles} document."""
    merged: dict[str, list] = {"topics": [], "articles": []}
    try:
        files = sorted(directory.glob("*.json"))
    except OSError as error:  # e.g. a folder name too long to look up
        raise CommandError(f"Cannot read {directory}: {error.strerror}") from error
    if not files:
        raise CommandError(f"No demo content found in {directory}.")
    for path in files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise CommandError(f"Cannot read {path.name}: {error}") from error
        if isinstance(document, dict) and not document.keys() & merged.keys():
            # Any other JSON in the folder (a package.json, a saved report) is not demo content:
            # loading it as an empty document would end in a confusing failure later.
            raise CommandError(
                f"Cannot read {path.name}: it has neither 'topics' nor 'articles', so it is not "
                f"demo content. Is {directory} the demo content folder?"
            )
        parts = [document.get(key, []) if isinstance(document, dict) else None for key in merged]
        if not all(isinstance(part, list) for part in parts):
            raise CommandError(
                f"Cannot read {path.name}: not an object with 'topics' and 'articles' lists."
            )
        for key, part in zip(merged, parts, strict=True):
            merged[key].extend(part)
    return merged


def first_sentence(problems: list[str]) -> str:
    """The first line of a recorded failure, for a message: its traceback stays in the record
    the editors' model panel shows, never in what the command prints."""
    first = next((line.strip() for text in problems for line in text.splitlines()), "")
    return (first[:300] or "no reason was recorded.").rstrip(".") + "."


class Command(BaseCommand):
    help = "Load demo topics, articles and accounts. Running it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=DEMO_DIR, help="Folder of JSON documents.")
        parser.add_argument("--no-accounts", action="store_true", help="Skip the demo accounts.")
        parser.add_argument(
            "--no-model", action="store_true", help="Skip training the first recommender model."
        )

    def handle(self, *args, **options):
        document = read_demo_documents(options["dir"])
        if (
            not options["no_model"]
            and not document["articles"]
            and not Article.objects.published().exists()
        ):
            raise CommandError(
                f"Nothing to publish: the demo content in {options['dir']} has no articles and "
                "the site has no published article to train the first recommender model on. "
                "Nothing was loaded; add articles, or pass --no-model."
            )
        try:
            result = demo_content_load(data=document)
        except ValidationError as error:
            raise CommandError(
                f"Demo content refused, nothing loaded: {' '.join(error.messages)}"
            ) from error
        if not options["no_accounts"]:
            for account in demo_accounts_ensure(fixed_passwords=settings.DEBUG):
                password = account.password or "(already existed, password unchanged)"
                self.stdout.write(f"  {account.role:<7} {account.email:<22} {password}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo content: {result.topics_created} topics and {result.articles_created} "
                f"articles created, {result.articles_skipped} articles already present."
            )
        )
        if not options["no_model"]:
            self._ensure_model()

    def _ensure_model(self):
        """The demo site gets a recommender model once; later runs leave it as it is."""
        active = model_active_version()
        if active is not None:
            self.stdout.write(f"Recommender: model v{active.version} already active.")
            return
        trained = model_retrain(trigger=ModelVersion.Trigger.DEMO)
        if not trained.activated:
            raise CommandError(
                f"The demo content loaded, but the first recommender model was not activated "
                f"({trained.status}): {first_sentence(trained.problems)} The editors' model "
                "panel shows the details."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Recommender: model v{trained.version} trained on {trained.article_count} "
                f"articles in {trained.seconds:.1f} s and activated."
            )
        )
