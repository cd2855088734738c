"""Forms for accounts: the admin's user forms, onboarding steps and the preferences page."""

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from news.models import Topic
from privacy.levels import SERVER_PERSONALIZED_LEVELS
from privacy.purposes import REGION, SWITCHABLE_PURPOSES

from .levels import LEVEL_EXPLANATIONS
from .models import Preferences, User


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserAdminChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class TopicsForm(forms.Form):
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="Topics you want",
        error_messages={"required": "Pick at least one topic to continue."},
    )
    blocked_topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Topics you never want to see (optional)",
    )

    def clean(self):
        cleaned = super().clean()
        both = set(cleaned.get("topics") or []) & set(cleaned.get("blocked_topics") or [])
        if both:
            names = ", ".join(sorted(t.name for t in both))
            raise forms.ValidationError(f"A topic cannot be both wanted and blocked: {names}.")
        return cleaned


def level_choices() -> list[tuple[str, str]]:
    # Built when a form is made, so each explanation states the retention settings now.
    return [
        (value, f"{label}: {LEVEL_EXPLANATIONS[value]}")
        for value, label in Preferences.Level.choices
    ]


class LevelForm(forms.Form):
    level = forms.ChoiceField(
        choices=level_choices,
        widget=forms.RadioSelect,
        label="How much personalization do you want?",
        error_messages={"invalid_choice": "Choose one of the levels shown."},
    )


class PurposesForm(forms.Form):
    """One switch per optional purpose, off until the reader turns it on.

    Each switch carries the hash of the notice shown; a changed or forged notice is refused
    so that a receipt never records agreement to words the reader did not see.
    """

    region_name = forms.ChoiceField(
        choices=[("", "No region")] + list(Preferences.Region.choices),
        required=False,
        label="Your region",
        error_messages={"invalid_choice": "Choose a region from the list."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for purpose in SWITCHABLE_PURPOSES:
            self.fields[purpose.key] = forms.BooleanField(
                required=False, label=purpose.title, help_text=purpose.notice
            )
            self.fields[f"{purpose.key}_notice"] = forms.CharField(
                widget=forms.HiddenInput, initial=purpose.notice_sha256
            )

    def clean(self):
        cleaned = super().clean()
        for purpose in SWITCHABLE_PURPOSES:
            if cleaned.get(f"{purpose.key}_notice") != purpose.notice_sha256:
                raise forms.ValidationError(
                    "The explanation of a switch has changed or was altered since this page "
                    "was shown. Please read it again and resubmit."
                )
        if cleaned.get(REGION.key) and not cleaned.get("region_name"):
            self.add_error(
                "region_name", "Pick a region to get local news, or leave local news off."
            )
        return cleaned

    def purpose_fields(self):
        return [(self[p.key], p) for p in SWITCHABLE_PURPOSES]

    @property
    def wanted(self) -> dict[str, bool]:
        return {p.key: bool(self.cleaned_data.get(p.key)) for p in SWITCHABLE_PURPOSES}


class PreferencesForm(TopicsForm, LevelForm, PurposesForm):
    """The preferences page: every choice from onboarding on one form. With personalization
    Off or "On this device only", no topic is needed (at the latter none is kept)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topics"].required = False

    def clean(self):
        cleaned = super().clean()
        level = cleaned.get("level")
        if level in SERVER_PERSONALIZED_LEVELS and not cleaned.get("topics"):
            self.add_error("topics", "Pick at least one topic, or set personalization to Off.")
        return cleaned
