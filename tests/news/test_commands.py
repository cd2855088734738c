"""seed_demo as someone setting up the site runs it."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from news.models import Article, Topic

pytestmark = pytest.mark.django_db


def run_seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_the_shipped_content_and_accounts(settings):
    settings.DEBUG = True
    output = run_seed()
    assert Topic.objects.count() >= 10
    assert Article.objects.published().count() >= 120
    assert all(a.topics.exists() for a in Article.objects.prefetch_related("topics"))
    editor = User.objects.get(email="editor@example.com")
    assert editor.check_password("editor-demo-pass")
    assert editor.groups.filter(name="Editors").exists()
    assert User.objects.get(email="admin@example.com").is_superuser
    assert "reader@example.com" in output and "reader-demo-pass" in output


def test_seed_demo_twice_changes_nothing():
    run_seed()
    snapshot = list(Article.objects.order_by("slug").values_list("slug", "updated_at"))
    users = list(User.objects.order_by("email").values_list("email", "password"))
    output = run_seed()
    assert list(Article.objects.order_by("slug").values_list("slug", "updated_at")) == snapshot
    assert list(User.objects.order_by("email").values_list("email", "password")) == users
    assert "0 topics and 0 articles created" in output
    assert "already existed" in output


def test_seed_demo_without_debug_prints_random_passwords(settings):
    settings.DEBUG = False
    output = run_seed()
    assert "reader-demo-pass" not in output
    assert not User.objects.get(email="reader@example.com").check_password("reader-demo-pass")


def test_seed_demo_refuses_a_broken_file_and_writes_nothing(tmp_path):
    (tmp_path / "broken.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Cannot read broken.json"):
        run_seed("--dir", str(tmp_path))
    assert not Article.objects.exists()


def test_seed_demo_refuses_an_article_with_an_unknown_topic(tmp_path):
    document = {
        "topics": [],
        "articles": [{"slug": "a", "title": "A", "summary": "s", "body": "b", "topics": ["x"]}],
    }
    (tmp_path / "one.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CommandError, match="nothing loaded: Article 'a' names unknown topics: x"):
        run_seed("--dir", str(tmp_path), "--no-accounts")
    assert not Article.objects.exists()


def test_seed_demo_on_an_empty_folder_says_so(tmp_path):
    with pytest.raises(CommandError, match="No demo content found"):
        run_seed("--dir", str(tmp_path))
