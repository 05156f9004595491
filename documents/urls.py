"""URLs of the analysts' pages (`urlpatterns`) and of the API (`api_urlpatterns`)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "documents"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.document_list, name="list"),
    path("documents/<int:pk>/", views.document_detail, name="detail"),
]

api_urlpatterns: list[URLPattern | URLResolver] = []
