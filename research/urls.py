"""URLs of a project's research pages."""

from __future__ import annotations

from django.urls import path

from . import analysis_views, views

app_name = "research"

urlpatterns = [
    path("<int:pk>/search/", views.search, name="search"),
    path("<int:pk>/search/code/", views.code_hits, name="code_hits"),
    path("<int:pk>/coding-batches/<int:batch>/undo/", views.batch_undo, name="batch_undo"),
    path("<int:pk>/passages/", views.passages, name="passages"),
    path("<int:pk>/passages/count/", views.passages_count, name="passages_count"),
    path("<int:pk>/passages/export.<str:fmt>", views.passages_export, name="passages_export"),
    path("<int:pk>/matrix/", analysis_views.matrix, name="matrix"),
    path("<int:pk>/matrix/export.<str:fmt>", analysis_views.matrix, name="matrix_export"),
    path("<int:pk>/cooccurrence/", analysis_views.cooccurrence, name="cooccurrence"),
    path(
        "<int:pk>/cooccurrence/export.<str:fmt>",
        analysis_views.cooccurrence,
        name="cooccurrence_export",
    ),
    path("<int:pk>/timeline/", analysis_views.timeline, name="timeline"),
    path("<int:pk>/timeline/export.<str:fmt>", analysis_views.timeline, name="timeline_export"),
]
