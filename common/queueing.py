"""Queue a Celery task once the surrounding transaction commits, without letting a broker
outage undo or fail the work that asked for it."""

import logging
from collections.abc import Callable

from celery import Task, current_app, shared_task
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger(__name__)


def enqueue_on_commit(
    task_name: str,
    *args,
    when_broker_down: Callable[[], object] | None = None,
    sweep: str = "",
) -> None:
    """After the commit, queue the task named `task_name` (its registered name, so a service
    need not import its own tasks module, which imports the service).

    With the broker down the outage is logged, and either `when_broker_down` does the work
    here and now, or `sweep` names the periodic task that picks it up later; the committed
    work itself always stands.
    """

    def queue() -> None:
        try:
            current_app.tasks[task_name].delay(*args)
        except (KombuOperationalError, OSError) as error:
            later = f"the periodic sweep ({sweep}) will run it" if sweep else "doing it now instead"
            logger.warning("Could not queue %s (%s); %s.", task_name, error, later)
            if when_broker_down is not None:
                when_broker_down()

    transaction.on_commit(queue, robust=True)


def renamed_tasks_keep(*, module: str, renames: dict[str, Task]) -> None:
    """Keep answering to tasks' former names: messages queued, and beat schedules saved,
    before a deploy still name them. Each former name queues its task under the new one."""
    for former, task in renames.items():
        shared_task(name=f"{module}.{former}", ignore_result=True)(_forward_to(task))


def _forward_to(task: Task) -> Callable[..., None]:
    def forward(*args, **kwargs) -> None:
        task.apply_async(args, kwargs)

    forward.__doc__ = f"Former name of {task.name}."
    return forward
