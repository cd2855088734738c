"""The progress bar and per-entry report shared by the import commands."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from news.ingest import IncomingEntry


@contextmanager
def entry_progress(
    *, stdout, stderr, total: int, label: str
) -> Iterator[Callable[[IncomingEntry, str, str], None]]:
    """A rich progress bar over `total` entries; yields the on_progress callback for the
    import services, which also prints each refused entry as it happens."""
    console = Console(file=stdout, highlight=False, soft_wrap=True)
    errors = Console(file=stderr, highlight=False, soft_wrap=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task(label, total=total)

        def advance(entry: IncomingEntry, outcome: str, message: str) -> None:
            if outcome == "errors":
                errors.print(f"Refused {entry.reference}: {message}", markup=False)
            progress.advance(task)

        yield advance
