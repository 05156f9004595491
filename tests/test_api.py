"""The REST API: authentication, permissions, endpoints, filters, pagination, ETags, errors."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from documents import services
from documents.models import Activity, Annotation, ApiToken, Document, Tag
from tests.conftest import MIXED_TEXT

pytestmark = pytest.mark.django_db

ANNOTATIONS = "/api/v1/annotations/"
DOCUMENTS = "/api/v1/documents/"


def post_json(client, url, body, headers, method="post", **extra):
    return getattr(client, method)(
        url, data=json.dumps(body), content_type="application/json", headers=headers, **extra
    )


def span(document, needle):
    start = document.text.index(needle)
    return start, start + len(needle)


@pytest.fixture
def analyst_headers(user, bearer):
    return bearer(user)


@pytest.fixture
def admin_headers(staff_user, bearer):
    return bearer(staff_user)


# ---------------------------------------------------------------------------------------
# Tokens


def test_api_token_create_stores_only_the_hash(user):
    token, plain = services.api_token_create(actor=None, user=user, read_only=True)
    assert plain.startswith("sco_") and len(plain) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert plain not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == services.api_token_hash(plain)
    assert stored.prefix == plain[:12]
    assert Activity.objects.filter(action="api_token.create", object_id=token.pk).exists()


def test_create_api_token_command_prints_only_the_token(user, client, capsys):
    call_command("create_api_token", "analyst", "--read-only")
    plain = capsys.readouterr().out.strip()
    assert "\n" not in plain and plain.startswith("sco_")
    token = ApiToken.objects.get(key_hash=services.api_token_hash(plain))
    assert token.read_only and token.user == user
    response = client.get(DOCUMENTS, headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200


def test_create_api_token_command_rejects_unknown_user(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_token", "nobody")


def test_revoked_token_gets_401(client, user):
    token, plain = services.api_token_create(actor=None, user=user, read_only=False)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get(DOCUMENTS, headers=headers).status_code == 200
    services.api_token_revoke(actor=None, token=token)
    response = client.get(DOCUMENTS, headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_of_inactive_user_gets_401(client, user, bearer):
    headers = bearer(user)
    user.is_active = False
    user.save()
    assert client.get(DOCUMENTS, headers=headers).status_code == 401


def test_garbage_token_gets_401(client, db):
    for value in ("Bearer nonsense", "Bearer", "Bearer a b", "Bearer sco_é"):
        response = client.get(DOCUMENTS, headers={"Authorization": value})
        assert response.status_code == 401, value


def test_token_last_used_is_recorded_at_most_once_a_minute(client, user):
    token, plain = services.api_token_create(actor=None, user=user, read_only=True)
    headers = {"Authorization": f"Bearer {plain}"}
    client.get(DOCUMENTS, headers=headers)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(DOCUMENTS, headers=headers)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - datetime.timedelta(minutes=2))
    client.get(DOCUMENTS, headers=headers)
    token.refresh_from_db()
    assert token.last_used_at > first - datetime.timedelta(minutes=1)


# ---------------------------------------------------------------------------------------
# Authentication and permission, endpoint by endpoint


def _endpoints(document, annotation):
    return [
        ("get", DOCUMENTS),
        ("get", f"{DOCUMENTS}{document.pk}/"),
        ("get", f"{DOCUMENTS}{document.pk}/annotations/"),
        ("get", "/api/v1/tags/"),
        ("get", "/api/v1/tags/extradition/"),
        ("get", ANNOTATIONS),
        ("get", f"{ANNOTATIONS}{annotation.pk}/"),
        ("get", "/api/v1/export/annotations.csv"),
        ("get", "/api/v1/export/annotations.jsonl"),
        ("get", "/api/schema/"),
        ("post", DOCUMENTS),
        ("post", ANNOTATIONS),
        ("patch", f"{ANNOTATIONS}{annotation.pk}/"),
        ("delete", f"{ANNOTATIONS}{annotation.pk}/"),
    ]


def test_every_endpoint_refuses_anonymous_with_401(client, document, annotation):
    for method, url in _endpoints(document, annotation):
        response = getattr(client, method)(url, content_type="application/json")
        assert response.status_code == 401, (method, url)
        assert response["WWW-Authenticate"].startswith("Bearer"), url
    assert Annotation.objects.get(pk=annotation.pk).deleted_at is None


def test_read_only_token_reads_everything_and_writes_nothing(
    client, document, annotation, user, bearer
):
    headers = bearer(user, read_only=True)
    for method, url in _endpoints(document, annotation):
        if method == "get":
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
        else:
            response = post_json(client, url, {}, headers, method=method)
            assert response.status_code == 403, (method, url)
            assert "read-only" in response.json()["detail"]
    annotation.refresh_from_db()
    assert annotation.version == 1 and annotation.deleted_at is None


def test_session_login_works_and_needs_csrf_for_writes(document, tags, user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(DOCUMENTS).status_code == 200
    start, end = span(document, "Shanghai")
    body = {"document": document.pk, "start": start, "end": end, "tags": ["extradition"]}
    response = post_json(client, ANNOTATIONS, body, {})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    client.get("/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    response = post_json(client, ANNOTATIONS, body, {"X-CSRFToken": csrf})
    assert response.status_code == 201, response.json()


def test_only_admins_add_documents(client, user, staff_user, bearer, db):
    body = {"title": "A statement", "text": "The text of a statement."}
    response = post_json(client, DOCUMENTS, body, bearer(user))
    assert response.status_code == 403
    assert not Document.objects.exists()
    response = post_json(client, DOCUMENTS, body, bearer(staff_user))
    assert response.status_code == 201, response.json()


def test_analyst_cannot_change_or_delete_another_analysts_annotation(
    client, annotation, other_user, bearer
):
    headers = bearer(other_user)
    url = f"{ANNOTATIONS}{annotation.pk}/"
    response = post_json(client, url, {"note": "mine now"}, headers, method="patch")
    assert response.status_code == 403
    response = client.delete(url, headers={**headers, "If-Match": '"1"'})
    assert response.status_code == 403
    annotation.refresh_from_db()
    assert annotation.note == "Treaty basis." and annotation.deleted_at is None
    assert client.get(url, headers=headers).status_code == 200


def test_admin_changes_any_annotation(client, annotation, admin_headers):
    url = f"{ANNOTATIONS}{annotation.pk}/"
    response = post_json(client, url, {"note": "Checked."}, admin_headers, method="patch")
    assert response.status_code == 200
    assert response.json()["note"] == "Checked."
    assert client.delete(url, headers=admin_headers).status_code == 204


# ---------------------------------------------------------------------------------------
# Documents and codebook


def test_document_detail_has_text_length_in_code_points_and_sha256(
    client, document, analyst_headers
):
    body = client.get(f"{DOCUMENTS}{document.pk}/", headers=analyst_headers).json()
    assert body["text"] == MIXED_TEXT
    assert body["length"] == len(MIXED_TEXT)  # code points: the emoji counts 5, not 7
    assert body["length"] != len(MIXED_TEXT.encode("utf-16-le")) // 2
    assert body["sha256"] == document.sha256
    assert body["url"] == f"http://testserver{DOCUMENTS}{document.pk}/"


def test_document_list_filters(client, sample_corpus, analyst_headers):
    def ids(query):
        response = client.get(DOCUMENTS + query, headers=analyst_headers)
        assert response.status_code == 200, response.json()
        assert all("text" not in item for item in response.json()["results"])
        return {item["id"] for item in response.json()["results"]}

    corpus = Document.objects.all()
    first = sample_corpus[0]
    assert ids("?page_size=1000") == set(corpus.values_list("pk", flat=True))
    assert first.pk in ids(f"?language={first.language}")
    assert ids(f"?language={first.language}") == set(
        corpus.filter(language=first.language).values_list("pk", flat=True)
    )
    assert ids(f"?organisation={first.organisation}") == set(
        corpus.filter(organisation=first.organisation).values_list("pk", flat=True)
    )
    assert ids(f"?document_type={first.document_type}") == set(
        corpus.filter(document_type=first.document_type).values_list("pk", flat=True)
    )
    dated = corpus.exclude(published=None).order_by("published")
    middle = dated[len(dated) // 2].published
    assert ids(f"?published_after={middle}") == set(
        dated.filter(published__gte=middle).values_list("pk", flat=True)
    )
    assert ids(f"?published_before={middle}") == set(
        dated.filter(published__lte=middle).values_list("pk", flat=True)
    )
    word = first.title.split()[0]
    assert ids(f"?q={word.lower()}") == set(
        corpus.filter(title__icontains=word).values_list("pk", flat=True)
    )


def test_document_list_rejects_bad_filters(client, document, analyst_headers):
    for query, field in [
        ("?document_type=poem", "document_type"),
        ("?published_after=yesterday", "published_after"),
        ("?page_size=0", "page_size"),
        ("?page_size=1001", "page_size"),
        ("?cursor=abc", "cursor"),
        ("?langauge=en", "langauge"),
    ]:
        response = client.get(DOCUMENTS + query, headers=analyst_headers)
        assert response.status_code == 400, query
        assert field in response.json(), (query, response.json())


def test_document_create_from_json_goes_through_the_import_service(
    client, admin_headers, staff_user
):
    body = {
        "title": "Joint statement",
        "text": "Line one\r\nLine two",
        "organisation": "SCO",
        "published": "2011-06",
        "language": "en",
        "document_type": "statement",
    }
    response = post_json(client, DOCUMENTS, body, admin_headers)
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["text"] == "Line one\nLine two"
    assert created["published"] == "2011-06-01" and created["date_precision"] == "month"
    assert response["Location"] == created["url"]
    document = Document.objects.get(pk=created["id"])
    assert document.imported_by == staff_user
    assert Activity.objects.filter(action="document.import", object_id=document.pk).exists()


def test_document_create_duplicate_gets_409_with_the_existing_document(
    client, document, admin_headers
):
    body = {"title": "Again", "text": MIXED_TEXT}
    response = post_json(client, DOCUMENTS, body, admin_headers)
    assert response.status_code == 409
    assert response.json()["document"]["id"] == document.pk
    assert response.json()["document"]["url"].endswith(f"{DOCUMENTS}{document.pk}/")
    assert Document.objects.count() == 1


def test_document_create_from_a_file(client, admin_headers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "report.txt", "Ein Bericht über Auslieferung.".encode(), "text/plain"
    )
    response = client.post(
        DOCUMENTS,
        {"file": upload, "organisation": "HRW", "published": "2012"},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "report"
    assert body["text"] == "Ein Bericht über Auslieferung."
    assert body["organisation"] == "HRW" and body["date_precision"] == "year"


def test_document_create_rejects_bad_input_per_field(client, admin_headers):
    cases = [
        ({"text": "x"}, "title"),
        ({"title": "t", "text": "   "}, "text"),
        ({"title": "t", "text": "x", "published": "June"}, "published"),
        ({"title": "t", "text": "x", "language": "english!"}, "language"),
        ({"title": "t", "text": "x", "document_type": "poem"}, "document_type"),
        ({"title": "t", "text": "x", "sha256": "0" * 64}, "sha256"),
        ({"title": "t\ud800", "text": "x"}, "title"),
        ({"title": 5, "text": ["x"]}, "text"),
    ]
    for body, field in cases:
        response = post_json(client, DOCUMENTS, body, admin_headers)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    assert not Document.objects.exists()


def test_tags_are_the_codebook(client, tags, analyst_headers):
    body = client.get("/api/v1/tags/", headers=analyst_headers).json()
    by_slug = {tag["slug"]: tag for tag in body}
    assert set(by_slug) == set(tags)
    child = by_slug["forced-return"]
    assert child["parent"] == "extradition"
    assert set(child) >= {"slug", "name", "definition", "colour", "parent"}
    detail = client.get(child["url"], headers=analyst_headers)
    assert detail.status_code == 200 and detail.json() == child
    assert client.get("/api/v1/tags/nope/", headers=analyst_headers).status_code == 404


# ---------------------------------------------------------------------------------------
# Annotations: create, read, change, delete


def test_annotation_create_with_emoji_offsets_in_code_points(
    client, document, tags, analyst_headers, user
):
    start, end = span(document, "👩🏽‍⚖️ and 𠀀")
    body = {
        "document": document.pk,
        "start": start,
        "end": end,
        "tags": ["extradition", "due-process"],
        "note": "A note",
        "quote": "👩🏽‍⚖️ and 𠀀",
    }
    response = post_json(client, ANNOTATIONS, body, analyst_headers)
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["quote"] == document.text[start:end]
    assert created["start"] == start and created["end"] == end
    assert set(created["tags"]) == {"extradition", "due-process"}
    assert created["author"] == "analyst" and created["version"] == 1
    assert created["document_url"].endswith(f"{DOCUMENTS}{document.pk}/")
    assert response["ETag"] == '"1"'
    assert response["Location"] == created["url"]
    assert set(created) >= {
        "id", "url", "document", "document_url", "start", "end", "quote", "prefix", "suffix",
        "tags", "note", "author", "created", "updated", "version",
    }  # fmt: skip
    assert Annotation.objects.get(pk=created["id"]).author == user


def test_annotation_create_without_quote(client, document, tags, analyst_headers):
    start, end = span(document, "Россия")
    body = {"document": document.pk, "start": start, "end": end, "tags": ["extradition"]}
    response = post_json(client, ANNOTATIONS, body, analyst_headers)
    assert response.status_code == 201
    assert response.json()["quote"] == "Россия"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": 10, "end": 5}, "end"),
        ({"start": 0, "end": 10_000}, "end"),
        ({"start": -1}, "start"),
        ({"start": 2**40}, "start"),
        ({"start": "zero"}, "start"),
        ({"start": 1.5}, "start"),
        ({"start": True}, "start"),
        ({"quote": "not the text"}, "quote"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"tags": []}, "tags"),
        ({"tags": "extradition"}, "tags"),
        ({"document": 999_999}, "document"),
        ({"document": "one"}, "document"),
        ({"note": 5}, "note"),
        ({"note": "bad \ud800"}, "note"),
        ({"colour": "red"}, "colour"),
        ({"version": 3}, "version"),
    ],
)
def test_annotation_create_rejects_bad_input_with_a_message_per_field(
    client, document, tags, analyst_headers, change, field
):
    start, end = span(document, "Shanghai")
    body = {"document": document.pk, "start": start, "end": end, "tags": ["extradition"]}
    body.update(change)
    response = post_json(client, ANNOTATIONS, body, analyst_headers)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert all(isinstance(message, str) for message in response.json()[field])
    assert not Annotation.objects.exists()


def test_annotation_create_rejects_malformed_and_oversized_bodies(
    client, document, tags, analyst_headers, settings
):
    for raw in ("{", "[1, 2]", "null", '"text"', "{'a': 1}"):
        response = client.post(
            ANNOTATIONS, data=raw, content_type="application/json", headers=analyst_headers
        )
        assert response.status_code == 400, raw
        assert response.json(), raw
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = {"document": document.pk, "start": 0, "end": 1, "tags": ["x"], "note": "n" * 2000}
    response = post_json(client, ANNOTATIONS, big, analyst_headers)
    assert response.status_code == 400
    assert "larger than 1000 bytes" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_annotation_quote_mismatch_explains_code_points(client, document, tags, analyst_headers):
    # A JavaScript client that sent UTF-16 indices for text after the emoji is off by some.
    utf16_start = len(document.text[: document.text.index("Россия")].encode("utf-16-le")) // 2
    body = {
        "document": document.pk,
        "start": utf16_start,
        "end": utf16_start + 6,
        "tags": ["extradition"],
        "quote": "Россия",
    }
    response = post_json(client, ANNOTATIONS, body, analyst_headers)
    assert response.status_code == 400
    assert "code points" in response.json()["quote"][0]


def test_annotation_detail_etag_and_if_match(client, annotation, analyst_headers):
    url = f"{ANNOTATIONS}{annotation.pk}/"
    response = client.get(url, headers=analyst_headers)
    assert response["ETag"] == '"1"'
    response = post_json(
        client, url, {"note": "v2"}, {**analyst_headers, "If-Match": '"1"'}, method="patch"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response["ETag"] == '"2"'
    # A second client that still holds version 1 is refused, and nothing changes.
    stale = post_json(
        client, url, {"note": "lost update"}, {**analyst_headers, "If-Match": '"1"'}, method="patch"
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    response = client.delete(url, headers={**analyst_headers, "If-Match": '"1"'})
    assert response.status_code == 412
    annotation.refresh_from_db()
    assert annotation.note == "v2" and annotation.version == 2 and annotation.deleted_at is None
    # Weak forms (as a proxy may send them back) and lists are understood.
    response = client.delete(url, headers={**analyst_headers, "If-Match": 'W/"7", W/"2"'})
    assert response.status_code == 204
    assert response["ETag"] == '"3"'


def test_if_match_race_is_decided_by_the_service(client, annotation, analyst_headers, user):
    """The ETag matched when read, but the row changed before the update: still a 412."""
    from unittest import mock

    real_update = services.annotation_update

    def concurrent_change_first(**kwargs):
        Annotation.objects.filter(pk=annotation.pk).update(version=5)
        return real_update(**kwargs)

    url = f"{ANNOTATIONS}{annotation.pk}/"
    with mock.patch.object(services, "annotation_update", concurrent_change_first):
        response = post_json(
            client, url, {"note": "x"}, {**analyst_headers, "If-Match": '"1"'}, method="patch"
        )
    assert response.status_code == 412
    annotation.refresh_from_db()
    assert annotation.note == "Treaty basis."


def test_patch_rejects_bad_input(client, annotation, analyst_headers):
    url = f"{ANNOTATIONS}{annotation.pk}/"
    for body, field in [
        ({}, "non_field_errors"),
        ({"document": 5}, "document"),
        ({"start": 0, "end": 3, "quote": "nope"}, "quote"),
        ({"tags": ["missing"]}, "tags"),
        ({"end": 10**6}, "end"),
    ]:
        response = post_json(client, url, body, analyst_headers, method="patch")
        assert response.status_code == 400, body
        assert field in response.json(), (body, response.json())
    response = post_json(
        client, url, {"note": "x"}, {**analyst_headers, "If-Match": "3"}, method="patch"
    )
    assert response.status_code == 400 and "If-Match" in response.json()
    annotation.refresh_from_db()
    assert annotation.version == 1


def test_patch_changes_span_and_tags(client, document, annotation, analyst_headers):
    start, end = span(document, "Convention")
    url = f"{ANNOTATIONS}{annotation.pk}/"
    body = {"start": start, "end": end, "tags": ["due-process"], "quote": "Convention"}
    response = post_json(client, url, body, analyst_headers, method="patch")
    assert response.status_code == 200, response.json()
    assert response.json()["quote"] == "Convention"
    assert response.json()["tags"] == ["due-process"]


def test_unknown_annotation_is_404(client, db, analyst_headers):
    assert client.get(f"{ANNOTATIONS}12345/", headers=analyst_headers).status_code == 404


# ---------------------------------------------------------------------------------------
# Listing, filters, tombstones, cursor pagination


def _make(document, user, needle, tags, note=""):
    start, end = span(document, needle)
    return services.annotation_create(
        user=user, document=document, start=start, end=end, tags=tags, note=note
    )


def _ids(client, headers, query=""):
    response = client.get(ANNOTATIONS + query, headers=headers)
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def test_annotation_list_filters(client, document, tags, user, other_user, analyst_headers):
    other_document = services.document_create(
        user=None, text="Another text about asylum.", metadata=services.DocumentMetadata(title="B")
    )
    a = _make(document, user, "Shanghai", ["extradition"], note="treaty basis")
    b = _make(document, other_user, "Россия", ["forced-return"])
    c = _make(document, user, "Китай", ["due-process"])
    d = _make(other_document, other_user, "asylum", ["asylum-refugee-protection"])
    assert _ids(client, analyst_headers) == [a.pk, b.pk, c.pk, d.pk]
    assert _ids(client, analyst_headers, f"?document={other_document.pk}") == [d.pk]
    # A parent tag includes its children; repeating tag means any of them.
    assert _ids(client, analyst_headers, "?tag=extradition") == [a.pk, b.pk]
    assert _ids(client, analyst_headers, "?tag=forced-return") == [b.pk]
    assert _ids(client, analyst_headers, "?tag=due-process&tag=forced-return") == [b.pk, c.pk]
    assert _ids(client, analyst_headers, "?author=colleague") == [b.pk, d.pk]
    assert _ids(client, analyst_headers, "?q=TREATY") == [a.pk]
    assert _ids(client, analyst_headers, "?q=Китай") == [c.pk]
    later = timezone.now()
    Annotation.objects.filter(pk=a.pk).update(created=later + datetime.timedelta(seconds=5))
    after = (later + datetime.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert _ids(client, analyst_headers, f"?created_after={after}") == [a.pk]


def test_annotation_list_rejects_unknown_filter_values(client, document, tags, analyst_headers):
    for query, field in [
        ("?tag=no-such-tag", "tag"),
        ("?tag=bad slug!", "tag"),
        ("?author=nobody", "author"),
        ("?document=99999", "document"),
        ("?document=abc", "document"),
        ("?updated_after=last-week", "updated_after"),
        ("?include_deleted=maybe", "include_deleted"),
        ("?sort=quote", "sort"),
        ("?page_size=5000", "page_size"),
    ]:
        response = client.get(ANNOTATIONS + query, headers=analyst_headers)
        assert response.status_code == 400, query
        assert field in response.json(), (query, response.json())


def test_updated_after_and_tombstones_tell_a_syncing_client_everything(
    client, document, tags, user, analyst_headers
):
    a = _make(document, user, "Shanghai", ["extradition"])
    b = _make(document, user, "Россия", ["extradition"])
    c = _make(document, user, "Китай", ["extradition"])
    synced = client.get(ANNOTATIONS, headers=analyst_headers).json()["results"]
    since = max(item["updated"] for item in synced)
    services.annotation_update(user=user, annotation=b, note="changed")
    services.annotation_delete(user=user, annotation=c)
    query = f"?updated_after={since}&include_deleted=true"
    changes = client.get(ANNOTATIONS + query, headers=analyst_headers).json()["results"]
    assert [item["id"] for item in changes] == [b.pk, c.pk]
    assert changes[0]["note"] == "changed" and changes[0]["deleted"] is False
    tombstone = changes[1]
    assert tombstone["deleted"] is True and tombstone["version"] == 2
    assert "quote" not in tombstone and "note" not in tombstone
    # Without include_deleted the deleted annotation is simply absent.
    assert _ids(client, analyst_headers) == [a.pk, b.pk]
    detail = client.get(f"{ANNOTATIONS}{c.pk}/", headers=analyst_headers).json()
    assert detail["deleted"] is True


def test_cursor_pagination_walks_every_annotation_once_across_changes(
    client, document, tags, user, analyst_headers
):
    created = []
    for word in ["Extradition", "Shanghai", "Convention", "Emoji", "Россия", "Китай", "договор"]:
        created.append(_make(document, user, word, ["extradition"]))
    seen = []
    url = ANNOTATIONS + "?page_size=3"
    pages = 0
    while url:
        body = client.get(url, headers=analyst_headers).json()
        seen += [item["id"] for item in body["results"]]
        pages += 1
        if pages == 1:
            # Changes while paging: one already seen moves to the end and is seen again, a
            # new one appears at the end; nothing is skipped.
            services.annotation_update(user=user, annotation=created[0], note="edited")
            created.append(_make(document, user, "подписали", ["extradition"]))
        url = body["next"]
    assert set(seen) == {annotation.pk for annotation in created}
    assert seen.count(created[0].pk) == 2
    assert pages == 3


def test_cursor_previous_links_go_back(client, document, tags, user, analyst_headers):
    for word in ["Extradition", "Shanghai", "Convention", "Emoji", "Россия"]:
        _make(document, user, word, ["extradition"])
    first = client.get(ANNOTATIONS + "?page_size=2", headers=analyst_headers).json()
    assert first["previous"] is None
    second = client.get(first["next"], headers=analyst_headers).json()
    third = client.get(second["next"], headers=analyst_headers).json()
    assert third["next"] is None and len(third["results"]) == 1
    back = client.get(third["previous"], headers=analyst_headers).json()
    assert back["results"] == second["results"]
    back_again = client.get(back["previous"], headers=analyst_headers).json()
    assert back_again["results"] == first["results"]
    assert back_again["previous"] is None


def test_annotation_list_query_count_is_constant(
    client, document, tags, user, analyst_headers, django_assert_num_queries
):
    client.get(ANNOTATIONS, headers=analyst_headers)  # records the token's last use
    for word in ["Extradition", "Shanghai", "Convention"]:
        _make(document, user, word, ["extradition", "due-process"])
    # Token, the page, its tag links, the codebook.
    with django_assert_num_queries(4):
        small = client.get(ANNOTATIONS, headers=analyst_headers)
    for word in ["Emoji", "Россия", "Китай", "договор", "ئۇيغۇر", "script"]:
        _make(document, user, word, ["forced-return", "three-evils"])
    with django_assert_num_queries(4):
        large = client.get(ANNOTATIONS, headers=analyst_headers)
    assert len(large.json()["results"]) == 9 > len(small.json()["results"])
    # Filters add a fixed number: tag check and tag tree (tag), document with its list's
    # version (one document's pages are kept under it), author.
    query = f"?tag=extradition&document={document.pk}&author=analyst"
    with django_assert_num_queries(8):
        first = client.get(ANNOTATIONS + query, headers=analyst_headers)
    # Kept: the token, the checks of the tag, the document (with its version) and the
    # author, the tag tree (read as the filter is built).
    with django_assert_num_queries(5):
        again = client.get(ANNOTATIONS + query, headers=analyst_headers)
    assert again.content == first.content


def test_annotation_write_query_counts_are_constant(
    client, document, tags, analyst_headers, django_assert_max_num_queries
):
    client.get(ANNOTATIONS, headers=analyst_headers)
    start, end = span(document, "Shanghai")
    body = {"document": document.pk, "start": start, "end": end, "tags": ["extradition"]}
    # On PostgreSQL: token with its user; in a transaction (a savepoint inside the test's):
    # the document (its row locked), its text (the first time this process reads it), tags,
    # the annotation, its tag links, its list's new version, its activity row.
    with django_assert_max_num_queries(10 if connection.vendor == "postgresql" else 12):
        created = post_json(client, ANNOTATIONS, body, analyst_headers).json()
    url = created["url"]
    # Token, the annotation (access check), its row, its tag links, the codebook.
    with django_assert_max_num_queries(5):
        client.get(url, headers=analyst_headers)
    many = {"tags": ["extradition", "due-process", "forced-return", "three-evils"]}
    # On PostgreSQL one more: the codes held before the document (codebook.hold_codes).
    with django_assert_max_num_queries(15 if connection.vendor == "postgresql" else 14):
        response = post_json(client, url, many, analyst_headers, method="patch")
    assert len(response.json()["tags"]) == 4


def test_document_endpoints_query_counts(
    client, sample_corpus, analyst_headers, django_assert_num_queries
):
    client.get(DOCUMENTS, headers=analyst_headers)
    # The token, the documents, their attribute values (one query for the whole page).
    with django_assert_num_queries(3):
        listing = client.get(DOCUMENTS, headers=analyst_headers)
    assert listing.status_code == 200 and len(listing.json()["results"]) == 5
    with django_assert_num_queries(3):
        detail = client.get(f"{DOCUMENTS}{sample_corpus[0].pk}/", headers=analyst_headers)
    assert detail.status_code == 200 and detail.json()["text"]
    with django_assert_num_queries(2):
        tags = client.get("/api/v1/tags/", headers=analyst_headers)
    assert tags.status_code == 200 and tags.json()


def test_api_urls_are_named(db):
    assert reverse("api:annotation-list") == ANNOTATIONS
    assert reverse("api:tag-detail", args=["extradition"]) == "/api/v1/tags/extradition/"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22 16:27:37.123456+00", "2026-11-22T16:27:37.123456Z"),  # PostgreSQL
        ("2026-11-22 16:27:37.5+00", "2026-11-22T16:27:37.500000Z"),
        ("2026-11-22 16:27:37+00", "2026-11-22T16:27:37.000000Z"),
        ("2026-11-22 16:27:37.123456", "2026-11-22T16:27:37.123456Z"),  # SQLite
        ("2026-11-22 16:27:37", "2026-11-22T16:27:37.000000Z"),
        ("2026-11-22 18:27:37.25+02", "2026-11-22T16:27:37.250000Z"),  # another zone
        (
            datetime.datetime(2026, 11, 22, 16, 27, 37, 1, tzinfo=datetime.UTC),
            "2026-11-22T16:27:37.000001Z",
        ),
    ],
)
def test_timestamps_read_as_text_print_as_rfc3339_utc(text, expected):
    from documents.representations import rfc3339

    assert rfc3339(text) == expected


def test_every_json_output_writes_an_annotation_the_same_way(
    client, document, tags, user, analyst_headers
):
    """The list, one document's list, the detail and the JSON Lines export give the same
    object for an annotation, whatever its text, and a deleted one as the same tombstone."""
    tricky = services.document_create(
        user=None,
        text='He said "no" \\ then\ttabbed\u2028line 👩🏽‍⚖️ </script> & \u0007 end.',
        metadata=services.DocumentMetadata(title="Tricky"),
    )
    for doc, start, end, note in [
        (tricky, 0, len(tricky.text), 'Quote " and \\ and \n newline'),
        (tricky, 3, 14, ""),
        (document, 0, 11, "Ordinary."),
    ]:
        services.annotation_create(
            user=user,
            document=doc,
            start=start,
            end=end,
            tags=["extradition", "forced-return"],
            note=note,
        )
    deleted = Annotation.objects.order_by("pk").last()
    services.annotation_delete(user=user, annotation=deleted)
    listed = client.get(ANNOTATIONS + "?include_deleted=true", headers=analyst_headers)
    assert listed["Content-Type"] == "application/json"
    items = listed.json()["results"]
    assert [item["id"] for item in items] == list(
        Annotation.objects.order_by("updated", "pk").values_list("pk", flat=True)
    )
    exported = client.get(
        "/api/v1/export/annotations.jsonl?include_deleted=true", headers=analyst_headers
    )
    lines = [json.loads(line) for line in b"".join(exported.streaming_content).splitlines()]
    assert sorted(lines, key=lambda item: item["id"]) == sorted(items, key=lambda i: i["id"])
    for item in items:
        assert client.get(item["url"], headers=analyst_headers).json() == item
    assert items[-1] == {
        "id": deleted.pk,
        "url": items[-1]["url"],
        "document": deleted.document_id,
        "document_url": items[-1]["document_url"],
        "updated": items[-1]["updated"],
        "version": 2,
        "deleted": True,
    }
    own = client.get(f"{DOCUMENTS}{tricky.pk}/annotations/", headers=analyst_headers).json()
    assert own["results"] == [item for item in items if item["document"] == tricky.pk]


def test_document_annotations_come_in_text_order_in_one_request(
    client, document, tags, user, other_user, analyst_headers, django_assert_num_queries
):
    for word in ["Россия", "Shanghai", "Emoji"]:
        _make(document, other_user if word == "Emoji" else user, word, ["extradition"])
    # Several tags (in codebook order in the answer) and a note JSON must escape.
    note = 'He said "no" \\ then\ttabbed\u0001 and 上海 👩🏽‍⚖️'
    _make(document, user, "Extradition", ["oversight-gap", "extradition", "three-evils"], note)
    gone = _make(document, user, "Китай", ["extradition"])
    services.annotation_delete(user=user, annotation=gone)
    url = f"{DOCUMENTS}{document.pk}/annotations/"
    client.get(url, headers=analyst_headers)
    # Token and the list's version: the list itself is kept under that version.
    with django_assert_num_queries(2):
        response = client.get(url, headers=analyst_headers)
    body = response.json()
    assert body["document"] == document.pk and body["count"] == 4
    quotes = [item["quote"] for item in body["results"]]
    assert quotes == ["Extradition", "Shanghai", "Emoji", "Россия"]
    first = body["results"][0]
    assert first["note"] == Annotation.objects.get(pk=first["id"]).note
    assert '"no" \\ then\ttabbed' in first["note"]
    codebook = [tag.slug for tag in Tag.objects.order_by("sort_order", "name")]
    assert first["tags"] == sorted(first["tags"], key=codebook.index)
    assert len(first["tags"]) == 3
    for item in body["results"]:
        assert item == client.get(item["url"], headers=analyst_headers).json()
    page = client.get(url + "?format=jsonld", headers=analyst_headers).json()
    assert page["type"] == "AnnotationPage" and page["partOf"]["total"] == 4
    assert [item["target"]["selector"][0]["exact"] for item in page["items"]] == quotes


def test_document_annotations_refuse_unknown_documents_and_parameters(
    client, document, analyst_headers, monkeypatch
):
    assert client.get(f"{DOCUMENTS}999/annotations/", headers=analyst_headers).status_code == 404
    url = f"{DOCUMENTS}{document.pk}/annotations/"
    response = client.get(url + "?page_size=5", headers=analyst_headers)
    assert response.status_code == 400 and "page_size" in response.json()
    assert client.get(url).status_code == 401


def test_document_annotations_send_huge_lists_to_the_paginated_list(
    client, document, tags, user, analyst_headers, monkeypatch
):
    from documents import api

    monkeypatch.setattr(api, "DOCUMENT_ANNOTATIONS_LIMIT", 2)
    for word in ["Россия", "Shanghai", "Emoji"]:
        _make(document, user, word, ["extradition"])
    response = client.get(f"{DOCUMENTS}{document.pk}/annotations/", headers=analyst_headers)
    assert response.status_code == 400
    assert f"/api/v1/annotations/?document={document.pk}" in response.json()["document"][0]


def test_forged_cursors_are_a_400(client, annotation, analyst_headers):
    from documents.api import encode_cursor

    for key in (
        ["0001-01-01T00:00:00+14:00", 1],
        ["9999-12-31T23:59:59-14:00", 1],
        ["2026-01-01T00:00:00", 1],  # no time zone
        ["2026-01-01T00:00:00Z", "one"],
        ["2026-01-01T00:00:00Z"],
        [5, 1],
    ):
        response = client.get(f"{ANNOTATIONS}?cursor={encode_cursor(key)}", headers=analyst_headers)
        assert response.status_code == 400, key
        assert "cursor" in response.json()
    response = client.get(
        f"{ANNOTATIONS}?cursor={encode_cursor(['2026-01-01T00:00:00Z', 1], 'x')}",
        headers=analyst_headers,
    )
    assert response.status_code == 400


@pytest.mark.parametrize("page_size", ["²", "99999999999999999999999", "-1", "0"])
def test_annotation_list_refuses_a_page_size_that_is_not_a_small_whole_number(
    client, analyst_headers, annotation, page_size
):
    response = client.get("/api/v1/annotations/", {"page_size": page_size}, headers=analyst_headers)
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_annotation_list_refuses_a_deeply_nested_cursor(client, analyst_headers, annotation):
    import base64

    cursor = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    response = client.get("/api/v1/annotations/", {"cursor": cursor}, headers=analyst_headers)
    assert response.status_code == 400
    assert "cursor" in response.json()
