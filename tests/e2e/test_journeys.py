"""Every main journey of readers and editors, in a real browser, with accessibility checks."""

import io
import json
import re
import zipfile

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import PreferredTopic
from news.models import Article
from privacy.models import ReadingHistoryEntry
from recommendations.services import model_retrain
from tests.factories import (
    DEFAULT_PASSWORD,
    ArticleFactory,
    EditorFactory,
    TopicFactory,
    reader_choices,
    verified_reader,
)

from .conftest import SCREENSHOTS, check_page, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

STORIES = {
    "Science": [
        "Telescope finds water on a distant moon",
        "New battery chemistry lasts longer",
        "Ocean floor map reveals ancient rivers",
        "Vaccine trial shows strong results",
    ],
    "Sport": [
        "Local team wins the cup final",
        "Marathon record falls in the rain",
        "Young sprinter breaks national record",
        "Cycling season opens in the hills",
    ],
    "Food": [
        "The secret of a slow tomato sauce",
        "Baking sourdough bread at home",
        "A guide to autumn mushrooms",
        "Street food markets return",
    ],
}


@pytest.fixture
def newsroom(db):
    topics = {}
    for name, titles in STORIES.items():
        topics[name] = TopicFactory(name=name, slug=name.lower())
        for title in titles:
            ArticleFactory(
                title=title,
                summary=f"{title}: the full story.",
                body=f"{title}. More about {name.lower()} here.\n\nA second paragraph on {name}.",
                topics=[topics[name]],
            )
    model_retrain()
    return topics


def reader_following(topic, *, level="topics_history"):
    reader = verified_reader()
    reader_choices(reader, level=level)
    from accounts import services

    services.preferences_set_topics(user=reader, topic_ids=[topic.pk])
    return reader


def test_an_anonymous_visitor_browses_home_topic_article_and_more_like_this(page, newsroom):
    page.goto("/")
    check_page(page, "home-anonymous")
    page.get_by_role("navigation", name="Topics").get_by_role("link", name="Science").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Science")
    check_page(page, "topic")
    page.get_by_role("link", name=STORIES["Science"][0]).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(STORIES["Science"][0])
    more = page.locator(".more-like-this")
    expect(more).to_be_visible()
    check_page(page, "article")
    more.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text(STORIES["Science"][0])
    assert not ReadingHistoryEntry.objects.exists()


def test_sign_up_verify_onboard_and_get_an_explained_feed(page, newsroom):
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill("new.reader@example.org")
    page.locator("#id_password1").fill(DEFAULT_PASSWORD)
    page.locator("#id_password2").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verify")
    link = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile("/onboarding/"))
    check_page(page, "onboarding-topics")
    page.locator("fieldset", has_text="Topics you want").get_by_label("Science").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label(re.compile("Topics \\+ reading history")).check()
    page.get_by_role("button", name="Continue").click()
    check_page(page, "onboarding-purposes")
    page.get_by_role("button", name="Finish").click()
    expect(page).to_have_url(re.compile("/$"))
    first_card = page.locator(".card").first
    first_card.locator("summary", has_text="Why am I seeing this?").click()
    expect(first_card.locator(".why-reason")).to_contain_text("Science")
    check_page(page, "home-personalized")


def test_a_read_reaches_the_history_only_at_the_top_level_and_never_under_gpc(new_page, newsroom):
    science = newsroom["Science"]
    story = Article.objects.get(title=STORIES["Science"][1])

    top = reader_following(science)
    page = new_page()
    sign_in(page, top)
    page.goto(story.get_absolute_url())
    page.goto("/privacy/history/")
    expect(page.get_by_role("link", name=story.title)).to_be_visible()
    check_page(page, "privacy-history")

    topics_only = reader_following(science, level="topics")
    page = new_page()
    sign_in(page, topics_only)
    page.goto(story.get_absolute_url())
    page.goto("/privacy/history/")
    expect(page.get_by_text("Your reading history is empty.")).to_be_visible()

    under_gpc = reader_following(science)
    page = new_page(extra_http_headers={"Sec-GPC": "1"})
    sign_in(page, under_gpc)
    page.goto(story.get_absolute_url())
    assert not ReadingHistoryEntry.objects.filter(user=under_gpc).exists()
    assert ReadingHistoryEntry.objects.filter(user=top).count() == 1


def test_show_less_like_this_changes_the_next_feed(page, newsroom):
    reader = reader_following(newsroom["Science"], level="topics")
    from accounts import services

    services.preferences_set_topics(
        user=reader, topic_ids=[newsroom["Science"].pk, newsroom["Sport"].pk]
    )
    sign_in(page, reader)
    page.goto("/")
    before = page.locator(".card h2, .card h3").all_inner_texts()
    card = page.locator(".card", has=page.locator("button", has_text="Show less like this")).first
    card.locator("summary").click()
    card.get_by_role("button", name="Show less like this").click()
    page.wait_for_load_state()
    after = page.locator(".card h2, .card h3").all_inner_texts()
    weights = dict(
        PreferredTopic.objects.filter(preferences__user=reader).values_list("topic__name", "weight")
    )
    assert min(weights.values()) < 1.0
    assert after != before


def test_export_request_wait_download_and_read_the_zip(page, newsroom, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path
    reader = reader_following(newsroom["Food"])
    sign_in(page, reader)
    page.goto("/privacy/export/")
    check_page(page, "privacy-export")
    page.get_by_role("button", name=re.compile("copy", re.I)).first.click()
    download_link = page.get_by_role("link", name=re.compile("Download", re.I)).first
    expect(download_link).to_be_visible(timeout=30_000)
    download_link.click()
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile("Confirm|Continue|Download", re.I)).click()
    with open(download_info.value.path(), "rb") as downloaded:
        archive = zipfile.ZipFile(io.BytesIO(downloaded.read()))
    data = json.loads(archive.read("data.json"))
    assert data["account"]["email"] == reader.email
    keys = {category["key"] for category in data["categories"]}
    assert {"account", "preferences", "consent_receipts", "reading_history"} <= keys


def test_a_deleted_account_cannot_sign_in_again(page, newsroom):
    reader = reader_following(newsroom["Sport"])
    sign_in(page, reader)
    page.goto("/privacy/delete-account/")
    check_page(page, "privacy-delete-account")
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my account and all my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account was erased")
    check_page(page, "privacy-erased")
    sign_in(page, reader)
    expect(page).to_have_url(re.compile("/accounts/login/"))
    expect(page.locator("main form")).to_contain_text(re.compile("not correct", re.I))


def test_an_editor_publishes_a_story_a_matching_reader_then_sees(new_page, newsroom):
    draft = ArticleFactory(
        title="Comet visible tonight without a telescope",
        status="draft",
        published_at=None,
        topics=[newsroom["Science"]],
    )
    editor = EditorFactory(email_verified=True)
    page = new_page()
    sign_in(page, editor)
    page.goto("/admin/news/article/?status__exact=draft")
    page.locator(f"input[name=_selected_action][value='{draft.pk}']").check()
    page.locator("select[name=action]").select_option("publish_selected")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("ublished")
    # Editors never reach a reader's data.
    assert page.goto("/admin/accounts/user/").status == 403
    assert page.goto("/editor/").status == 200
    check_page(page, "editor-dashboard")

    reader = reader_following(newsroom["Science"], level="topics")
    reader_page = new_page()
    sign_in(reader_page, reader)
    reader_page.goto("/")
    expect(reader_page.get_by_role("link", name=draft.title)).to_be_visible()


def test_the_public_pages_pass_accessibility_checks(page, newsroom):
    for path, name in [
        ("/search/?q=battery", "search"),
        ("/accounts/login/", "login"),
        ("/accounts/signup/", "signup"),
        ("/privacy/transparency/", "transparency"),
    ]:
        assert page.goto(path).status == 200
        check_page(page, name)


def test_the_privacy_center_pages_pass_accessibility_checks(page, newsroom):
    reader = reader_following(newsroom["Food"])
    sign_in(page, reader)
    for path, name in [
        ("/privacy/", "privacy-center"),
        ("/privacy/data/", "privacy-data"),
        ("/privacy/profile/", "privacy-profile"),
        ("/privacy/consents/", "privacy-consents"),
        ("/privacy/activity/", "privacy-activity"),
        ("/privacy/policy/", "privacy-policy"),
        ("/privacy/what-we-collect/", "what-we-collect"),
        ("/account/preferences/", "preferences"),
    ]:
        assert page.goto(path).status == 200
        check_page(page, name)


def test_the_api_docs_load_from_the_site_under_the_content_security_policy(page, newsroom):
    page.goto("/api/docs/")
    expect(page.get_by_text("/api/v1/articles/").first).to_be_visible()
    assert page.csp_violations == []
    page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
