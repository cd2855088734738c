"""Top-level URL map: one include per app or screen."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

# The admin's own login form checks the password alone. Sending it to allauth's sign-in instead
# puts staff through the same second factor, rate limits and email verification as everyone.
admin.site.login = secure_admin_login(admin.site.login)


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("newsite.api_urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("privacycenter.urls")),
    path("", include("recommendations.urls")),
    path("", include("frontpage.urls")),
]

# Under /api/ these answer in the API's JSON error format; elsewhere with the site's pages.
handler400 = "common.api_errors.bad_request"
handler403 = "common.api_errors.permission_denied"
handler404 = "common.api_errors.page_not_found"
handler500 = "common.api_errors.server_error"
