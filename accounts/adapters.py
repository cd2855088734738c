"""allauth adapter: sends new readers to onboarding until they finish or skip it."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from .selectors import reader_profile


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        if not reader_profile(user=request.user).onboarding_done:
            return reverse("accounts:onboarding")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return reverse("accounts:onboarding")
