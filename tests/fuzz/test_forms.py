"""Every form the site defines, fed arbitrary values: it never raises, refuses what is not a
valid choice with a message on a field (or on the form), and accepts exactly the valid input."""

import pytest
from django.utils.datastructures import MultiValueDict
from hypothesis import given
from hypothesis import strategies as st

from accounts.forms import (
    LevelForm,
    PreferencesForm,
    PurposesForm,
    TopicsForm,
    UserAdminChangeForm,
    UserAdminCreationForm,
)
from accounts.models import Preferences
from news.admin import ArticleAdminForm, ScheduleForm
from privacy.forms import ConfirmPasswordForm, DeleteAccountForm, DisplayNameForm, NoticeCheckedForm
from privacy.purposes import PURPOSES, REGION, SWITCHABLE_PURPOSES
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory

from .strategies import ANY_VALUE, JUNK_TEXT, fuzz_settings

pytestmark = pytest.mark.django_db

ALL_FORMS = [
    TopicsForm,
    LevelForm,
    PurposesForm,
    PreferencesForm,
    DisplayNameForm,
    DeleteAccountForm,
    NoticeCheckedForm,
    ConfirmPasswordForm,
    ArticleAdminForm,
    ScheduleForm,
    UserAdminCreationForm,
    UserAdminChangeForm,
]
STRINGS_ONLY = {ArticleAdminForm, ScheduleForm, UserAdminChangeForm, UserAdminCreationForm}
LEVELS = [value for value, _ in Preferences.Level.choices]
REGIONS = [value for value, _ in Preferences.Region.choices]


def assert_refused_with_a_message(form) -> None:
    assert not form.is_valid()
    assert form.errors, "refused without saying why"
    for field, messages in form.errors.items():
        assert field == "__all__" or field in form.fields
        assert messages and all(isinstance(m, str) and m.strip() for m in messages)


def check(form) -> bool:
    """Validate and render: neither may raise, whatever the input. Returns is_valid()."""
    valid = form.is_valid()
    if not valid:
        assert_refused_with_a_message(form)
    # The page shows the form again with the reader's input and the messages.
    assert str(form)
    return valid


def post_data(form_class, draw) -> MultiValueDict | dict:
    """Arbitrary values under the form's own field names (plus unknown ones), either as a
    browser posts them (lists of strings) or as code might pass them (any Python value)."""
    names = list(form_class().fields) + ["unexpected", "csrfmiddlewaretoken"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    # Django's date and model-choice fields expect strings, as every request carries; only
    # forms of plain text and choice fields are also given other Python values.
    if draw(st.booleans()) or form_class in STRINGS_ONLY:
        return MultiValueDict(
            {name: draw(st.lists(JUNK_TEXT, min_size=1, max_size=3)) for name in chosen}
        )
    return {name: draw(ANY_VALUE) for name in chosen}


@pytest.fixture
def content(db):
    topics = TopicFactory.create_batch(3)
    ArticleFactory(topics=topics[:1])
    return topics


@pytest.mark.parametrize("form_class", ALL_FORMS, ids=lambda f: f.__name__)
@fuzz_settings(25)
@given(data=st.data())
def test_no_form_raises_on_arbitrary_input(content, rolled_back, form_class, data):
    with rolled_back():
        kwargs = {}
        if form_class is ArticleAdminForm and data.draw(st.booleans()):
            kwargs["instance"] = ArticleFactory()  # the change form compares statuses
        if form_class is UserAdminChangeForm:
            kwargs["instance"] = ReaderFactory()
        form = form_class(post_data(form_class, data.draw), **kwargs)
        if check(form):
            # Whatever passed is clean text: no NUL byte reaches the database.
            for value in form.cleaned_data.values():
                assert "\x00" not in str(value)


# --- The exact line between accepted and refused, form by form --------------------------------

TOPIC_CHOICE = st.one_of(st.sampled_from(["PK0", "PK1", "PK2"]), JUNK_TEXT)


def _pk_values(raw: list[str], topics) -> list[str]:
    return [str(topics[int(v[2])].pk) if v in ("PK0", "PK1", "PK2") else v for v in raw]


@fuzz_settings(60)
@given(
    wanted=st.lists(TOPIC_CHOICE, max_size=4),
    blocked=st.lists(TOPIC_CHOICE, max_size=3),
)
def test_topics_form_accepts_exactly_known_distinct_topics(content, wanted, blocked):
    wanted, blocked = _pk_values(wanted, content), _pk_values(blocked, content)
    known = {str(t.pk) for t in content}
    form = TopicsForm(MultiValueDict({"topics": wanted, "blocked_topics": blocked}))
    expected = (
        bool(wanted)
        and set(wanted) <= known
        and set(blocked) <= known
        and not set(wanted) & set(blocked)
    )
    assert check(form) is expected
    if not wanted:
        assert form.errors["topics"] == ["Pick at least one topic to continue."]
    elif expected:
        assert {str(t.pk) for t in form.cleaned_data["topics"]} == set(wanted)


@fuzz_settings(60)
@given(level=st.one_of(st.sampled_from(LEVELS), JUNK_TEXT))
def test_level_form_accepts_only_the_three_levels(level):
    form = LevelForm({"level": level})
    assert check(form) is (level in LEVELS)
    if level and level not in LEVELS:
        assert form.errors["level"] == ["Choose one of the levels shown."]


NOTICE = st.one_of(st.just("RIGHT"), JUNK_TEXT)


@fuzz_settings(60)
@given(
    switches=st.fixed_dictionaries(
        {p.key: st.sampled_from(["", "on", "1"]) for p in SWITCHABLE_PURPOSES}
    ),
    notices=st.fixed_dictionaries({p.key: NOTICE for p in SWITCHABLE_PURPOSES}),
    region_name=st.one_of(st.sampled_from(REGIONS + [""]), JUNK_TEXT),
)
def test_purposes_form_refuses_altered_notices_and_unknown_regions(switches, notices, region_name):
    data = {key: value for key, value in switches.items() if value}
    for purpose in SWITCHABLE_PURPOSES:
        sent = notices[purpose.key]
        data[f"{purpose.key}_notice"] = purpose.notice_sha256 if sent == "RIGHT" else sent
    data["region_name"] = region_name
    form = PurposesForm(data)
    notices_right = all(sent == "RIGHT" for sent in notices.values())
    region_ok = region_name in REGIONS or (region_name == "" and not data.get(REGION.key))
    assert check(form) is (notices_right and region_ok)
    if not notices_right:
        assert "changed or was altered" in " ".join(form.non_field_errors())


@fuzz_settings(80)
@given(name=JUNK_TEXT)
def test_display_name_form_takes_up_to_80_characters_of_text(name):
    form = DisplayNameForm({"display_name": name})
    stripped = name.strip()
    assert check(form) is (len(stripped) <= 80 and "\x00" not in stripped)
    if len(stripped) > 80:
        assert "at most 80 characters" in form.errors["display_name"][0]


@fuzz_settings(60)
@given(password=JUNK_TEXT, confirmation=JUNK_TEXT)
def test_delete_account_form_needs_both_fields_in_bounds(password, confirmation):
    form = DeleteAccountForm({"password": password, "confirmation": confirmation})
    expected = (
        password != ""
        and "\x00" not in password
        and 0 < len(confirmation.strip()) <= 20
        and "\x00" not in confirmation
    )
    assert check(form) is expected


@fuzz_settings(60)
@given(
    purpose=st.one_of(st.sampled_from(list(PURPOSES)), JUNK_TEXT),
    notice=JUNK_TEXT,
    turn_on=st.one_of(st.sampled_from(["1", "0"]), JUNK_TEXT),
)
def test_notice_checked_form_accepts_known_purposes_and_on_off(purpose, notice, turn_on):
    form = NoticeCheckedForm({"purpose": purpose, "notice": notice, "turn_on": turn_on})
    expected = (
        purpose in PURPOSES
        and turn_on in ("1", "0")
        and bool(notice.strip())
        and "\x00" not in notice
    )
    assert check(form) is expected
    if expected:
        assert form.cleaned_data["turn_on"] is (turn_on == "1")


@fuzz_settings(60)
@given(password=JUNK_TEXT, next_url=JUNK_TEXT)
def test_confirm_password_form_needs_a_password(password, next_url):
    form = ConfirmPasswordForm({"password": password, "next": next_url})
    expected = password != "" and "\x00" not in password
    assert check(form) is expected
    if expected:
        # An unusable return address is dropped (the view falls back), never a refusal.
        assert form.cleaned_data["next"] == ("" if "\x00" in next_url else next_url.strip())
    if password == "":
        assert form.errors["password"] == ["Type your password to continue."]
