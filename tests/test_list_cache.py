"""One document's list of annotations, kept formatted under its list tokens (PostgreSQL).

A kept list must never outlive what it shows: every way of changing it (services, the ORM
behind the admin's back, raw SQL, the codebook, the users) gives new tokens, through the
database's triggers, and the next request formats the list afresh. A list is kept only when
it was read in one snapshot with its tokens, which takes a request outside any transaction:
the tests of kept lists run with transaction=True. SQLite has no tokens and formats the list
each time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from documents import api, serializers, services
from documents.models import EVERY_LIST, Annotation, ListToken, Tag, list_tokens
from sco_annotate.lru import BoundedCache

postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="list tokens are PostgreSQL's"
)
#: Requests outside a transaction, as served: lists are kept.
served = pytest.mark.django_db(transaction=True)


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


@postgresql_only
@served
def test_a_kept_list_is_served_as_it_was_formatted(
    client, listed, headers, django_assert_num_queries
):
    client.get("/api/v1/tags/", headers=headers)  # the token's first use is recorded
    serializers._lists.clear()
    # Token, list tokens, then in one snapshot (BEGIN, SET TRANSACTION, COMMIT): the list
    # tokens again, annotations, tags.
    with django_assert_num_queries(8):
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


@pytest.mark.django_db
def test_a_list_read_without_a_snapshot_is_neither_kept_nor_named(
    client, listed, headers, django_assert_num_queries
):
    # SQLite always; PostgreSQL inside a transaction already open (this test's).
    serializers._lists.clear()
    client.get(_url(listed), headers=headers)
    with django_assert_num_queries(5):
        response = client.get(_url(listed), headers=headers)
    assert response.status_code == 200 and "ETag" not in response
    assert response.json()["count"] == 3
    assert serializers._lists.held() == []
    Annotation.objects.filter(document=listed).update(note="Changed")
    notes = [item["note"] for item in client.get(_url(listed), headers=headers).json()["results"]]
    assert notes == ["Changed"] * 3


@postgresql_only
@served
def test_a_list_read_with_autocommit_off_is_neither_kept_nor_named(client, listed, headers):
    serializers._lists.clear()
    connection.set_autocommit(False)
    try:
        response = client.get(_url(listed), headers=headers)
    finally:
        connection.rollback()
        connection.set_autocommit(True)
    assert response.status_code == 200 and "ETag" not in response
    assert response.json()["count"] == 3
    assert serializers._lists.held() == []


@pytest.mark.django_db
def test_a_document_deleted_after_the_check_is_a_404(client, listed, headers, monkeypatch):
    checked = api.list_tokens

    def check_then_delete(asker: Any, pk: int) -> Any:
        tokens = checked(asker, pk)
        Annotation.objects.filter(document_id=pk).delete()
        listed.delete()
        return tokens

    monkeypatch.setattr(api, "list_tokens", check_then_delete)
    assert client.get(_url(listed), headers=headers).status_code == 404


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


def _orm_bulk_create(client, listed, user, headers):
    start = listed.text.index("Китай")
    quote = listed.text[start : start + 5]
    Annotation.objects.bulk_create(
        [Annotation(document=listed, start=start, end=start + 5, quote=quote, author=user)]
    )


def _orm_tag_add(client, listed, user, headers):
    item = Annotation.objects.filter(document=listed).order_by("pk").last()
    item.tags.add(Tag.objects.get(slug="three-evils"))


def _orm_tag_remove(client, listed, user, headers):
    item = Annotation.objects.filter(document=listed).order_by("pk").first()
    item.tags.remove(Tag.objects.get(slug="oversight-gap"))


def _orm_tags_clear(client, listed, user, headers):
    Annotation.objects.filter(document=listed).order_by("pk").first().tags.clear()


def _raw_unlink(client, listed, user, headers):
    with connection.cursor() as cursor:
        cursor.execute(
            'DELETE FROM "documents_annotation_tags" WHERE "annotation_id" IN '
            '(SELECT "id" FROM "documents_annotation" WHERE "document_id" = %s)',
            [listed.pk],
        )


def _raw_relink(client, listed, user, headers):
    # As merging one tag into another would: the links themselves updated.
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "documents_annotation_tags" SET "tag_id" = %s WHERE "tag_id" = %s',
            [Tag.objects.get(slug="oversight-gap").pk, Tag.objects.get(slug="three-evils").pk],
        )


def _rename_tag(client, listed, user, headers):
    tag = Tag.objects.get(slug="extradition")
    tag.slug = "extradition-renamed"
    tag.save()


def _reorder_codebook(client, listed, user, headers):
    Tag.objects.filter(slug="three-evils").update(sort_order=-100)
    Tag.objects.filter(slug="oversight-gap").update(sort_order=-50)


def _delete_tag(client, listed, user, headers):
    Tag.objects.filter(slug="oversight-gap").delete()


def _rename_user(client, listed, user, headers):
    user.username = "analyst-renamed"
    user.save()


def _replace_user(client, listed, user, headers):
    # Raw SQL can put another user under the same id (foreign keys are checked at the
    # commit): every list names the new user.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(
            'SELECT "password", "date_joined" FROM "auth_user" WHERE "id" = %s', [user.pk]
        )
        password, joined = cursor.fetchone()
        cursor.execute('DELETE FROM "auth_user_groups" WHERE "user_id" = %s', [user.pk])
        cursor.execute('DELETE FROM "auth_user" WHERE "id" = %s', [user.pk])
        User.objects.create(
            pk=user.pk, username="someone-else", password=password, date_joined=joined
        )


def _orm_delete(client, listed, user, headers):
    Annotation.objects.filter(document=listed, author=user).delete()


CHANGES: dict[str, Callable[..., None]] = {
    "api create": _api_create,
    "api patch": _api_patch,
    "api delete": _api_delete,
    "restore": _restore,
    "orm update": _orm_update,
    "orm bulk create": _orm_bulk_create,
    "orm tag add": _orm_tag_add,
    "orm tag remove": _orm_tag_remove,
    "orm tags clear": _orm_tags_clear,
    "raw sql unlink": _raw_unlink,
    "raw sql relink": _raw_relink,
    "tag renamed": _rename_tag,
    "codebook reordered": _reorder_codebook,
    "tag deleted": _delete_tag,
    "user renamed": _rename_user,
    "user replaced": _replace_user,
    "orm delete": _orm_delete,
}


@postgresql_only
@served
@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_change_to_what_a_list_shows_gives_a_fresh_list(
    client, listed, user, headers, change, django_assert_num_queries
):
    before = client.get(_url(listed), headers=headers)
    with django_assert_num_queries(2):  # kept: token and list tokens only
        assert client.get(_url(listed), headers=headers).content == before.content
    change(client, listed, user, headers)
    after = client.get(_url(listed), headers=headers)
    assert after.status_code == 200
    assert after.json() != before.json()
    assert after["ETag"] != before["ETag"]
    # What was served is what formatting the list from the database gives now.
    assert after.json() == _fresh(client, listed, headers)
    stale = client.get(_url(listed), headers={**headers, "If-None-Match": before["ETag"]})
    assert stale.status_code == 200 and stale.json() == after.json()


@postgresql_only
@served
def test_deleting_a_document_forgets_its_token_and_its_list(client, listed, user, headers):
    pk = listed.pk
    etag = client.get(_url(listed), headers=headers)["ETag"]
    assert ListToken.objects.filter(document_id=pk).exists()
    listed.delete()  # its annotations with it
    assert not ListToken.objects.filter(document_id=pk).exists()
    assert ListToken.objects.filter(document_id=EVERY_LIST).exists()
    response = client.get(f"/api/v1/documents/{pk}/annotations/", headers=headers)
    assert response.status_code == 404
    response = client.get(
        f"/api/v1/documents/{pk}/annotations/", headers={**headers, "If-None-Match": etag}
    )
    assert response.status_code == 404


@postgresql_only
@pytest.mark.django_db
def test_a_change_rolled_back_leaves_the_tokens(listed, user):
    tokens = list_tokens(user, listed.pk)
    assert tokens is not None and None not in tokens
    with pytest.raises(RuntimeError), transaction.atomic():
        Annotation.objects.filter(document=listed).update(note="Never kept")
        assert list_tokens(user, listed.pk) != tokens  # inside: changed with the rows
        raise RuntimeError("roll back")
    assert list_tokens(user, listed.pk) == tokens


@postgresql_only
@pytest.mark.django_db
def test_each_document_has_its_own_token(listed, user, tags):
    other = services.document_create(
        user=None, text="Another text about asylum.", metadata=services.DocumentMetadata(title="B")
    )
    assert list_tokens(user, other.pk) == (None, list_tokens(user, listed.pk)[1])
    before = list_tokens(user, listed.pk)
    _make(other, user, "asylum", ["extradition"])
    assert list_tokens(user, listed.pk) == before
    assert list_tokens(user, other.pk)[0] is not None
    # A new user changes every list's token (a user may take a deleted one's id).
    User.objects.create_user(username="newcomer")
    assert list_tokens(user, listed.pk)[1] != before[1]


@postgresql_only
@served
def test_a_list_without_a_token_is_formatted_each_time(
    client, document, tags, headers, user, django_assert_num_queries
):
    assert list_tokens(user, document.pk)[0] is None  # never annotated
    client.get(_url(document), headers=headers)
    with django_assert_num_queries(8):
        response = client.get(_url(document), headers=headers)
    assert response.json()["count"] == 0
    assert "ETag" not in response
    # Nor without the token of every list (gone after a flush until a tag is written).
    _make(document, user, "Shanghai", ["extradition"])
    ListToken.objects.filter(document_id=EVERY_LIST).delete()
    assert list_tokens(user, document.pk)[1] is None
    client.get(_url(document), headers=headers)
    with django_assert_num_queries(8):
        response = client.get(_url(document), headers=headers)
    assert response.json()["count"] == 1 and "ETag" not in response


@postgresql_only
@pytest.mark.django_db
def test_truncating_annotations_forgets_every_document_token(listed, user):
    with connection.cursor() as cursor:
        # Checks deferred to the commit would otherwise keep TRUNCATE from running here.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # With the idempotency keys, which reference the annotations.
        cursor.execute(
            'TRUNCATE "documents_annotation_tags", "documents_idempotencykey", '
            '"documents_annotation"'
        )
    assert list_tokens(user, listed.pk)[0] is None
    assert list(ListToken.objects.values_list("document_id", flat=True)) == [EVERY_LIST]


@postgresql_only
@pytest.mark.django_db
def test_every_trigger_is_in_place():
    # Dropped by a later migration (a table rebuilt), the tokens would stop changing.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'list_token_%%' ORDER BY 1, 2"
        )
        found = cursor.fetchall()
    events = ["delete", "insert", "truncate", "update"]
    assert found == [
        ("auth_user", "list_token_rename"),
        ("auth_user", "list_token_users"),
        *[("documents_annotation", f"list_token_{event}") for event in events],
        *[("documents_annotation_tags", f"list_token_{event}") for event in events],
        ("documents_document", "list_token_delete"),
        ("documents_tag", "list_token_change"),
    ]


def _commit_elsewhere(sql: str, params: list[Any]) -> None:
    """Run a statement on a connection of its own and commit it, as another request would."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute(sql, params)


@postgresql_only
@served
def test_a_list_is_read_in_one_snapshot_with_its_tokens(client, listed, headers, monkeypatch):
    serializers._lists.clear()
    read_tokens = serializers.read_list_tokens
    notes = iter(["Committed meanwhile"])

    def read_then_commit(pk: int) -> Any:
        # A change committed after the tokens are read, before the rows are.
        tokens = read_tokens(pk)
        for note in notes:
            _commit_elsewhere(
                'UPDATE "documents_annotation" SET "note" = %s WHERE "document_id" = %s',
                [note, pk],
            )
        return tokens

    monkeypatch.setattr(serializers, "read_list_tokens", read_then_commit)
    before = client.get(_url(listed), headers=headers)
    # The list is the one its tokens name: from before the change, all of it.
    assert [item["note"] for item in before.json()["results"]] == ["First.", "", ""]
    after = client.get(_url(listed), headers=headers)
    assert [item["note"] for item in after.json()["results"]] == ["Committed meanwhile"] * 3
    assert after["ETag"] != before["ETag"]
    current = list_tokens(User.objects.get(username="analyst"), listed.pk)
    assert sorted(key[1:3] for key in serializers._lists.held()) == sorted(
        [_tokens_of(before["ETag"]), current]
    )


def _tokens_of(etag: str) -> tuple[str, str]:
    _, own, every, _ = etag.strip('"').split(".")
    return own, every


@postgresql_only
@served
def test_if_none_match_answers_304_while_the_list_is_unchanged(client, listed, headers):
    first = client.get(_url(listed), headers=headers)
    etag = first["ETag"]
    assert etag.startswith(f'"{serializers.LIST_FORMAT}.') and etag.endswith('"')
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


@postgresql_only
@pytest.mark.django_db
def test_if_none_match_star_on_a_list_too_long_to_send_is_still_a_400(
    client, listed, headers, monkeypatch
):
    monkeypatch.setattr(api, "DOCUMENT_ANNOTATIONS_LIMIT", 2)
    response = client.get(_url(listed), headers={**headers, "If-None-Match": "*"})
    assert response.status_code == 400 and "document" in response.json()


@postgresql_only
@served
def test_a_304_still_needs_the_right_to_read(client, listed, headers):
    etag = client.get(_url(listed), headers=headers)["ETag"]
    assert client.get(_url(listed), headers={"If-None-Match": etag}).status_code == 401
    response = client.get(
        f"/api/v1/documents/{2**62}/annotations/", headers={**headers, "If-None-Match": "*"}
    )
    assert response.status_code == 404


@postgresql_only
@served
def test_kept_lists_stay_within_their_bound(client, listed, headers, monkeypatch):
    body = _fresh(client, listed, headers)
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    monkeypatch.setattr(serializers, "_lists", BoundedCache(size, len))
    client.get(_url(listed), headers=headers)
    assert serializers._lists.size == size
    client.get(_url(listed), headers=headers, HTTP_HOST="localhost")  # a second origin
    assert len(serializers._lists.held()) == 1
    assert serializers._lists.size <= size


def test_the_list_format_version_is_raised_with_its_representation():
    """The ETag names LIST_FORMAT: a change to how the list is written must raise it, or
    clients holding an ETag are told 304 and keep the old form. Raise it, then record the
    new digest here."""
    urls = serializers.Links(
        ("https://x.example/a/", "/"), ("https://x.example/d/", "/"), ("https://x.example/t/", "/")
    )
    rows = [
        (
            7,
            3,
            9,
            'quo"te\n',
            "pre",
            "suf",
            "Note «x» 上海",
            "analyst",
            2,
            "2026-11-22 16:27:37.5+00",
            "2026-11-22 16:27:38.123456+00",
        ),
        (
            8,
            10,
            12,
            "Ки",
            "",
            "",
            "",
            "colleague",
            1,
            "2026-11-22 16:27:39+00",
            "2026-11-22 16:27:39+00",
        ),
    ]
    tag_rows = [(7, "three-evils", 3), (7, "extradition", 1), (8, "oversight-gap", 2)]
    body = serializers.list_body(5, urls, rows, tag_rows)
    parsed = json.loads(body)
    assert parsed["count"] == 2 and parsed["document_url"] == "https://x.example/d/5/"
    assert parsed["results"][0]["tags"] == ["extradition", "three-evils"]
    assert parsed["results"][0]["created"] == "2026-11-22T16:27:37.500000Z"
    digest = hashlib.sha256(body).hexdigest()[:16]
    assert (serializers.LIST_FORMAT, digest) == (1, "b44d96327df97669")


def test_bounded_cache_drops_the_least_recently_used():
    cache: BoundedCache[str, str] = BoundedCache(6, len)
    cache.put("a", "aa")
    cache.put("b", "bb")
    assert cache.get("a") == "aa"  # now the most recently used
    cache.put("c", "cccc")
    assert cache.held() == ["a", "c"] and cache.size == 6
    cache.put("d", "d" * 7)  # heavier than the whole cache: not kept
    assert cache.get("d") is None and cache.held() == ["a", "c"]
    cache.clear()
    assert cache.held() == [] and cache.size == 0
