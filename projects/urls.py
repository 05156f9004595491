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
    # The codebook page; a code added (POST) by the project page's form or its own.
    path("<int:pk>/codebook/", views.codebook, name="codebook"),
    # The same address under the add form's older name.
    path("<int:pk>/codebook/", views.codebook, name="code_add"),
    path("<int:pk>/codebook.qdc", views.codebook_export, name="codebook_export"),
    path("<int:pk>/codebook/import/", views.codebook_import, name="codebook_import"),
    path("<int:pk>/codebook/<int:code>/", views.code_edit, name="code_edit"),
    path("<int:pk>/codebook/<int:code>/merge/", views.code_merge, name="code_merge"),
    path("<int:pk>/codebook/<int:code>/retire/", views.code_retire, name="code_retire"),
    path("<int:pk>/codebook/<int:code>/restore/", views.code_restore, name="code_restore"),
    path("<int:pk>/codebook/<int:code>/example/", views.code_example, name="code_example"),
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
