"""Bulk create: many documents in one POST of a JSON array, all or nothing."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.exceptions import PermissionDenied

from documents import services
from documents.models import Activity, Document
from tests.conftest import MIXED_TEXT

pytestmark = pytest.mark.django_db

DOCUMENTS = "/api/v1/documents/"

TEXTS = [
    "Extradition under the Shanghai Convention.",
    "上海合作组织 打击恐怖主义、分裂主义和极端主义。",
    "Россия и Китай подписали договор.",
    "ئۇيغۇر تىلى: بۇ بىر جۈملە.",
    "Emoji 👩🏽‍⚖️ and 𠀀 before this passage.",
]


def post_json(client, body, headers):
    return client.post(
        DOCUMENTS, data=json.dumps(body), content_type="application/json", headers=headers
    )


def items(texts, **metadata):
    return [{"title": f"Document {i}", "text": text, **metadata} for i, text in enumerate(texts)]


@pytest.fixture
def admin_headers(staff_user, bearer):
    return bearer(staff_user)


def test_bulk_create_stores_every_document_in_order(client, admin_headers, staff_user):
    body = items(TEXTS, language="en", published="2011-06", document_type="statement")
    response = post_json(client, body, admin_headers)
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["count"] == len(TEXTS)
    results = answer["results"]
    assert [result["title"] for result in results] == [item["title"] for item in body]
    for result, text in zip(results, TEXTS, strict=True):
        assert "text" not in result
        assert result["length"] == len(text)
        assert result["sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert result["published"] == "2011-06-01" and result["date_precision"] == "month"
        document = Document.objects.get(pk=result["id"])
        assert document.text == text and document.imported_by == staff_user
        listed = client.get(f"{DOCUMENTS}?q={result['title']}", headers=admin_headers)
        assert result in listed.json()["results"]
    logged = Activity.objects.filter(action="document.import").order_by("object_id")
    assert [row.object_id for row in logged] == [result["id"] for result in results]
    assert all(row.actor == staff_user and row.document_id == row.object_id for row in logged)


@pytest.mark.parametrize("size", [2, 10, 40])
def test_bulk_create_takes_the_same_number_of_queries_for_more_documents(
    client, admin_headers, django_assert_num_queries, size
):
    post_json(client, items(["warm-up"]), admin_headers)  # the token's last use is recorded
    texts = [f"{TEXTS[i % len(TEXTS)]} ({i})" for i in range(size)]
    # The token (with its user), the project it goes into (the owner's only one), the
    # duplicate check, then in a savepoint one insert for the documents, one for their
    # activity rows and their search index: one insert of chunks and one of their terms
    # (on PostgreSQL each document's, on SQLite the chunks' in the FTS5 table).
    index = 2
    with django_assert_num_queries(7 + index):
        response = post_json(client, items(texts), admin_headers)
    assert response.status_code == 201, response.json()
    assert response.json()["count"] == size


def test_bulk_create_stores_what_a_single_create_stores(client, admin_headers):
    texts = [
        "Line one\r\nLine two\rLine three",
        "\ufeffA byte-order mark and a bell\x07.",
        "\ufeff\ufeffTwo byte-order marks.",
        "Cafe\u0301 composed to NFC.",
        MIXED_TEXT,
    ]
    response = post_json(client, items(texts), admin_headers)
    assert response.status_code == 201, response.json()
    bulk = [Document.objects.get(pk=result["id"]) for result in response.json()["results"]]
    stored = [(doc.text, doc.length, doc.sha256, doc.import_report) for doc in bulk]
    Document.objects.all().delete()
    single = []
    for i, text in enumerate(texts):
        one = post_json(client, {"title": f"Document {i}", "text": text}, admin_headers)
        assert one.status_code == 201, one.json()
        doc = Document.objects.get(pk=one.json()["id"])
        single.append((doc.text, doc.length, doc.sha256, doc.import_report))
    assert stored == single
    for text, length, sha256, _ in stored:
        assert length == len(text) and sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert stored[0][0] == "Line one\nLine two\nLine three"


def test_bulk_create_refuses_bad_items_by_position_and_stores_nothing(client, admin_headers):
    body = items(TEXTS)
    body[1]["text"] = "   "
    body[2]["published"] = "June"
    body[3]["sha256"] = "0" * 64
    body[4]["title"] = 5
    surrogate = {"title": "Broken", "text": "An unpaired \ud800 surrogate."}
    response = post_json(client, [*body, "a string", None, [1], surrogate], admin_headers)
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"2", "3", "4", "5", "6", "7", "8"}, errors
    assert list(errors["8"]) == ["text"] and len(errors["8"]["text"]) == 1
    assert "unpaired UTF-16 surrogate" in errors["8"]["text"][0]
    assert set(errors["2"]) == {"published"} and set(errors["3"]) == {"sha256"}
    assert set(errors["4"]) == {"title"}
    assert set(errors["5"]) == set(errors["6"]) == set(errors["7"]) == {"non_field_errors"}
    # A text of spaces passes the input check; the service refuses it, by position too.
    del body[2:]
    response = post_json(client, body, admin_headers)
    assert response.status_code == 400
    assert response.json() == {"1": {"text": [response.json()["1"]["text"][0]]}}
    assert not Document.objects.exists()
    assert not Activity.objects.filter(action="document.import").exists()


def test_bulk_create_refuses_texts_already_stored_or_repeated_with_409(
    client, document, admin_headers
):
    body = items(["New one.", MIXED_TEXT, "Twice.", "Twice.", "New two."])
    response = post_json(client, body, admin_headers)
    assert response.status_code == 409
    answer = response.json()
    assert answer["detail"]
    assert answer["duplicates"] == {
        "1": {
            "document": {
                "id": document.pk,
                "url": f"http://testserver{DOCUMENTS}{document.pk}/",
                "title": document.title,
            }
        },
        "3": {"same_as": 2},
    }
    # A text that normalisation makes equal to an earlier one is a repeat too.
    response = post_json(client, items(["a\r\nb", "a\nb"]), admin_headers)
    assert response.status_code == 409
    assert response.json()["duplicates"] == {"1": {"same_as": 0}}
    assert list(Document.objects.all()) == [document]


@pytest.mark.parametrize(
    ("body", "message"),
    [([], "at least one"), ([{"title": "t", "text": "x"}] * 1001, "At most 1000")],
)
def test_bulk_create_refuses_empty_and_oversized_arrays(client, admin_headers, body, message):
    response = post_json(client, body, admin_headers)
    assert response.status_code == 400
    assert message in response.json()["non_field_errors"][0]
    assert not Document.objects.exists()


def test_bulk_create_is_for_admins_with_a_read_write_token(client, user, staff_user, bearer, db):
    body = items(TEXTS[:2])
    assert post_json(client, body, {}).status_code == 401
    assert post_json(client, body, bearer(user)).status_code == 403
    assert post_json(client, body, bearer(staff_user, read_only=True)).status_code == 403
    assert not Document.objects.exists()


def test_a_bulk_body_has_the_same_size_limit_as_other_bodies(client, admin_headers, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = post_json(client, items([f"{i} " + "x" * 600 for i in range(2)]), admin_headers)
    assert response.status_code == 201, response.json()
    response = post_json(client, items([f"{i} " + "y" * 600 for i in range(4)]), admin_headers)
    assert response.status_code == 400
    assert "larger than 2000 bytes" in response.json()["detail"]
    assert "several requests" in response.json()["detail"]
    assert Document.objects.count() == 2


def test_documents_create_service_refuses_non_admins_and_logs_each(user, staff_user):
    metadata = services.DocumentMetadata(title="A title")
    with pytest.raises(PermissionDenied):
        services.documents_create(user=user, items=[("Text.", metadata)])
    created = services.documents_create(
        user=staff_user, items=[("First.", metadata), ("Second.", metadata)]
    )
    assert [doc.text for doc in created] == ["First.", "Second."]
    assert Activity.objects.filter(action="document.import").count() == 2


def test_openapi_schema_declares_both_bodies_and_answers(client, user, bearer):
    schema = client.get("/api/schema/?format=json", headers=bearer(user)).json()
    post = schema["paths"]["/api/v1/documents/"]["post"]
    request = post["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][request["$ref"].rsplit("/", 1)[1]]
    kinds = [option.get("type", "object") for option in component["oneOf"]]
    assert sorted(kinds) == ["array", "object"]
    answer = post["responses"]["201"]["content"]["application/json"]["schema"]
    created = schema["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    assert len(created["oneOf"]) == 2
