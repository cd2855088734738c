"""Top-level URL map: one include per app or screen."""

import re

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path, reverse
from django.views.decorators.cache import cache_control
from django.views.static import serve

from frontpage.sitemaps import SITEMAP_MAX_AGE_SECONDS, SITEMAPS

# The admin's own login form checks the password alone. Sending it to allauth's sign-in instead
# puts staff through the same second factor, rate limits and email verification as everyone.
admin.site.login = secure_admin_login(admin.site.login)


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@cache_control(public=True, max_age=86400)
def favicon(request):
    # Browsers ask for /favicon.ico whatever a page links (the admin's pages link none); the
    # icon is a static file, under its hashed name in production.
    return HttpResponseRedirect(static("favicon.ico"))


@cache_control(public=True, max_age=SITEMAP_MAX_AGE_SECONDS)
def robots_txt(request):
    # Staff tools are no business of crawlers; everything else is, starting from the sitemap.
    sitemap = request.build_absolute_uri(reverse("sitemap"))
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /editor/", "", f"Sitemap: {sitemap}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


sitemap = cache_control(public=True, max_age=SITEMAP_MAX_AGE_SECONDS)(sitemap_views.sitemap)


def media(request, path):
    # Uploaded images, when this server is asked to serve them (SERVE_MEDIA: the demo); in
    # production the web server or object storage answers before a request gets here. A file
    # name is never reused (news.images names each one anew), so browsers may keep it.
    if not settings.SERVE_MEDIA:
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


urlpatterns = [
    # First: the home and article pages are most requests, and each pattern tried before
    # theirs is a regular expression matched (20 us of each page with them last; no pattern
    # elsewhere starts like theirs).
    path("", include("frontpage.urls")),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("robots.txt", robots_txt, name="robots_txt"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("admin/", admin.site.urls),
    path("api/", include("newsite.api_urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("privacycenter.urls")),
    path("", include("recommendations.urls")),
    path("", include("privatemode.urls")),
    path("", include("trust.urls")),
]
if "://" not in settings.MEDIA_URL:
    media_prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.insert(0, re_path(rf"^{media_prefix}(?P<path>.+)$", media, name="media"))

# Under /api/ these answer in the API's JSON error format; elsewhere with the site's pages.
handler400 = "common.api_errors.bad_request"
handler403 = "common.api_errors.permission_denied"
handler404 = "common.api_errors.page_not_found"
handler500 = "common.api_errors.server_error"
