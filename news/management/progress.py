"""The progress bar and per-entry report shared by the import commands."""

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from news.ingest import IncomingEntry


class EntryProgress:
    """Called once per entry by the import services (`on_progress`): advances the bar and
    prints each refused entry as it happens. `restart` (the services' `on_retry`) says why the
    import starts over and empties the bar."""

    def __init__(self, *, progress: Progress, task: TaskID, errors: Console):
        self._progress, self._task, self._errors = progress, task, errors

    def __call__(self, entry: IncomingEntry, outcome: str, message: str) -> None:
        if outcome == "errors":
            self._errors.print(f"Refused {entry.reference}: {message}", markup=False)
        self._progress.advance(self._task)

    def restart(self, message: str) -> None:
        self._errors.print(message, markup=False)
        self._progress.reset(self._task)


@contextmanager
def entry_progress(*, stdout, stderr, total: int, label: str) -> Iterator[EntryProgress]:
    """A rich progress bar over `total` entries."""
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
        # A feed's title is text, not rich markup ("[/]" in it would stop the command).
        task = progress.add_task(escape(label), total=total)
        yield EntryProgress(progress=progress, task=task, errors=errors)
