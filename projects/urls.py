"""URLs of the project pages."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "projects"

urlpatterns = [
    path("", views.project_index, name="list"),
    path("new/", views.project_create, name="create"),
    path("<int:pk>/", views.project_detail, name="detail"),
    path("<int:pk>/settings/", views.project_settings, name="settings"),
    path("<int:pk>/members/", views.member_add, name="member_add"),
    path("<int:pk>/members/<int:member>/role/", views.member_role, name="member_role"),
    path("<int:pk>/members/<int:member>/remove/", views.member_remove, name="member_remove"),
    path("<int:pk>/codebook/copy/", views.codebook_copy, name="codebook_copy"),
    path("<int:pk>/codebook/", views.code_add, name="code_add"),
    path("<int:pk>/codebook/<int:code>/", views.code_edit, name="code_edit"),
    path("<int:pk>/attributes/", views.attribute_add, name="attribute_add"),
    path("<int:pk>/attributes/<int:attribute>/", views.attribute_edit, name="attribute_edit"),
    path(
        "<int:pk>/attributes/<int:attribute>/delete/",
        views.attribute_delete,
        name="attribute_delete",
    ),
    path("<int:pk>/attributes/documents/", views.document_attributes, name="document_attributes"),
    path("<int:pk>/attributes/upload/", views.attributes_upload, name="attributes_upload"),
    path("<int:pk>/attributes.csv", views.attributes_csv, name="attributes_csv"),
]
