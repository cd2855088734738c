"""Load the demo topics and articles shipped with the site and the demo accounts; for a local
demo, also a few weeks of privacy-protected releases from simulated readers."""

import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from accounts.services import DEMO_ACCOUNTS, demo_accounts_ensure
from demo.services import (
    SIMULATED_DOMAIN,
    SIMULATED_READERS,
    demo_reader_onboard,
    simulated_days_release,
    simulated_readers_ensure,
    simulated_survey_answers,
)
from news.models import Article
from news.services import demo_content_load
from recommendations.models import ModelVersion
from recommendations.services import model_active_version, model_retrain

# The demo content ships with the news app.
DEMO_DIR = Path(__file__).resolve().parents[3] / "news" / "fixtures" / "demo"
DEMO_READER_EMAIL = next(email for role, email, *_ in DEMO_ACCOUNTS if role == "reader")
# The transparency page lists the releases of the last 90 days.
MAX_SIMULATED_DAYS = 90


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
        parser.add_argument(
            "--demo-passwords",
            action="store_true",
            help="Give new demo accounts the published passwords '<role>-demo-pass' (a local "
            "demo only; the default with DEBUG on). Otherwise each gets a random one, shown once.",
        )
        parser.add_argument(
            "--simulated-days",
            type=int,
            default=0,
            metavar="DAYS",
            help=f"A local demo only: {SIMULATED_READERS} simulated readers (addresses "
            f"@{SIMULATED_DOMAIN}, no password) read over the last DAYS closed days, each day "
            "released as the nightly job releases it (differential privacy, public ledger). "
            f"At most {MAX_SIMULATED_DAYS}; days already released are left alone.",
        )

    def handle(self, *args, **options):
        days = options["simulated_days"]
        if not 0 <= days <= MAX_SIMULATED_DAYS:
            raise CommandError(
                f"--simulated-days must be between 0 and {MAX_SIMULATED_DAYS}, not {days}. "
                "Nothing was loaded."
            )
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
            fixed = options["demo_passwords"] or settings.DEBUG
            for account in demo_accounts_ensure(fixed_passwords=fixed):
                password = account.password or "(already existed, password unchanged)"
                self.stdout.write(f"  {account.role:<7} {account.email:<22} {password}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo content: {result.topics_created} topics and {result.articles_created} "
                f"articles created, {result.articles_skipped} articles already present."
            )
        )
        if not options["no_accounts"]:
            self._onboard_demo_reader()
        released = self._simulate(days) if days else 0
        if not options["no_model"]:
            self._ensure_model(counts_changed=released > 0)

    def _onboard_demo_reader(self):
        reads = demo_reader_onboard(email=DEMO_READER_EMAIL)
        if reads is None:
            self.stdout.write("Demo reader: onboarded already, left as they are.")
        else:
            self.stdout.write(
                f"Demo reader: onboarded (topics chosen, reading history on), {reads} reads."
            )

    def _simulate(self, days: int) -> int:
        """The simulated readers, then their days released one by one, behind progress bars;
        returns how many days were released now."""
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.stdout, highlight=False, soft_wrap=True),
        )
        with progress:
            readers = progress.add_task("Simulated readers", total=SIMULATED_READERS)
            made = simulated_readers_ensure(
                count=SIMULATED_READERS, on_reader=lambda: progress.advance(readers)
            )
            released_days = progress.add_task("Their days, released", total=days)
            result = simulated_days_release(
                days=days, on_day=lambda day: progress.advance(released_days)
            )
        self.stdout.write(
            f"Simulated readers: {made} made, {SIMULATED_READERS} in all (@{SIMULATED_DOMAIN}, "
            "no password: nobody can sign in as them)."
        )
        if result.days_released:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Their reads: {result.reads} over {result.days_released} days, released "
                    f"with differential privacy (epsilon {result.epsilon_spent:.3g} in all, in "
                    "the public ledger)."
                )
            )
        else:
            self.stdout.write(f"Their reads: no day of the last {days} was left to release.")
        answered = simulated_survey_answers(days=days)
        if answered:
            self.stdout.write(
                f"Their answers to the trust survey: {answered}, each randomized before it was "
                "stored."
            )
        return result.days_released

    def _ensure_model(self, *, counts_changed: bool):
        """The demo site gets a recommender model once; later runs leave it as it is, unless
        they released new counts, which a model learns its popularity from."""
        active = model_active_version()
        if active is not None and not counts_changed:
            self.stdout.write(f"Recommender: model v{active.version} already active.")
            return
        trained = model_retrain(trigger=ModelVersion.Trigger.DEMO)
        if not trained.activated and active is not None:
            # The model serving now stays, as after a nightly retrain that fails its checks.
            self.stdout.write(
                f"Recommender: v{trained.version} was not activated ({trained.status}): "
                f"{first_sentence(trained.problems)} v{active.version} still serves."
            )
            return
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
