"""The read side (documents/selectors.py): the access rule, the filters, the rows every
representation is built from, the highlights; and the reads every request makes."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection

from documents import selectors, services
from documents.authentication import _live_token
from documents.models import Activity, Annotation, Document, Tag
from documents.selectors import AnnotationFilter, DocumentFilter
from tests.helpers import annotate


def test_logging_out_ends_the_session_on_the_server(client, user):
    assert client.login(username="analyst", password="analyst-pass-1")
    stolen = client.cookies["sessionid"].value
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    client.cookies["sessionid"] = stolen
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_deactivated_user_is_logged_out_on_the_next_request(client, user):
    assert client.login(username="analyst", password="analyst-pass-1")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/").status_code == 302


def test_every_read_follows_the_access_rule(document, user, other_user, tags):
    annotation = annotate(user, document, "Shanghai")
    assert selectors.document_get(user=user, pk=document.pk) == document
    assert selectors.annotation_get(user=user, pk=annotation.pk) == annotation
    assert list(selectors.annotation_list(user=user)) == [annotation]
    for pk in (document.pk + 1000, 0, 2**70):
        with pytest.raises(Document.DoesNotExist):
            selectors.document_get(user=user, pk=pk)
    other_user.is_active = False
    with pytest.raises(Document.DoesNotExist):
        selectors.document_get(user=other_user, pk=document.pk)
    with pytest.raises(Annotation.DoesNotExist):
        selectors.annotation_get(user=other_user, pk=annotation.pk)
    with pytest.raises(Document.DoesNotExist):
        selectors.document_list_version(user=other_user, pk=document.pk)
    assert not selectors.annotation_list(user=other_user).exists()
    assert not selectors.document_list(user=other_user).exists()


def test_annotation_filter_applies_each_field(document, user, other_user, tags):
    mine = annotate(user, document, "Shanghai", tags=["extradition"], note="Treaty basis")
    theirs = annotate(other_user, document, "Россия", tags=["oversight-gap"])
    gone = annotate(user, document, "Emoji", tags=["extradition"])
    services.annotation_delete(user=user, annotation=gone)

    def found(**fields):
        return set(selectors.annotation_list(user=user, filters=AnnotationFilter(**fields)))

    assert found() == {mine, theirs}
    assert found(include_deleted=True) == {mine, theirs, gone}
    assert found(tags=("extradition",)) == {mine}
    assert found(author=other_user.username) == {theirs}
    assert found(mine=True) == {mine}
    assert found(q="treaty") == {mine}
    assert found(document=document.pk + 1000) == set()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    assert found(updated_after=later) == found(created_after=later) == set()


def test_document_filter_applies_each_field(document, user):
    def found(**fields):
        return list(selectors.document_list(user=user, filters=DocumentFilter(**fields)))

    assert found() == [document]
    assert found(q=document.title[:4].lower()) == [document]
    assert found(language="xx") == found(organisation="Nobody") == []
    assert found(document_type=document.document_type) == [document]


def test_annotation_rows_are_what_every_representation_reads(document, user, tags):
    annotation = annotate(user, document, "Shanghai", tags=["oversight-gap", "extradition"])
    (row,) = selectors.annotation_rows(Annotation.objects.all())
    assert row["id"] == annotation.pk and row["author"] == user.username
    assert row["tags"] == [tag.slug for tag in annotation.tag_list]
    assert row["created"].endswith("Z") and row["updated"] == row["created"]
    assert selectors.annotation_row(annotation) == row
    assert selectors.annotation_row(Annotation.objects.get(pk=annotation.pk)) == row


def test_creating_on_a_document_id_out_of_range_is_a_clear_error(document, user, tags):
    with pytest.raises(ValidationError) as caught:
        services.annotation_create(user=user, document=2**70, start=0, end=5, tags=["extradition"])
    assert "There is no document" in str(caught.value)


def test_created_annotation_carries_its_tags_in_codebook_order(document, user, tags):
    annotation = annotate(user, document, "Shanghai", tags=["oversight-gap", "extradition"])
    expected = list(annotation.tags.order_by("sort_order", "name"))
    assert annotation.tag_list == expected
    assert annotation.pk and not annotation._state.adding
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.quote, stored.version, stored.author_id) == ("Shanghai", 1, user.pk)
    log = Activity.objects.get(action="annotation.create", object_id=annotation.pk)
    assert log.actor_id == user.pk and log.document_id == document.pk
    assert log.after["tags"] == ["extradition", "oversight-gap"]
    assert log.before is None


def test_a_span_write_locks_its_document_row_until_it_commits(
    document, user, tags, django_assert_max_num_queries
):
    """annotation_create reads the document through visible_to and locks its row (FOR NO KEY
    UPDATE on PostgreSQL, so that other annotations of it are not held up): a text change
    (document_update) waits for the write instead of slipping in between check and insert."""
    with django_assert_max_num_queries(12) as captured:
        annotate(user, document, "Shanghai")
    reads = [q["sql"] for q in captured.captured_queries if "documents_document" in q["sql"]]
    if connection.vendor == "postgresql":
        # The statement of documents/postgresql.py: the document's row, not the others'.
        assert "FOR NO KEY UPDATE OF d" in reads[0]
    else:
        assert "FOR " not in reads[0]  # SQLite serialises writes; it has no row locks.


def test_highlight_rows_find_exactly_the_overlapping_live_annotations(document, user, tags):
    words = ["Extradition", "Shanghai", "Convention", "上海合作组织", "Emoji", "Россия"]
    made = {word: annotate(user, document, word, tags=["extradition"]) for word in words}
    services.annotation_delete(user=user, annotation=made["Emoji"])
    live = [a for word, a in made.items() if word != "Emoji"]
    for start, end in [(0, 5), (10, 30), (30, 60), (0, document.length), (40, 41)]:
        found = selectors.highlight_rows(document, start, end)
        expected = {a.pk for a in live if a.start < end and a.end > start}
        assert {h.pk for h in found} == expected, (start, end)
    everything = selectors.highlight_rows(document)
    assert {h.pk for h in everything} == {a.pk for a in live}
    assert all(h.tags == [(tags["extradition"].pk, "Extradition")] for h in everything)


def test_tagging_in_a_document_id_out_of_range_is_refused_not_a_server_error(client, user, tags):
    assert client.login(username="analyst", password="analyst-pass-1")
    response = client.post(
        f"/documents/{2**70}/annotations/",
        {"start": 0, "end": 3, "quote": "abc", "tags": ["extradition"]},
        HTTP_HX_REQUEST="true",
    )
    # As for a document that is there but not one's own project's: no such page.
    assert response.status_code == 404


def test_api_token_lookup_finds_live_tokens_of_active_users(user, staff_user):
    _, read_only = services.api_token_create(actor=None, user=user, read_only=True)
    _, read_write = services.api_token_create(actor=None, user=staff_user, read_only=False)
    token = _live_token(services.api_token_hash(read_only))
    assert token is not None
    assert token.read_only is True and token.user == user and token.user.is_staff is False
    assert isinstance(token.user.date_joined, datetime.datetime)
    token = _live_token(services.api_token_hash(read_write))
    assert token is not None
    assert token.read_only is False and token.user.is_staff is True
    assert _live_token(services.api_token_hash("not-a-token")) is None
    User.objects.filter(pk=staff_user.pk).update(is_active=False)
    assert _live_token(services.api_token_hash(read_write)) is None


def test_a_codebook_change_is_logged_with_every_field(tags, staff_user):
    tag = Tag.objects.get(slug="extradition")
    tag.definition = "Handing a person over to another state's authorities."
    tag.colour = "#123456"
    services.tag_save(user=staff_user, tag=tag)
    log = Activity.objects.get(action="tag.update", object_id=tag.pk)
    assert set(log.after) == {
        "project", "name", "slug", "definition", "colour", "parent", "shortcut", "is_active",
        "sort_order", "inclusion", "exclusion", "example", "merged_into",
    }  # fmt: skip
    assert log.after["colour"] == "#123456" and log.before["colour"] != "#123456"
    assert log.after["definition"].startswith("Handing")


def test_a_create_answers_with_its_tags_in_the_order_every_read_gives(
    client, document, user, tags, bearer
):
    # Two tags at the same place in the codebook: their names decide, as the database
    # collates them.
    Tag.objects.filter(slug__in=["oversight-gap", "due-process"]).update(sort_order=7)
    Tag.objects.filter(slug="oversight-gap").update(name="oversight gap (lower case)")
    headers = bearer(user)
    start = document.text.index("Shanghai")
    body = {
        "document": document.pk,
        "start": start,
        "end": start + 8,
        "tags": ["oversight-gap", "extradition", "due-process"],
    }
    created = client.post(
        "/api/v1/annotations/", body, content_type="application/json", headers=headers
    ).json()
    read = client.get(created["url"], headers=headers).json()
    assert created["tags"] == read["tags"]
    assert sorted(created["tags"]) == ["due-process", "extradition", "oversight-gap"]


def test_a_text_that_changes_between_the_checks_reads_is_refused(document, user, tags, monkeypatch):
    def gone(document):
        raise Document.DoesNotExist

    monkeypatch.setattr(services.annotations, "document_text", gone)
    with pytest.raises(ValidationError) as caught:
        annotate(user, document, "Shanghai")
    assert "text changed" in str(caught.value)
    assert not Annotation.objects.exists()
