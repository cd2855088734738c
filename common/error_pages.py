"""The site's own error pages: one template for every refusal and handler, and a 500 page
rendered without context processors (the database may be what failed)."""

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def error_page(request, status: int, title: str, message: str):
    """The site's one error page, for handlers and for views refusing bad input."""
    return render(
        request, "error.html", {"title": title, "message": message, "status": status}, status=status
    )


def bad_request(request, exception=None):
    return error_page(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return error_page(request, 403, "Not allowed", "You do not have permission to see this page.")


def page_not_found(request, exception=None):
    return error_page(request, 404, "Page not found", "There is nothing at this address.")


def server_error(request):
    # Rendered without context processors: the database may be what failed.
    return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request, reason=""):
    return error_page(
        request,
        403,
        "Form expired or not sent from this site",
        "The form could not be checked (missing or outdated security token), so nothing was "
        "saved. Go back, reload the page and try again.",
    )
