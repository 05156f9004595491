"""The site's URLs: the analysts' pages, the API under api/v1/, its schema and docs, the admin."""

from __future__ import annotations

import sys

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as accounts_views
from accounts.urls import access_log_urlpatterns
from documents.urls import api_urlpatterns
from memos.urls import api_urlpatterns as memo_api_urlpatterns
from sco_annotate.guide import guide
from sco_annotate.middleware import database_unavailable, error_response, is_api


@login_not_required
def no_icon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the Django admin's): an
    empty answer, kept a day, instead of a 404 in the log of every admin page."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("favicon.ico", no_icon),
    path("", include("documents.urls")),
    path("projects/", include("projects.urls")),
    path("projects/", include("research.urls")),
    path("projects/", include("memos.urls")),
    path("", include(access_log_urlpatterns)),
    path("guide/", guide, name="guide"),
    path("accounts/", include("accounts.urls")),
    # The admin's own login form would skip the second factor.
    path("admin/login/", accounts_views.admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include(([*api_urlpatterns, *memo_api_urlpatterns], "api"))),
    # The schema answers API clients (token or session) like the API itself. The docs page
    # is for people: it needs a login, and its script is a separate file (CSP: no inline).
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
]


# Django's error pages for the pages; JSON for the API, whose clients cannot read HTML.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return error_response(
            request, 400, "Bad request: a header, the query string or the body is malformed."
        )
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return error_response(request, 403, "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return error_response(
            request,
            404,
            f"No API endpoint at {request.path}. The endpoints and their URLs are listed "
            "in the API documentation (/api/docs/) and schema (/api/schema/).",
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # A database outage met outside a view (the session read by a middleware) lands here.
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(request, exc)
    if is_api(request):
        return error_response(
            request,
            500,
            "Server error: the request failed on the server. Try again later; if it keeps "
            "failing, tell the administrators.",
        )
    return defaults.server_error(request)


handler400 = bad_request
handler403 = permission_denied
handler404 = page_not_found
handler500 = server_error
