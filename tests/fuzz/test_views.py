"""Every form posted through its page with arbitrary values, as a signed-in reader or editor
would: the answer is never a 500, refused input is answered with its message on the page,
and a refused post changes nothing in the database."""

import pytest
from django.contrib.messages import constants as message_levels
from django.test import Client
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.html import escape
from hypothesis import example, given
from hypothesis import strategies as st

from accounts import services as accounts_services
from accounts.forms import LevelForm, PreferencesForm, PurposesForm, TopicsForm
from accounts.models import Preferences, User
from news.admin import ArticleAdminForm
from news.models import Article
from privacy.browser_signals import NO_SIGNALS
from privacy.forms import ConfirmPasswordForm, DeleteAccountForm, DisplayNameForm, NoticeCheckedForm
from privacy.purposes import PURPOSES, SWITCHABLE_PURPOSES
from tests.factories import ArticleFactory, EditorFactory, ReaderFactory, TopicFactory

from .strategies import JUNK_TEXT, changed_tables, database_snapshot, fuzz_settings

pytestmark = pytest.mark.django_db

LEVELS = [value for value, _ in Preferences.Level.choices]
REGIONS = [value for value, _ in Preferences.Region.choices]
# A correct value, a value that is nearly right, or junk.
TOPIC_CHOICE = st.one_of(st.sampled_from(["PK0", "PK1", "PK2"]), JUNK_TEXT)
SWITCH = st.sampled_from(["", "on"])
NOTICE = st.one_of(st.just("RIGHT"), JUNK_TEXT)


@pytest.fixture
def topics(db):
    return [TopicFactory(name=n, slug=n.lower()) for n in ("Science", "Sport", "Food")]


def _pks(raw: list[str], topics) -> list[str]:
    return [str(topics[int(v[2])].pk) if v in ("PK0", "PK1", "PK2") else v for v in raw]


@st.composite
def topic_choices(draw, topics):
    return {
        "topics": _pks(draw(st.lists(TOPIC_CHOICE, max_size=3)), topics),
        "blocked_topics": _pks(draw(st.lists(TOPIC_CHOICE, max_size=2)), topics),
    }


@st.composite
def purpose_choices(draw):
    data = {}
    for purpose in SWITCHABLE_PURPOSES:
        if draw(SWITCH):
            data[purpose.key] = "on"
        notice = draw(NOTICE)
        data[f"{purpose.key}_notice"] = purpose.notice_sha256 if notice == "RIGHT" else notice
    data["region_name"] = draw(st.one_of(st.sampled_from(REGIONS + [""]), JUNK_TEXT))
    return data


LEVEL_CHOICE = st.one_of(st.sampled_from(LEVELS), JUNK_TEXT)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def as_form_data(posted: dict) -> MultiValueDict:
    """What the view's form gets from request.POST for `posted` (a dict of strings and lists;
    the test client sends every item of a list, a MultiValueDict only its last)."""
    return MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in posted.items()})


def assert_refused_on_the_page(response, form, before) -> None:
    """A refused post: the page again (200 or 400), every message of the form on it, and not a
    row added or removed anywhere."""
    assert response.status_code in (200, 400), response.status_code
    page = response.content.decode()
    for field, messages in form.errors.items():
        if field != "__all__" and form.fields[field].widget.is_hidden:
            # A hidden notice the reader never typed: the form's own message explains it.
            assert form.non_field_errors()
            continue
        for message in messages:
            assert escape(message) in page, f"message not shown: {message!r}"
    assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}


# A browser's session (signing in, messages, rate limits) is not data the post changed.
SESSIONS = {"accounts_readersession"}


def messages_of(response) -> list:
    return list(response.context["messages"]) if response.context else []


# --- Onboarding wizard ------------------------------------------------------------------------


def reader_at_step(step: int, topics) -> User:
    reader = ReaderFactory()
    accounts_services.preferences_for(user=reader)  # made on the first visit to any page
    if step >= 2:
        accounts_services.onboarding_save_topics(
            user=reader, topic_ids=[topics[0].pk], blocked_ids=[], signals=NO_SIGNALS
        )
    if step >= 3:
        accounts_services.onboarding_save_level(
            user=reader, level=Preferences.Level.TOPICS, signals=NO_SIGNALS
        )
    return reader


@fuzz_settings(12)
@given(data=st.data(), step=st.sampled_from([1, 2, 3]))
def test_onboarding_steps_refuse_bad_input_and_change_nothing(topics, rolled_back, data, step):
    form_class, strategy = {
        1: (TopicsForm, topic_choices(topics)),
        2: (LevelForm, st.fixed_dictionaries({"level": LEVEL_CHOICE})),
        3: (PurposesForm, purpose_choices()),
    }[step]
    posted = data.draw(strategy)
    with rolled_back():
        reader = reader_at_step(step, topics)
        client = signed_in(reader)
        before = database_snapshot()
        response = client.post(reverse("accounts:onboarding_step", args=[step]), posted)
        form = form_class(as_form_data(posted))
        if form.is_valid():
            assert response.status_code == 302
            assert Preferences.objects.get(user=reader).onboarding_step >= min(step + 1, 3)
        else:
            assert_refused_on_the_page(response, form, before)


@fuzz_settings(12)
@given(data=st.data())
def test_preferences_page_refuses_bad_input_and_changes_nothing(topics, rolled_back, data):
    posted = {
        **data.draw(topic_choices(topics)),
        "level": data.draw(LEVEL_CHOICE),
        **data.draw(purpose_choices()),
    }
    with rolled_back():
        reader = reader_at_step(3, topics)
        client = signed_in(reader)
        before = database_snapshot()
        response = client.post(reverse("accounts:preferences"), posted)
        form = PreferencesForm(as_form_data(posted))
        if form.is_valid():
            assert response.status_code in (200, 302)
            if response.status_code == 200:  # refused by the service, with its reason
                shown = response.context["form"]
                reasons = [
                    *shown.non_field_errors(),
                    *(e for es in shown.errors.values() for e in es),
                ]
                assert reasons, "refused without a reason"
                assert any(escape(reason) in response.content.decode() for reason in reasons)
                assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}
        else:
            assert_refused_on_the_page(response, form, before)


# --- Privacy center ---------------------------------------------------------------------------


@fuzz_settings(12)
@given(posted=purpose_choices())
def test_consents_page_refuses_bad_input_and_changes_nothing(topics, rolled_back, posted):
    with rolled_back():
        reader = reader_at_step(3, topics)
        client = signed_in(reader)
        before = database_snapshot()
        response = client.post(reverse("privacy:consents"), posted)
        form = PurposesForm(posted)
        if form.is_valid():
            assert response.status_code == 302
        else:
            assert_refused_on_the_page(response, form, before)


@fuzz_settings(12)
@given(
    purpose=st.one_of(st.sampled_from(list(PURPOSES)), JUNK_TEXT),
    notice=st.one_of(st.just("RIGHT"), JUNK_TEXT),
    turn_on=st.one_of(st.sampled_from(["1", "0"]), JUNK_TEXT),
)
def test_consent_choice_refuses_bad_input_and_changes_nothing(
    topics, rolled_back, purpose, notice, turn_on
):
    if notice == "RIGHT":
        notice = PURPOSES[purpose].notice_sha256 if purpose in PURPOSES else "x"
    posted = {"purpose": purpose, "notice": notice, "turn_on": turn_on}
    with rolled_back():
        client = signed_in(reader_at_step(3, topics))
        before = database_snapshot()
        response = client.post(reverse("privacy:consent_choice"), posted, follow=True)
        assert response.status_code == 200
        shown = messages_of(response)
        assert len(shown) == 1 and str(shown[0]).strip()
        if shown[0].level == message_levels.ERROR:
            assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}
        else:
            assert NoticeCheckedForm(posted).is_valid()


@fuzz_settings(15)
@given(name=JUNK_TEXT)
def test_display_name_correction_refuses_bad_input_and_changes_nothing(topics, rolled_back, name):
    with rolled_back():
        reader = ReaderFactory(display_name="Ada")
        client = signed_in(reader)
        before = database_snapshot()
        response = client.post(reverse("privacy:data_correct"), {"display_name": name}, follow=True)
        assert response.status_code == 200
        (shown,) = messages_of(response)
        reader.refresh_from_db()
        if DisplayNameForm({"display_name": name}).is_valid():
            assert shown.level == message_levels.SUCCESS
            assert reader.display_name == name.strip()
        else:
            assert shown.level == message_levels.ERROR and "Nothing changed" in str(shown)
            assert reader.display_name == "Ada"
            assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}


@fuzz_settings(12)
@given(password=JUNK_TEXT, confirmation=st.one_of(st.just("DELETE"), JUNK_TEXT))
def test_delete_account_with_bad_input_erases_nothing(topics, rolled_back, password, confirmation):
    posted = {"password": password, "confirmation": confirmation}
    with rolled_back():
        reader = reader_at_step(3, topics)
        client = signed_in(reader)
        before = database_snapshot()
        response = client.post(reverse("privacy:delete_account"), posted)
        # The reader's password is never junk: every such post is refused.
        assert User.objects.filter(pk=reader.pk).exists()
        form = DeleteAccountForm(posted)
        if form.is_valid():
            assert response.status_code == 200
            assert "Nothing was erased" in response.content.decode()
            assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}
        else:
            assert_refused_on_the_page(response, form, before)


@fuzz_settings(12)
@given(password=JUNK_TEXT, next_url=JUNK_TEXT)
@example(password="wrong", next_url="/privacy/export/\x00")  # once a refusal without a message
def test_export_password_check_refuses_bad_input(topics, rolled_back, password, next_url):
    posted = {"password": password, "next": next_url}
    with rolled_back():
        client = signed_in(ReaderFactory())
        before = database_snapshot()
        response = client.post(reverse("privacy:export_confirm_password"), posted)
        form = ConfirmPasswordForm(posted)
        if form.is_valid():
            # A wrong password: said so on the page, and the export stays locked.
            assert response.status_code in (200, 429)
            assert 'class="errorlist"' in response.content.decode()
            assert client.get(reverse("privacy:export")).status_code in (200, 302)
        else:
            assert_refused_on_the_page(response, form, before)
        allowed = SESSIONS | {
            "privacy_auditevent"
        }  # failed password checks are logged for the reader
        assert changed_tables(before, database_snapshot(), allowed=allowed) == {}


# --- Editors: the article form in the admin --------------------------------------------------

STATUS = st.one_of(st.sampled_from([s for s, _ in Article.Status.choices]), JUNK_TEXT)
DATETIME = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.sampled_from(["9999-12-31 23:59:59", "0001-01-01 00:00:00", "2026-02-30 10:00"]),
    JUNK_TEXT,
)


@st.composite
def article_post(draw, topics):
    data = {name: draw(JUNK_TEXT) for name in ("title", "slug", "summary", "body", "author")}
    data.update(
        {
            "topics": _pks(draw(st.lists(TOPIC_CHOICE, max_size=2)), topics),
            "status": draw(STATUS),
            "canonical_url": draw(st.one_of(st.just("https://example.org/a"), JUNK_TEXT)),
            "source": draw(st.one_of(st.just(""), JUNK_TEXT)),
        }
    )
    for name in ("published_at", "editors_pick_until"):
        date, time = draw(DATETIME).partition(" ")[::2]
        data[f"{name}_0"], data[f"{name}_1"] = date, time
    return data


@fuzz_settings(12)
@given(data=st.data(), change=st.booleans())
def test_admin_article_form_refuses_bad_input_and_changes_nothing(
    topics, rolled_back, data, change
):
    posted = data.draw(article_post(topics))
    with rolled_back():
        client = signed_in(EditorFactory())
        article = ArticleFactory(status=Article.Status.DRAFT, published_at=None) if change else None
        url = (
            reverse("admin:news_article_change", args=[article.pk])
            if change
            else reverse("admin:news_article_add")
        )
        # Judged before the post (which may take the slug) on a copy (a form fills in its
        # instance).
        copy = Article.objects.get(pk=article.pk) if article else None
        valid = ArticleAdminForm(as_form_data(posted), instance=copy).is_valid()
        before = database_snapshot()
        response = client.post(url, posted)
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 200:
            # The admin shows its banner and each message next to its field.
            page = response.content.decode()
            assert "Please correct the error" in page
            assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}
            if article is not None:
                stored = Article.objects.get(pk=article.pk)
                assert (stored.title, stored.status) == (article.title, article.status)
        else:
            assert valid


# --- Sign-up and sign-in (allauth, with the site's adapter and settings) ----------------------


@fuzz_settings(12)
@given(
    email=st.one_of(st.emails().map(str), JUNK_TEXT),
    password=JUNK_TEXT,
    repeat=st.booleans(),
)
def test_sign_up_with_bad_input_creates_no_account(rolled_back, email, password, repeat):
    posted = {"email": email, "password1": password, "password2": password if repeat else "x"}
    with rolled_back():
        before = database_snapshot()
        response = Client().post(reverse("account_signup"), posted)
        assert response.status_code in (200, 302, 429), response.status_code
        if response.status_code != 302:
            assert 'class="errorlist' in response.content.decode() or response.status_code == 429
            assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}


@fuzz_settings(12)
@given(email=st.one_of(st.emails().map(str), JUNK_TEXT), password=JUNK_TEXT)
def test_sign_in_with_bad_input_signs_nobody_in(rolled_back, email, password):
    with rolled_back():
        ReaderFactory(email="reader@example.org")
        client = Client()
        before = database_snapshot()
        response = client.post(reverse("account_login"), {"login": email, "password": password})
        assert response.status_code in (200, 429), response.status_code
        assert "_auth_user_id" not in client.session
        assert changed_tables(before, database_snapshot(), allowed=SESSIONS) == {}
