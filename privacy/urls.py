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
    path("privacy/transparency/", views.transparency, name="transparency"),
    path("privacy/export/", export_page, name="export"),
    path(
        "privacy/export/confirm-password/",
        export_confirm_password,
        name="export_confirm_password",
    ),
    path("privacy/export/<uuid:export_id>/status/", export_status, name="export_status"),
    path("privacy/export/<uuid:export_id>/download/", export_download, name="export_download"),
]
