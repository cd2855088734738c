from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("onboarding/", views.onboarding, name="onboarding"),
    path("onboarding/<int:step>/", views.onboarding_step, name="onboarding_step"),
    path("account/", views.account_overview, name="account"),
    path("account/preferences/", views.preferences_edit, name="preferences"),
]
