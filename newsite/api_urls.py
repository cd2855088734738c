"""URL map of the public API: /api/v1/... endpoints, the OpenAPI schema and its docs."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from accounts import api as accounts_api
from news import api as news_api
from privacycenter import api as privacy_api
from recommendations import api as recommendations_api

v1 = [
    path("auth/token/", accounts_api.TokenApi.as_view(), name="auth_token"),
    path("articles/", news_api.ArticleListApi.as_view(), name="articles"),
    path("articles/<slug:slug>/", news_api.ArticleDetailApi.as_view(), name="article"),
    path("topics/", news_api.TopicListApi.as_view(), name="topics"),
    path("feed/", recommendations_api.FeedApi.as_view(), name="feed"),
    path("preferences/", accounts_api.PreferencesApi.as_view(), name="preferences"),
    path("privacy/consents/", privacy_api.ConsentsApi.as_view(), name="consents"),
    path("privacy/history/", privacy_api.HistoryApi.as_view(), name="history"),
    path(
        "privacy/history/<int:entry_id>/",
        privacy_api.HistoryEntryApi.as_view(),
        name="history_entry",
    ),
    path("privacy/exports/", privacy_api.ExportListApi.as_view(), name="exports"),
    path("privacy/exports/<uuid:export_id>/", privacy_api.ExportDetailApi.as_view(), name="export"),
    path(
        "privacy/exports/<uuid:export_id>/download/",
        privacy_api.ExportDownloadApi.as_view(),
        name="export_download",
    ),
    path("privacy/reauth/", privacy_api.ReauthApi.as_view(), name="reauth"),
    path("privacy/policies/", privacy_api.PolicyListApi.as_view(), name="policies"),
    path("privacy/policies/<str:version>/", privacy_api.PolicyDetailApi.as_view(), name="policy"),
    path("account/erase/", privacy_api.AccountEraseApi.as_view(), name="account_erase"),
]

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    # Swagger UI sets inline styles, so this one page (no reader data) may use them.
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema")
        ),
        name="docs",
    ),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("v1/", include(v1)),
]
