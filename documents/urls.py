"""URLs of the analysts' pages (`urlpatterns`) and of the API (`api_urlpatterns`)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import import_views, views

app_name = "documents"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.document_list, name="list"),
    path("documents/<int:pk>/", views.document_detail, name="detail"),
    path(
        "documents/<int:pk>/annotations/",
        views.annotation_create,
        name="annotation_create",
    ),
    path("annotations/<int:pk>/", views.annotation_card, name="annotation_card"),
    path("annotations/<int:pk>/edit/", views.annotation_edit, name="annotation_edit"),
    path("annotations/<int:pk>/delete/", views.annotation_delete, name="annotation_delete"),
    path("annotations/<int:pk>/restore/", views.annotation_restore, name="annotation_restore"),
    path("tags.css", views.tag_styles, name="tag_styles"),
    path("import/", import_views.import_upload, name="import"),
    path("import/<int:pk>/", import_views.import_batch, name="import_batch"),
    path("import/<int:pk>/step/", import_views.import_step, name="import_step"),
    path("import/<int:pk>/confirm/", import_views.import_confirm, name="import_confirm"),
]

api_urlpatterns: list[URLPattern | URLResolver] = []
