"""Codebook changes that meet other changes: a page opened before someone else's change, a
merge while a passage is being saved, two owners adding the same code at once."""

from __future__ import annotations

import re
import threading
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse

from documents import services
from documents.cleanup import applied_rows
from documents.models import Activity, Annotation, Document, Tag
from documents.services.codebook import tag_merge, tag_save
from projects import services as project_services
from projects.models import Role

from .conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(django_user_model, project):
    return member(
        project,
        django_user_model.objects.create_user(username="owner", password="owner-pass-1"),
        Role.OWNER,
    )


def _edit_form(client, project, tag) -> dict[str, str]:
    """The code page's change form as the browser would send it back unchanged."""
    page = client.get(reverse("projects:code_edit", args=[project.pk, tag.pk])).content.decode()
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen, "the change form carries when the code was last changed"
    return {
        "name": tag.name,
        "definition": tag.definition,
        "inclusion": tag.inclusion,
        "exclusion": tag.exclusion,
        "colour": tag.colour,
        "parent": str(tag.parent_id or ""),
        "shortcut": tag.shortcut,
        "is_active": "on" if tag.is_active else "",
        "seen": seen.group(1),
    }


def test_a_change_made_meanwhile_is_not_overwritten_unseen(client, project, owner, tags):
    tag = tags["extradition"]
    client.force_login(owner)
    form = _edit_form(client, project, tag)
    project_services.code_save(
        user=owner, project=project, values={"definition": "Changed by a colleague."}, pk=tag.pk
    )
    url = reverse("projects:code_edit", args=[project.pk, tag.pk])
    response = client.post(url, {**form, "name": "Extradition (mine)"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "was changed by someone else since this page was opened" in page
    tag.refresh_from_db()
    assert (tag.name, tag.definition) == ("Extradition", "Changed by a colleague.")
    # The form comes back with what was typed, over the code as it is now: a second save
    # makes the change knowingly.
    assert 'value="Extradition (mine)"' in page
    seen = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    assert seen == tag.updated.isoformat()
    response = client.post(url, {**form, "name": "Extradition (mine)", "seen": seen})
    assert response.status_code == 302
    tag.refresh_from_db()
    assert tag.name == "Extradition (mine)"


def test_a_page_opened_before_a_merge_cannot_undo_it(client, project, owner, tags, annotation):
    merged, into = tags["extradition"], tags["oversight-gap"]
    client.force_login(owner)
    form = _edit_form(client, project, merged)
    tag_merge(user=owner, tag=merged, into=into)
    url = reverse("projects:code_edit", args=[project.pk, merged.pk])
    response = client.post(url, form)  # "Active" still ticked, as the page showed it
    assert response.status_code == 422
    merged.refresh_from_db()
    assert not merged.is_active and merged.merged_into_id == into.pk
    # Even sent again knowingly, an edit does not bring a merged code back: Restore does.
    again = re.search(r'name="seen" value="([^"]+)"', response.content.decode()).group(1)
    response = client.post(url, {**form, "seen": again})
    assert response.status_code == 422
    assert "Restore" in response.content.decode()
    merged.refresh_from_db()
    assert not merged.is_active and merged.merged_into_id == into.pk


def test_a_child_moved_by_a_merge_is_not_put_back_by_an_old_page(client, project, owner, tags):
    parent, into = tags["extradition"], tags["oversight-gap"]
    child = Tag.objects.create(project=project, name="Surrender", slug="surrender", parent=parent)
    client.force_login(owner)
    form = _edit_form(client, project, child)
    tag_merge(user=owner, tag=parent, into=into)
    response = client.post(reverse("projects:code_edit", args=[project.pk, child.pk]), form)
    assert response.status_code == 422
    child.refresh_from_db()
    assert child.parent_id == into.pk


def test_an_api_change_sets_only_what_it_sends(client, project, owner, tags, bearer):
    tag = tags["extradition"]
    tag_merge(user=owner, tag=tag, into=tags["oversight-gap"])
    response = client.patch(
        f"/api/v1/tags/{tag.slug}/?project={project.pk}",
        {"definition": "Handing over a person."},
        content_type="application/json",
        headers=bearer(owner),
    )
    assert response.status_code == 200, response.content
    tag.refresh_from_db()
    assert tag.definition == "Handing over a person."
    assert not tag.is_active and tag.merged_into_id is not None


def test_the_same_code_added_twice_at_once_is_refused_clearly(project, owner, tags):
    """Both owners' checks pass before either writes; the second write's unique index
    refuses it, and the refusal names the field as the check would have."""
    first = Tag(project=project, name="Asylum", slug="asylum")
    tag_save(user=owner, tag=first)
    second = Tag(project=project, name="Asylum", slug="asylum")
    real = Tag.full_clean
    calls = []

    def check_before_the_other_wrote(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 1:
            return None
        return real(self, *args, **kwargs)

    with (
        mock.patch.object(Tag, "full_clean", check_before_the_other_wrote),
        pytest.raises(ValidationError) as refused,
    ):
        tag_save(user=owner, tag=second)
    assert "has this slug" in " ".join(refused.value.messages)
    assert Tag.objects.filter(project=project, slug="asylum").count() == 1
    assert not Activity.objects.filter(action="tag.create", object_id=None).exists()


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "boilerplate", "paragraph": "three", "paragraphs": 1.5},
        {"kind": "boilerplate", "paragraph": -4, "paragraphs": None},
        {"kind": "boilerplate", "paragraph": True, "paragraphs": [2]},
    ],
)
def test_a_hand_edited_report_reads_without_failing(entry):
    rows, _ = applied_rows({"cleanup": {"applied": [entry]}})
    assert (rows[0].paragraph, rows[0].paragraphs) == (0, 1)


def test_paragraph_numbers_written_as_text_still_read():
    rows, _ = applied_rows({"cleanup": {"applied": [{"paragraph": "12", "paragraphs": "2"}]}})
    assert (rows[0].paragraph, rows[0].paragraphs) == (12, 2)


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writing transaction at a time: there is no meanwhile",
)


class Merge(threading.Thread):
    """In its own connection, hold a code as a merge does (FOR UPDATE) and retire it; once
    the writer under test has had time to reach the code, look whether that writer holds
    its document (it must not: codes come first in every writer's lock order), then
    commit."""

    def __init__(self, tag: Tag, document_id: int) -> None:
        super().__init__()
        self.tag, self.document_id = tag, document_id
        self.holding = threading.Event()
        self.document_was_free: bool | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                Tag.objects.select_for_update().get(pk=self.tag.pk)
                Tag.objects.filter(pk=self.tag.pk).update(is_active=False)
                self.holding.set()
                threading.Event().wait(0.5)  # the writer starts and waits for the code
                self.document_was_free = _free(self.document_id)
        finally:
            connection.close()


def _free(document_id: int) -> bool:
    """Whether a third connection can lock the document at once."""
    from django.db import DatabaseError

    result: list[bool] = []

    def look() -> None:
        try:
            with transaction.atomic():
                list(
                    Document.objects.select_for_update(nowait=True)
                    .filter(pk=document_id)
                    .values_list("pk")
                )
            result.append(True)
        except DatabaseError:
            result.append(False)
        finally:
            connection.close()

    third = threading.Thread(target=look)
    third.start()
    third.join(10)
    return result[0]


def _during_a_merge(tag: Tag, document_id: int, write) -> Merge:
    merge = Merge(tag, document_id)
    merge.start()
    assert merge.holding.wait(10)
    try:
        with pytest.raises(ValidationError) as refused:
            write()
    finally:
        merge.join(10)
    assert "retired" in " ".join(refused.value.messages).lower()
    assert merge.document_was_free is True
    return merge


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("given_as", ["slug", "object"])
def test_a_passage_saved_during_a_merge_does_not_keep_the_merged_code(
    given_as, project, user, tags, document
):
    """The create reaches the code while a merge holds it and waits; it then reads the
    code retired and is refused rather than leaving a passage on it. A slug takes the
    create's PostgreSQL statements (documents/postgresql.py), a Tag object the ORM's."""
    tag = tags["extradition"]
    _during_a_merge(
        tag,
        document.pk,
        lambda: services.annotation_create(
            user=user,
            document=document,
            start=0,
            end=5,
            tags=[tag.slug if given_as == "slug" else tag],
        ),
    )
    assert not Annotation.objects.filter(document=document).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_passage_given_a_code_during_a_merge_is_refused(project, user, tags, annotation):
    tag = tags["oversight-gap"]
    _during_a_merge(
        tag,
        annotation.document_id,
        lambda: services.annotation_update(
            user=user, annotation=annotation, tags=[tag], start=annotation.start + 1
        ),
    )
    assert list(annotation.tags.values_list("slug", flat=True)) == ["extradition"]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_search_hits_coded_during_a_merge_are_refused(project, user, tags, document):
    from research.services import code_hits

    tag = tags["oversight-gap"]
    _during_a_merge(
        tag,
        document.pk,
        lambda: code_hits(
            user=user,
            project=project.pk,
            tag=tag,
            hits=[(document.pk, 0, 5)],
            scope="match",
            query="x",
        ),
    )
    assert not Annotation.objects.filter(document=document).exists()
