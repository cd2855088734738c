"""Forms of the privacy center: each parses one choice; the services decide what it means."""

from django import forms

from .erasure import CONFIRMATION_WORD
from .purposes import PURPOSES


class DisplayNameForm(forms.Form):
    display_name = forms.CharField(
        max_length=80,
        required=False,
        label="Display name",
        help_text="Shown only to you, in the site's header and emails. Leave empty for none.",
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        label="Your password",
        strip=False,
    )
    confirmation = forms.CharField(
        label=f"Type {CONFIRMATION_WORD} to confirm",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class NoticeCheckedForm(forms.Form):
    """A choice about one purpose, carrying the hash of the notice the reader was shown."""

    purpose = forms.ChoiceField(choices=[(key, p.title) for key, p in PURPOSES.items()])
    notice = forms.CharField(widget=forms.HiddenInput)
    turn_on = forms.TypedChoiceField(
        choices=[("1", "On"), ("0", "Off")], coerce=lambda value: value == "1"
    )
    # The notice hash is checked by the service (accounts.services.purpose_choose).


class PersonalizationForm(forms.Form):
    """Pause or resume personalization: the reader names which; anything else is refused."""

    action = forms.ChoiceField(
        choices=[("pause", "Pause personalization"), ("resume", "Resume personalization")],
        error_messages={
            "required": "Say whether to pause or resume personalization. Nothing was changed.",
            "invalid_choice": (
                "Personalization can only be paused or resumed, so this request was not "
                "understood. Nothing was changed."
            ),
        },
    )


class ReturnAddressField(forms.CharField):
    """A hidden address to return to: when it is unusable (a NUL byte, say) the form is not
    refused over it, since the reader cannot see or fix it; the view then goes to its default
    page instead."""

    def clean(self, value):
        try:
            return super().clean(value)
        except forms.ValidationError:
            return ""


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": "Type your password to continue."},
    )
    next = ReturnAddressField(required=False, widget=forms.HiddenInput)
