"""Forms of the privacy center."""

from django import forms


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": "Type your password to continue."},
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
