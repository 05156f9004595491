"""The site's URLs: the analysts' pages, the API under api/v1/, its schema and docs, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from documents.urls import api_urlpatterns

urlpatterns = [
    path("", include("documents.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_urlpatterns, "api"))),
]
