"""URLs of a project's memo pages (mounted under projects/) and of the memos API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import api, views

app_name = "memos"

urlpatterns = [
    path("<int:pk>/memos/", views.memo_list, name="list"),
    path("<int:pk>/memos/new/", views.memo_create, name="create"),
    path("<int:pk>/memos/<int:memo>/", views.memo_detail, name="detail"),
    path("<int:pk>/memos/<int:memo>/edit/", views.memo_edit, name="edit"),
    path("<int:pk>/memos/<int:memo>/delete/", views.memo_delete, name="delete"),
    path("<int:pk>/memos/<int:memo>/restore/", views.memo_restore, name="restore"),
    path("<int:pk>/memos/<int:memo>/revert/", views.memo_revert, name="revert"),
]

# Mounted in the API's namespace ("api:") under api/v1/ by sco_annotate/urls.py. DRF answers
# anonymous calls itself (401), so these are exempt from the login redirect.
api_urlpatterns = [
    path(
        "projects/<int:pk>/memos/",
        login_not_required(api.ProjectMemoListView.as_view()),
        name="memo-list",
    ),
    path("memos/<int:pk>/", login_not_required(api.MemoDetailView.as_view()), name="memo-detail"),
    path(
        "memos/<int:pk>/restore/",
        login_not_required(api.MemoRestoreView.as_view()),
        name="memo-restore",
    ),
    path(
        "memos/<int:pk>/revert/",
        login_not_required(api.MemoRevertView.as_view()),
        name="memo-revert",
    ),
]
