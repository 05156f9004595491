"""The Django admin: usable for the corpus and codebook, and writes go through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from documents import services
from documents.models import Activity, Document, Tag
from projects.models import Role
from tests.conftest import member


@pytest.fixture
def admin_client_(client, admin_user, project):
    # A site administrator who owns the test project: the admin shows a project's research
    # data to its members only.
    member(project, admin_user, Role.OWNER)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("model", ["document", "tag", "annotation", "activity"])
def test_admin_changelists_load_with_search(admin_client_, annotation, model):
    url = reverse(f"admin:documents_{model}_changelist")
    assert admin_client_.get(url).status_code == 200
    assert admin_client_.get(url, {"q": "Shanghai"}).status_code == 200


def test_admin_shows_sample_documents_and_codebook(admin_client_, sample_corpus):
    page = admin_client_.get(reverse("admin:documents_document_changelist")).content.decode()
    assert "Open Letter to Foreign Ministers" in page
    assert "January 2002" in page
    tags = admin_client_.get(reverse("admin:documents_tag_changelist")).content.decode()
    assert "Definition of extremism" in tags


def test_admin_text_is_read_only_once_annotated(admin_client_, document, annotation):
    page = admin_client_.get(reverse("admin:documents_document_change", args=[document.pk]))
    assert 'name="text"' not in page.content.decode()


def test_admin_text_is_editable_before_annotation(admin_client_, document):
    page = admin_client_.get(reverse("admin:documents_document_change", args=[document.pk]))
    assert 'name="text"' in page.content.decode()


def test_admin_document_edit_goes_through_the_service(admin_client_, document):
    url = reverse("admin:documents_document_change", args=[document.pk])
    response = admin_client_.post(
        url,
        {
            "title": "Renamed",
            "organisation": "HRIC",
            "author": "",
            "source_url": "",
            "published": "",
            "date_precision": "",
            "language": "en",
            "document_type": "report",
            "notes": "",
            "text": document.text,
            "source_file-TOTAL_FORMS": "0",
            "source_file-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    document.refresh_from_db()
    assert (document.title, document.organisation) == ("Renamed", "HRIC")
    activity = Activity.objects.get(action="document.update")
    assert activity.after["title"] == "Renamed"


def test_admin_tag_edit_is_logged_and_slug_fixed(admin_client_, tags):
    tag = tags["oversight-gap"]
    url = reverse("admin:documents_tag_change", args=[tag.pk])
    response = admin_client_.post(
        url,
        {
            "name": "Oversight gap",
            "definition": "New definition.",
            "colour": "#123456",
            "parent": "",
            "shortcut": "o",
            "is_active": "on",
            "sort_order": "5",
            "slug": "renamed-slug",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tag = Tag.objects.get(pk=tag.pk)
    assert tag.slug == "oversight-gap"
    assert tag.definition == "New definition."
    assert Activity.objects.filter(action="tag.update", object_id=tag.pk).exists()


def test_admin_cannot_delete_tags_or_edit_the_activity_log(admin_client_, tags, annotation):
    tag = tags["extradition"]
    assert (
        admin_client_.get(reverse("admin:documents_tag_delete", args=[tag.pk])).status_code == 403
    )
    activity = Activity.objects.first()
    change = admin_client_.post(reverse("admin:documents_activity_change", args=[activity.pk]), {})
    assert change.status_code == 403
    assert Document.objects.exists()


def test_admin_add_document_refuses_duplicate_text_with_a_message(admin_client_, document):
    response = admin_client_.post(
        reverse("admin:documents_document_add"),
        {
            "project": document.project_id,
            "title": "Copy",
            "document_type": "other",
            "text": document.text.replace("\n", "\r\n"),
            "source_file-TOTAL_FORMS": "0",
            "source_file-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "already in the project as document" in response.content.decode()
    assert Document.objects.count() == 1


def test_admin_add_document_goes_through_the_service(admin_client_, admin_user, project):
    response = admin_client_.post(
        reverse("admin:documents_document_add"),
        {
            "project": project.pk,
            "title": "Pasted statement",
            "document_type": "statement",
            "language": "ru",
            "published": "2024-03-01",
            "date_precision": "month",
            "text": "Текст\r\nзаявления",
            "source_file-TOTAL_FORMS": "0",
            "source_file-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    document = Document.objects.get(title="Pasted statement")
    assert document.text == "Текст\nзаявления"
    assert document.imported_by == admin_user
    assert document.published_display == "March 2024"
    assert Activity.objects.filter(action="document.import", object_id=document.pk).exists()


def test_admin_lists_and_deletes_import_batches(admin_client_, admin_user, project):
    from documents.models import ImportBatch, ImportItem

    batch = ImportBatch.objects.create(created_by=admin_user, project=project)
    ImportItem.objects.create(batch=batch, position=0, filename="left-out.txt", data=b"bytes")
    listing = admin_client_.get(reverse("admin:documents_importbatch_changelist"))
    assert listing.status_code == 200
    page = admin_client_.get(reverse("admin:documents_importbatch_change", args=[batch.pk]))
    assert "left-out.txt" in page.content.decode()
    response = admin_client_.post(
        reverse("admin:documents_importbatch_delete", args=[batch.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ImportItem.objects.exists()


def test_admin_soft_delete_action_deletes_all_or_nothing(admin_client_, annotation, user, tags):
    from documents import services as s
    from documents.models import Annotation

    second = s.annotation_create(
        user=user, document=annotation.document_id, start=0, end=5, tags=["due-process"]
    )
    response = admin_client_.post(
        reverse("admin:documents_annotation_changelist"),
        {"action": "soft_delete", "_selected_action": [annotation.pk, second.pk]},
    )
    assert response.status_code == 302
    assert Annotation.objects.alive().count() == 0
    assert Annotation.objects.count() == 2


def _one_of_each(admin_user, annotation, bearer):
    """An object of every model the admin lists, so that each change page is opened."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.apps import apps
    from django.contrib.auth.models import Group
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import AccessEvent
    from memos import services as memo_services

    now = timezone.now()
    bearer(admin_user)  # an API token
    services.import_batch_create(
        user=admin_user,
        uploads=[services.Upload("a.txt", b"Some text.", "text/plain")],
        defaults={},
    )
    Group.objects.create(name="Editors")
    who = {"user_agent": "test", "http_accept": "*/*", "path_info": "/accounts/login/"}
    AccessAttempt.objects.create(
        **who, attempt_time=now, get_data="", post_data="", failures_since_start=1, username="x"
    )
    AccessLog.objects.create(**who, attempt_time=now, username="x")
    AccessFailureLog.objects.create(**who, attempt_time=now, username="x")
    AccessEvent.objects.create(kind=AccessEvent.Kind.LOGIN, user=admin_user)
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    memo_services.memo_create(
        user=admin_user, project=annotation.document.project_id, title="A memo", text="Text."
    )
    from django_tasks_db.models import get_date_max

    # Queued to run at once (the date the backend stores for "no run_after"): the tests'
    # immediate backend refuses a task that names a time.
    apps.get_model("django_tasks_database", "DBTaskResult").objects.create(
        enqueued_at=now,
        run_after=get_date_max(),
        args_kwargs={"args": [], "kwargs": {}},
        task_path="research.tasks.index_queued",
        backend_name="default",
        exception_class_path="",
        traceback="",
    )


def test_every_admin_page_of_every_model_opens(admin_client_, annotation, admin_user, bearer):
    """For a superuser, every registered model's changelist, add page and the change page of
    one object answer 200; the add page answers 403 exactly where its admin offers no adding
    (the logs, append-only, and what only the app makes)."""
    from django.contrib import admin
    from django.test import RequestFactory

    _one_of_each(admin_user, annotation, bearer)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        assert admin_client_.get(base).status_code == 200, base
        add = admin_client_.get(base + "add/").status_code
        assert add == (200 if model_admin.has_add_permission(request) else 403), (base, add)
        first = model_admin.get_queryset(request).first()
        assert first is not None, f"no {opts.model_name} to open: add one to _one_of_each"
        page = admin_client_.get(f"{base}{first.pk}/change/")
        assert page.status_code == 200, (base, page.status_code)
