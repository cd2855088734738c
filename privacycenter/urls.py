from django.urls import path

from . import views
from .export_views import (
    export_confirm_password,
    export_download,
    export_page,
    export_status,
)

app_name = "privacy"

urlpatterns = [
    path(".well-known/gpc.json", views.gpc_json, name="gpc_json"),
    path("privacy/global-privacy-control/", views.gpc_page, name="gpc"),
    path("privacy/transparency/", views.transparency, name="transparency"),
    path("privacy/policy/", views.policy, name="policy"),
    path("privacy/policy/<str:version>/", views.policy, name="policy_version"),
    path("privacy/what-we-collect/", views.what_we_collect, name="what_we_collect"),
    # The privacy center: signed-in readers only.
    path("privacy/", views.center, name="center"),
    path("privacy/data/", views.data, name="data"),
    path("privacy/data/correct/", views.data_correct, name="data_correct"),
    path("privacy/data/<slug:key>/erase/", views.category_erase, name="category_erase"),
    path("privacy/profile/", views.profile, name="profile"),
    path("privacy/profile/reset/", views.profile_reset, name="profile_reset"),
    path("privacy/personalization/", views.personalization, name="personalization"),
    path("privacy/history/", views.history, name="history"),
    path("privacy/history/clear/", views.history_clear, name="history_clear"),
    path("privacy/history/<int:entry_id>/delete/", views.history_delete, name="history_delete"),
    path("privacy/consents/", views.consents, name="consents"),
    path("privacy/consents/choice/", views.consent_choice, name="consent_choice"),
    path("privacy/activity/", views.activity, name="activity"),
    path("privacy/delete-account/", views.delete_account, name="delete_account"),
    path("privacy/delete-account/done/", views.erased, name="erased"),
    path("privacy/export/", export_page, name="export"),
    path(
        "privacy/export/confirm-password/",
        export_confirm_password,
        name="export_confirm_password",
    ),
    path("privacy/export/<uuid:export_id>/status/", export_status, name="export_status"),
    path("privacy/export/<uuid:export_id>/download/", export_download, name="export_download"),
]
