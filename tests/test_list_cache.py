"""One document's list of annotations: kept in the cache and named by an ETag under the
version that the services change with anything the list shows."""

from __future__ import annotations

import gzip
import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, transaction

from documents import services
from documents.models import Annotation, Document, Tag
from tests.helpers import annotate

ANNOTATIONS = "/api/v1/annotations/"


@pytest.fixture
def listed(document, user, other_user, tags):
    annotate(user, document, "Shanghai", tags=["extradition", "oversight-gap"], note="A note.")
    annotate(other_user, document, "Россия", tags=["extradition"])
    return document


@pytest.fixture
def headers(bearer, staff_user):
    return bearer(staff_user)


def _list(client, document, headers, **extra):
    return client.get(f"/api/v1/documents/{document.pk}/annotations/", headers={**headers, **extra})


def test_a_kept_list_is_served_with_two_queries(client, listed, headers, django_assert_num_queries):
    first = _list(client, listed, headers)
    # The token, then the document with its list's version; the list is kept under it.
    with django_assert_num_queries(2):
        again = _list(client, listed, headers)
    assert again.content == first.content and again["ETag"] == first["ETag"]


def _change_cases(listed, user, other_user, staff_user, client, headers, tags):
    mine = Annotation.objects.get(author=user)
    url = f"{ANNOTATIONS}{mine.pk}/"
    json = "application/json"
    yield (
        "API create",
        lambda: client.post(
            ANNOTATIONS,
            {"document": listed.pk, "start": 0, "end": 11, "tags": ["three-evils"]},
            content_type=json,
            headers=headers,
        ),
    )
    yield (
        "API patch",
        lambda: client.patch(url, {"note": "Changed."}, content_type=json, headers=headers),
    )
    yield (
        "API tags",
        lambda: client.patch(url, {"tags": ["due-process"]}, content_type=json, headers=headers),
    )
    yield (
        "extent changed",
        lambda: services.annotation_change_extent(
            user=user,
            annotation=Annotation.objects.get(pk=mine.pk),
            start=listed.text.index("the Shanghai"),
            end=listed.text.index("the Shanghai") + len("the Shanghai"),
            quote="the Shanghai",
        ),
    )
    yield (
        "API extent",
        lambda: client.patch(
            url,
            {"start": 0, "end": 20, "quote": listed.text[:20]},
            content_type=json,
            headers=headers,
        ),
    )
    yield "API delete", lambda: client.delete(url, headers=headers)
    yield (
        "restore",
        lambda: services.annotation_restore(
            user=staff_user, annotation=Annotation.objects.get(pk=mine.pk)
        ),
    )
    yield (
        "tag renamed in the admin",
        lambda: _admin_save(Tag.objects.get(slug="due-process"), name="Fair trial"),
    )
    yield "tag reordered", lambda: _admin_save(Tag.objects.get(slug="due-process"), sort_order=-5)
    yield (
        "tag added",
        lambda: Tag.objects.create(project=listed.project, name="New code", slug="new-code"),
    )
    yield (
        "codes merged",
        lambda: client.post(
            "/api/v1/tags/oversight-gap/merge/",
            {"into": "extradition"},
            content_type=json,
            headers=headers,
        ),
    )
    yield "user renamed", lambda: _admin_save(User.objects.get(pk=other_user.pk), username="maria")


def _admin_save(obj, **values):
    # As the Django admin saves a changed object: the whole row, in a transaction.
    for name, value in values.items():
        setattr(obj, name, value)
    with transaction.atomic():
        obj.save()


def test_every_change_to_what_a_list_shows_gives_a_fresh_list_and_etag(
    client, listed, user, other_user, staff_user, headers, tags
):
    seen = set()
    previous = _list(client, listed, headers)
    seen.add(previous["ETag"])
    for label, change in _change_cases(listed, user, other_user, staff_user, client, headers, tags):
        response = change()
        assert getattr(response, "status_code", 200) < 400, label
        fresh = _list(client, listed, headers)
        assert fresh["ETag"] not in seen, label
        seen.add(fresh["ETag"])
        # The old ETag gets the new list, not a 304.
        stale = _list(client, listed, headers, **{"If-None-Match": previous["ETag"]})
        assert stale.status_code == 200 and stale.content == fresh.content, label
        # What the kept list says is what a list read afresh says.
        assert fresh.json()["results"] == [
            client.get(item["url"], headers=headers).json() for item in fresh.json()["results"]
        ], label
        # One document's pages of the paginated list are kept too: they show what the list
        # of every document (never kept) shows of it.
        kept = _pages(client, headers, document=listed.pk, include_deleted="true", page_size=1)
        unkept = _pages(client, headers, include_deleted="true")
        assert kept == [item for item in unkept if item["document"] == listed.pk], label
        previous = fresh
    assert {item["author"] for item in previous.json()["results"]} >= {"maria"}


def _pages(client, headers, **params):
    items, url = [], ANNOTATIONS
    while url:
        page = client.get(url, params, headers=headers).json()
        items += page["results"]
        url, params = page["next"], None
    return items


def test_a_documents_pages_are_kept_per_user_and_per_query(
    client, listed, user, other_user, bearer, django_assert_num_queries
):
    mine = bearer(user)
    query = {"document": listed.pk, "mine": "true"}
    first = client.get(ANNOTATIONS, query, headers=mine)
    # Kept: the token, then the document's check with its list's version.
    with django_assert_num_queries(2):
        again = client.get(ANNOTATIONS, query, headers=mine)
    assert again.content == first.content
    assert [item["author"] for item in first.json()["results"]] == [user.username]
    theirs = client.get(ANNOTATIONS, query, headers=bearer(other_user)).json()["results"]
    assert [item["author"] for item in theirs] == [other_user.username]
    # Another query of the same document is another page.
    tagged = client.get(ANNOTATIONS, {**query, "tag": "oversight-gap"}, headers=mine).json()
    assert [item["tags"] for item in tagged["results"]] == [["extradition", "oversight-gap"]]
    nothing = client.get(ANNOTATIONS, {**query, "q": "nowhere"}, headers=mine).json()
    assert nothing["results"] == []


def test_a_document_that_is_not_there_is_refused_before_the_cache(client, listed, headers):
    response = client.get(ANNOTATIONS, {"document": listed.pk + 1000}, headers=headers)
    assert response.status_code == 400
    assert response.json()["document"] == [
        f"There is no document #{listed.pk + 1000} that you can read."
    ]


def test_a_rename_changes_updated_and_version_so_that_a_mirror_sees_it(
    client, listed, other_user, headers
):
    theirs = Annotation.objects.get(author=other_user)
    before = client.get(f"{ANNOTATIONS}{theirs.pk}/", headers=headers)
    _admin_save(User.objects.get(pk=other_user.pk), username="maria")
    since = client.get(
        ANNOTATIONS, {"updated_after": before.json()["updated"]}, headers=headers
    ).json()["results"]
    assert [(item["id"], item["author"]) for item in since] == [(theirs.pk, "maria")]
    assert since[0]["version"] == before.json()["version"] + 1
    # Logging in saves the user too, without a new name: nothing changes then.
    assert client.login(username="maria", password="colleague-pass-1")
    assert Annotation.objects.get(pk=theirs.pk).version == since[0]["version"]


def test_a_change_rolled_back_leaves_the_version(listed, user):
    before = Document.objects.get(pk=listed.pk).annotations_version
    with pytest.raises(RuntimeError), transaction.atomic():
        annotate(user, listed, "Emoji")
        raise RuntimeError("undo")
    assert Document.objects.get(pk=listed.pk).annotations_version == before


def test_a_metadata_change_keeps_a_passage_written_since_the_document_was_read(
    listed, user, staff_user
):
    """document_update saves what it changes: a passage written between the document's
    read and its save (its list's version moved) leaves the list's version moved."""
    read = Document.objects.get(pk=listed.pk)
    annotate(user, listed, "Emoji")
    moved = Document.objects.get(pk=listed.pk).annotations_version
    assert moved != read.annotations_version
    services.document_update(user=staff_user, document=read, title="Renamed report")
    after = Document.objects.get(pk=listed.pk)
    assert (after.title, after.annotations_version) == ("Renamed report", moved)


def test_each_document_has_its_own_version(listed, user, tags):
    other = services.document_create(
        user=None, text="Another text.", metadata=services.DocumentMetadata(title="Other")
    )
    before = Document.objects.get(pk=listed.pk).annotations_version
    annotate(user, other, "Another")
    assert Document.objects.get(pk=listed.pk).annotations_version == before
    assert Document.objects.get(pk=other.pk).annotations_version != other.annotations_version


def test_if_none_match_answers_304_while_the_list_is_unchanged(client, listed, headers):
    first = _list(client, listed, headers)
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = _list(client, listed, headers, **{"If-None-Match": sent})
        assert response.status_code == 304 and response.content == b"", sent
        assert response["ETag"] == etag
    assert _list(client, listed, headers, **{"If-None-Match": '"other"'}).status_code == 200


def test_a_304_still_needs_the_right_to_read(client, listed, headers):
    etag = _list(client, listed, headers)["ETag"]
    response = client.get(
        f"/api/v1/documents/{listed.pk}/annotations/", headers={"If-None-Match": etag}
    )
    assert response.status_code == 401


def test_changes_behind_the_apps_back_need_the_clear_command(client, listed, headers):
    """SQL run by hand changes no version: the kept list stays until clear_list_cache."""
    first = _list(client, listed, headers)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE documents_annotation SET note = %s", ["Changed by hand."])
    assert _list(client, listed, headers).content == first.content
    out = io.StringIO()
    call_command("clear_list_cache", stdout=out)
    assert "new version" in out.getvalue()
    fresh = _list(client, listed, headers)
    assert fresh["ETag"] != first["ETag"]
    assert {item["note"] for item in fresh.json()["results"]} == {"Changed by hand."}


def test_a_kept_list_is_kept_compressed_too_for_clients_that_accept_gzip(
    client, listed, headers, django_assert_num_queries
):
    plain = _list(client, listed, headers)
    gzipped = _list(client, listed, headers, **{"Accept-Encoding": "gzip"})
    assert gzipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in gzipped["Vary"]
    assert gzip.decompress(gzipped.content) == plain.content
    assert gzipped["ETag"] == f"W/{plain['ETag']}"
    with django_assert_num_queries(2):
        again = _list(client, listed, headers, **{"Accept-Encoding": "gzip"})
    assert again.content == gzipped.content
    unchanged = _list(
        client, listed, headers, **{"Accept-Encoding": "gzip", "If-None-Match": gzipped["ETag"]}
    )
    assert unchanged.status_code == 304 and not unchanged.has_header("Content-Encoding")


def test_the_documents_page_keeps_its_highlighted_text_until_a_change(
    client, listed, user, other_user, django_assert_max_num_queries
):
    client.force_login(user)
    url = f"/documents/{listed.pk}/"

    def text(response):
        page = response.content.decode()
        return page[page.index('id="document-text"') : page.index("</article>")]

    first = text(client.get(url))
    assert first.count('class="hl ') > 0 and " own" in first
    again = text(client.get(url))
    assert again == first
    # A change shows at once: the kept text is named by the document's list version.
    annotate(other_user, listed, "Emoji", tags=["due-process"])
    changed = text(client.get(url))
    assert changed != first and changed.count('data-a="') > first.count('data-a="')
    # Each reader's own highlights are marked: the colleague's page is not the analyst's.
    client.force_login(other_user)
    theirs = text(client.get(url))
    assert theirs != changed
