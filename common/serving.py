"""What a web server's processes do before they serve (newsite/gunicorn.conf.py): the master
compiles the site's templates once for every worker it forks, and every process hands what it
keeps for its whole life to the garbage collector's permanent generation, so a full
collection no longer walks it in the middle of a reader's request."""

import gc
import logging
from pathlib import Path

from django.conf import settings
from django.template import engines

logger = logging.getLogger(__name__)


def _site_template_dirs(backend) -> list[Path]:
    """The template directories of the site itself (not of the installed packages, whose
    pages, such as the admin's, are not on a reader's path)."""
    base = Path(settings.BASE_DIR).resolve()
    found = []
    for directory in backend.template_dirs:
        path = Path(directory).resolve()
        installed = {"site-packages", "dist-packages"} & set(path.parts)  # a venv in the project
        if path.is_relative_to(base) and not installed and path.is_dir():
            found.append(path)
    return found


def site_templates_compile() -> int:
    """Compile every template file of the site's own directories into the engines' caches
    and return how many. In gunicorn's master, before the workers are forked, so a new worker
    (at start, and each time `max_requests` replaces one) does not parse them on its first
    readers' pages. A template that does not compile is logged and left to fail where it is
    rendered, as it would have: nothing here stops the site from starting."""
    compiled = 0
    for backend in engines.all():
        for directory in _site_template_dirs(backend):
            for path in sorted(directory.rglob("*")):
                if not path.is_file():
                    continue
                name = path.relative_to(directory).as_posix()
                try:
                    backend.get_template(name)
                except Exception:
                    logger.exception("Template %s could not be compiled before serving", name)
                    continue
                compiled += 1
    return compiled


def kept_objects_freeze(*, collect: bool) -> int:
    """Move every object this process holds now into the collector's permanent generation
    (`gc.freeze`) and return how many are there. What a server process loads before it
    serves (Django, the URL configuration, compiled templates, the serving model, the
    candidates) lives as long as the process; walking it made each full collection of a
    worker take 120-160 ms of a reader's request (bench/README.md). Frozen in the master
    before a fork, it is also no longer written to by the children's collections, so its
    memory pages stay shared. `collect`: collect first, so garbage left by the loading is
    freed rather than kept. Frozen objects are still freed when nothing refers to them; only
    a cycle among them would stay until the worker is replaced (`max_requests`)."""
    if collect:
        gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
