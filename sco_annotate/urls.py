"""The site's URLs: the analysts' pages, the API under api/v1/, its schema and docs, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from documents.urls import api_urlpatterns

urlpatterns = [
    path("", include("documents.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_urlpatterns, "api"))),
    # The schema answers API clients (token or session) like the API itself. The docs page
    # is for people: it needs a login, and its script is a separate file (CSP: no inline).
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
]

# A path under /api/ that no route matches is answered in JSON like any other API 404.
handler404 = "documents.api.not_found"
