"""What the web server's master does before it forks the workers that serve readers: the site's
templates compiled once for all of them, and what it holds frozen out of the collector's way."""

import logging
from types import SimpleNamespace

import pytest
from django.template import engines
from django.template.loaders.filesystem import Loader as FilesystemLoader

from common.serving import site_templates_compile
from tests.conftest import gunicorn_settings
from tests.factories import ArticleFactory, TopicFactory


def _templates_forgotten() -> None:
    """Every engine's compiled templates dropped, as in a process that has not rendered yet."""
    for backend in engines.all():
        for loader in backend.engine.template_loaders:
            if hasattr(loader, "reset"):
                loader.reset()


@pytest.fixture
def template_files_read(monkeypatch) -> list[str]:
    """The names of the template files read from disk from now on (each read is a parse)."""
    names: list[str] = []
    read = FilesystemLoader.get_contents

    def counted(loader, origin):
        names.append(origin.template_name)
        return read(loader, origin)

    monkeypatch.setattr(FilesystemLoader, "get_contents", counted)
    _templates_forgotten()
    yield names
    _templates_forgotten()


def _readers_pages_in_a_new_worker(client) -> None:
    topic = TopicFactory(name="Harbour", slug="harbour")
    article = ArticleFactory(title="Harbour reopens", topics=[topic])
    for path in ("/", article.get_absolute_url(), "/topics/harbour/", "/search/?q=harbour"):
        assert client.get(path).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_worker_forked_after_the_master_started_parses_no_template_for_its_pages(
    client, template_files_read, monkeypatch
):
    _readers_pages_in_a_new_worker(client)
    assert "base.html" in template_files_read  # a process that compiled nothing parses them

    _templates_forgotten()
    gunicorn_settings(monkeypatch).on_starting(SimpleNamespace(log=logging.getLogger("t")))
    template_files_read.clear()
    _readers_pages_in_a_new_worker(client)
    # (The sign-in pages still parse allauth's own templates in each worker, once.)
    assert template_files_read == []


def test_a_template_that_does_not_compile_is_named_and_the_others_are_still_compiled(
    settings, tmp_path, template_files_read, caplog
):
    directory = tmp_path / "templates"
    (directory / "includes").mkdir(parents=True)
    (directory / "page.html").write_text('{% include "includes/card.html" %}')
    (directory / "includes" / "card.html").write_text("<article>{{ title }}</article>")
    (directory / "broken.html").write_text("{% if %}")
    # A package's templates, installed in a virtualenv inside the project: not the site's own.
    package = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "pkg" / "templates"
    package.mkdir(parents=True)
    (package / "admin_page.html").write_text("Admin")
    settings.BASE_DIR = tmp_path
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [directory, package],
            "APP_DIRS": True,
        }
    ]

    assert site_templates_compile() == 2
    assert "broken.html" in caplog.text
    assert sorted(template_files_read) == ["broken.html", "includes/card.html", "page.html"]
    template_files_read.clear()
    rendered = engines["django"].get_template("page.html").render({"title": "Harbour reopens"})
    assert rendered == "<article>Harbour reopens</article>"
    assert template_files_read == []
