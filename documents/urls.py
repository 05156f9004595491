"""URLs of the analysts' pages (`urlpatterns`) and of the API (`api_urlpatterns`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, path

from projects import api as project_api
from research import api as research_api

from . import api, exports, import_views, originals, views

app_name = "documents"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.document_list, name="list"),
    path("documents/<int:pk>/", views.document_detail, name="detail"),
    path("documents/<int:pk>/original/", views.document_original, name="original"),
    path(
        "documents/<int:pk>/annotations/",
        views.annotation_create,
        name="annotation_create",
    ),
    path(
        "documents/<int:pk>/annotations/panel/",
        views.annotation_panel,
        name="annotation_panel",
    ),
    path(
        "documents/<int:pk>/annotations/summaries/",
        views.annotation_summaries,
        name="annotation_summaries",
    ),
    path("documents/<int:pk>/attributes/", views.document_attributes, name="attributes"),
    path("documents/<int:pk>/activity/", views.document_activity, name="activity"),
    path("documents/<int:pk>/trash/", views.document_trash, name="trash"),
    path("annotations/<int:pk>/", views.annotation_card, name="annotation_card"),
    path("annotations/<int:pk>/edit/", views.annotation_edit, name="annotation_edit"),
    path("annotations/<int:pk>/delete/", views.annotation_delete, name="annotation_delete"),
    path("annotations/<int:pk>/restore/", views.annotation_restore, name="annotation_restore"),
    path("annotations/<int:pk>/extent/", views.annotation_extent, name="annotation_extent"),
    path("annotations/<int:pk>/history/", views.annotation_history, name="annotation_history"),
    path("tags.css", views.tag_styles, name="tag_styles"),
    path("import/", import_views.import_upload, name="import"),
    path("import/<int:pk>/", import_views.import_batch, name="import_batch"),
    path("import/<int:pk>/step/", import_views.import_step, name="import_step"),
    path("import/<int:pk>/confirm/", import_views.import_confirm, name="import_confirm"),
]

# DRF answers anonymous API calls itself (401 with WWW-Authenticate: Bearer), so the API
# views are exempt from LoginRequiredMiddleware's redirect to the login page.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "projects/", login_not_required(project_api.ProjectListView.as_view()), name="project-list"
    ),
    path(
        "projects/<int:pk>/",
        login_not_required(project_api.ProjectDetailView.as_view()),
        name="project-detail",
    ),
    path(
        "projects/<int:pk>/attributes/",
        login_not_required(project_api.AttributeListView.as_view()),
        name="attribute-list",
    ),
    path(
        "projects/<int:pk>/passages/",
        login_not_required(research_api.PassageListView.as_view()),
        name="passage-list",
    ),
    path(
        "projects/<int:pk>/passages/export.<str:fmt>",
        login_not_required(research_api.PassageExportView.as_view()),
        name="passage-export",
    ),
    path(
        "projects/<int:pk>/search/",
        login_not_required(research_api.SearchView.as_view()),
        name="search",
    ),
    path(
        "documents/",
        login_not_required(api.DocumentListView.as_view()),
        name="document-list",
    ),
    path(
        "documents/<int:pk>/",
        login_not_required(api.DocumentDetailView.as_view()),
        name="document-detail",
    ),
    path(
        "documents/<int:pk>/annotations/",
        login_not_required(api.DocumentAnnotationsView.as_view()),
        name="document-annotations",
    ),
    path(
        "documents/<int:pk>/original/",
        login_not_required(originals.DocumentOriginalView.as_view()),
        name="document-original",
    ),
    path("tags/", login_not_required(api.TagListView.as_view()), name="tag-list"),
    path("tags/<slug:slug>/", login_not_required(api.TagDetailView.as_view()), name="tag-detail"),
    path(
        "tags/<slug:slug>/merge/", login_not_required(api.TagMergeView.as_view()), name="tag-merge"
    ),
    path(
        "tags/<slug:slug>/retire/",
        login_not_required(api.TagRetireView.as_view()),
        name="tag-retire",
    ),
    path(
        "tags/<slug:slug>/restore/",
        login_not_required(api.TagRestoreView.as_view()),
        name="tag-restore",
    ),
    path(
        "annotations/",
        login_not_required(api.AnnotationListView.as_view()),
        name="annotation-list",
    ),
    path(
        "annotations/<int:pk>/",
        login_not_required(api.AnnotationDetailView.as_view()),
        name="annotation-detail",
    ),
    path(
        "annotations/<int:pk>/restore/",
        login_not_required(api.AnnotationRestoreView.as_view()),
        name="annotation-restore",
    ),
    path(
        "export/annotations.csv",
        login_not_required(exports.AnnotationCSVExport.as_view()),
        name="export-csv",
    ),
    path(
        "export/annotations.jsonl",
        login_not_required(exports.AnnotationJSONLExport.as_view()),
        name="export-jsonl",
    ),
]
