"""One document's list of annotations, kept formatted under its list tokens.

A kept list must never outlive what it shows: every way of changing it (services, the ORM
behind the admin's back, raw SQL, the codebook, a user's name) gives new tokens, through the
database's triggers, and the next request formats the list afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from documents import serializers, services
from documents.models import EVERY_LIST, Annotation, ListToken, Tag, list_tokens
from sco_annotate.lru import BoundedCache

pytestmark = pytest.mark.django_db


def _url(document: Any) -> str:
    return f"/api/v1/documents/{document.pk}/annotations/"


def _make(document: Any, user: Any, needle: str, tags: list[str], note: str = "") -> Annotation:
    start = document.text.index(needle)
    return services.annotation_create(
        user=user, document=document, start=start, end=start + len(needle), tags=tags, note=note
    )


@pytest.fixture
def headers(user, bearer):
    return bearer(user)


@pytest.fixture
def listed(document, tags, user, other_user):
    """A document with three annotations by two users, one with two tags."""
    _make(document, user, "Shanghai", ["extradition", "oversight-gap"], "First.")
    _make(document, other_user, "Россия", ["three-evils"])
    _make(document, user, "Emoji", ["extradition"])
    return document


def _fresh(client: Any, document: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The list as the API formats it with nothing kept."""
    serializers._lists.clear()
    response = client.get(_url(document), headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_a_kept_list_is_served_as_it_was_formatted(
    client, listed, headers, django_assert_num_queries
):
    client.get("/api/v1/tags/", headers=headers)  # the token's first use is recorded
    serializers._lists.clear()
    with django_assert_num_queries(5):  # token, list tokens, annotations, their tags, codebook
        first = client.get(_url(listed), headers=headers)
    with django_assert_num_queries(2):  # token, list tokens
        second = client.get(_url(listed), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert first.json()["count"] == 3
    # Another origin names other URLs: its own list and its own ETag.
    other = client.get(_url(listed), headers=headers, HTTP_HOST="localhost")
    assert other.json()["document_url"].startswith("http://localhost/")
    assert other["ETag"] != first["ETag"]
    assert client.get(_url(listed), headers=headers).content == first.content


def _api_patch(client, listed, user, headers):
    item = Annotation.objects.filter(document=listed, author=user).order_by("pk").first()
    body = json.dumps({"note": "Changed through the API.", "tags": ["three-evils"]})
    response = client.patch(
        f"/api/v1/annotations/{item.pk}/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200


def _api_delete(client, listed, user, headers):
    item = Annotation.objects.filter(document=listed, author=user).order_by("pk").first()
    assert client.delete(f"/api/v1/annotations/{item.pk}/", headers=headers).status_code == 204


def _api_create(client, listed, user, headers):
    start = listed.text.index("Китай")
    body = {"document": listed.pk, "start": start, "end": start + 5, "tags": ["extradition"]}
    response = client.post(
        "/api/v1/annotations/", json.dumps(body), content_type="application/json", headers=headers
    )
    assert response.status_code == 201


def _restore(client, listed, user, headers):
    item = Annotation.objects.filter(document=listed, author=user).order_by("pk").first()
    services.annotation_delete(user=user, annotation=item)
    _fresh(client, listed, headers)  # kept while deleted
    item.refresh_from_db()
    services.annotation_restore(user=user, annotation=item)


def _orm_update(client, listed, user, headers):
    # As an admin action or a shell would: no service, no version raised.
    Annotation.objects.filter(document=listed).update(note="Bulk note")


def _orm_tag_link(client, listed, user, headers):
    item = Annotation.objects.filter(document=listed).order_by("pk").last()
    item.tags.add(Tag.objects.get(slug="three-evils"))


def _raw_unlink(client, listed, user, headers):
    with connection.cursor() as cursor:
        cursor.execute(
            'DELETE FROM "documents_annotation_tags" WHERE "annotation_id" IN '
            '(SELECT "id" FROM "documents_annotation" WHERE "document_id" = %s)',
            [listed.pk],
        )


def _rename_tag(client, listed, user, headers):
    tag = Tag.objects.get(slug="extradition")
    tag.slug = "extradition-renamed"
    tag.save()


def _reorder_codebook(client, listed, user, headers):
    Tag.objects.filter(slug="three-evils").update(sort_order=-100)
    Tag.objects.filter(slug="oversight-gap").update(sort_order=-50)


def _rename_user(client, listed, user, headers):
    user.username = "analyst-renamed"
    user.save()


def _orm_delete(client, listed, user, headers):
    Annotation.objects.filter(document=listed, author=user).delete()


CHANGES: dict[str, Callable[..., None]] = {
    "api create": _api_create,
    "api patch": _api_patch,
    "api delete": _api_delete,
    "restore": _restore,
    "orm update": _orm_update,
    "orm tag link": _orm_tag_link,
    "raw sql unlink": _raw_unlink,
    "tag renamed": _rename_tag,
    "codebook reordered": _reorder_codebook,
    "user renamed": _rename_user,
    "orm delete": _orm_delete,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_change_to_what_a_list_shows_gives_a_fresh_list(
    client, listed, user, headers, change
):
    before = client.get(_url(listed), headers=headers)
    assert client.get(_url(listed), headers=headers).content == before.content  # kept
    change(client, listed, user, headers)
    after = client.get(_url(listed), headers=headers)
    assert after.status_code == 200
    assert after.json() != before.json()
    assert after["ETag"] != before["ETag"]
    # What was served is what formatting the list from the database gives now.
    assert after.json() == _fresh(client, listed, headers)
    stale = client.get(_url(listed), headers={**headers, "If-None-Match": before["ETag"]})
    assert stale.status_code == 200 and stale.json() == after.json()


def test_a_change_rolled_back_leaves_the_tokens(listed, user):
    tokens = list_tokens(user, listed.pk)
    assert tokens is not None and tokens[0] is not None
    with pytest.raises(RuntimeError), transaction.atomic():
        Annotation.objects.filter(document=listed).update(note="Never kept")
        assert list_tokens(user, listed.pk) != tokens  # inside: changed with the rows
        raise RuntimeError("roll back")
    assert list_tokens(user, listed.pk) == tokens


def test_each_document_has_its_own_token(listed, user, tags):
    other = services.document_create(
        user=None, text="Another text about asylum.", metadata=services.DocumentMetadata(title="B")
    )
    assert list_tokens(user, other.pk) == (None, list_tokens(user, listed.pk)[1])
    before = list_tokens(user, listed.pk)
    _make(other, user, "asylum", ["extradition"])
    assert list_tokens(user, listed.pk) == before
    assert list_tokens(user, other.pk)[0] is not None


def test_a_list_without_a_token_is_formatted_each_time(
    client, document, headers, user, django_assert_num_queries
):
    assert list_tokens(user, document.pk)[0] is None  # never annotated
    client.get(_url(document), headers=headers)
    with django_assert_num_queries(5):
        response = client.get(_url(document), headers=headers)
    assert response.json()["count"] == 0
    assert "ETag" not in response


def test_deleting_a_document_forgets_its_token(listed, user):
    pk = listed.pk
    assert ListToken.objects.filter(document_id=pk).exists()
    Annotation.objects.filter(document=listed).delete()
    listed.delete()
    assert not ListToken.objects.filter(document_id=pk).exists()
    assert ListToken.objects.filter(document_id=EVERY_LIST).exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_truncating_annotations_forgets_every_document_token(listed, user):
    with connection.cursor() as cursor:
        # Checks deferred to the commit would otherwise keep TRUNCATE from running here.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute('TRUNCATE "documents_annotation_tags", "documents_annotation"')
    assert list_tokens(user, listed.pk)[0] is None
    assert list(ListToken.objects.values_list("document_id", flat=True)) == [EVERY_LIST]


def test_if_none_match_answers_304_while_the_list_is_unchanged(client, listed, headers):
    first = client.get(_url(listed), headers=headers)
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert "Accept" in first["Vary"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(_url(listed), headers={**headers, "If-None-Match": sent})
        assert response.status_code == 304, sent
        assert response.content == b""
        assert response["ETag"] == etag
    response = client.get(_url(listed), headers={**headers, "If-None-Match": '"other"'})
    assert response.status_code == 200 and response.content == first.content
    # The JSON-LD page carries no list ETag, and If-None-Match does not apply to it.
    page = client.get(_url(listed) + "?format=jsonld", headers={**headers, "If-None-Match": etag})
    assert page.status_code == 200 and "ETag" not in page


def test_a_304_still_needs_the_right_to_read(client, listed, headers):
    etag = client.get(_url(listed), headers=headers)["ETag"]
    assert client.get(_url(listed), headers={"If-None-Match": etag}).status_code == 401
    response = client.get(
        f"/api/v1/documents/{2**62}/annotations/", headers={**headers, "If-None-Match": "*"}
    )
    assert response.status_code == 404


def test_kept_lists_stay_within_their_bound(client, listed, headers, monkeypatch):
    body = _fresh(client, listed, headers)
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    monkeypatch.setattr(serializers, "_lists", BoundedCache(size, len))
    client.get(_url(listed), headers=headers)
    assert serializers._lists.size == size
    client.get(_url(listed), headers=headers, HTTP_HOST="localhost")  # a second origin
    assert len(serializers._lists.keys()) == 1
    assert serializers._lists.size <= size


def test_bounded_cache_drops_the_least_recently_used():
    cache: BoundedCache[str, str] = BoundedCache(6, len)
    cache.put("a", "aa")
    cache.put("b", "bb")
    assert cache.get("a") == "aa"  # now the most recently used
    cache.put("c", "cccc")
    assert cache.keys() == ["a", "c"] and cache.size == 6
    cache.put("d", "d" * 7)  # heavier than the whole cache: not kept
    assert cache.get("d") is None and cache.keys() == ["a", "c"]
    cache.clear()
    assert cache.keys() == [] and cache.size == 0
