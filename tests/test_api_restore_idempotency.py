"""Restoring through the API, Idempotency-Key on create, and JSON 404s under /api/."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from documents import services
from documents.models import Annotation, IdempotencyKey

pytestmark = pytest.mark.django_db

ANNOTATIONS = "/api/v1/annotations/"


def post_json(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def restore_url(annotation):
    return f"{ANNOTATIONS}{annotation.pk}/restore/"


@pytest.fixture
def deleted(annotation, user):
    return services.annotation_delete(user=user, annotation=annotation)


def test_restore_gives_back_the_annotation(client, deleted, user, bearer):
    response = client.post(restore_url(deleted), headers=bearer(user))
    assert response.status_code == 200
    body = response.json()
    assert body["deleted"] is False
    assert body["version"] == deleted.version + 1
    assert response["ETag"] == f'"{body["version"]}"'
    assert Annotation.objects.get(pk=deleted.pk).deleted_at is None


def test_restore_needs_login_and_ownership(client, deleted, other_user, staff_user, bearer):
    assert client.post(restore_url(deleted)).status_code == 401
    assert client.post(restore_url(deleted), headers=bearer(other_user)).status_code == 403
    assert (
        client.post(restore_url(deleted), headers=bearer(other_user, read_only=True)).status_code
        == 403
    )
    assert Annotation.objects.get(pk=deleted.pk).deleted_at is not None
    assert client.post(restore_url(deleted), headers=bearer(staff_user)).status_code == 200


def test_restore_honours_if_match(client, deleted, user, bearer):
    headers = {**bearer(user), "If-Match": f'"{deleted.version - 1}"'}
    stale = client.post(restore_url(deleted), headers=headers)
    assert stale.status_code == 412
    assert stale.json()["current_version"] == deleted.version
    headers["If-Match"] = f'"{deleted.version}"'
    assert client.post(restore_url(deleted), headers=headers).status_code == 200


def test_restore_of_a_live_annotation_is_a_conflict(client, annotation, user, bearer):
    response = client.post(restore_url(annotation), headers=bearer(user))
    assert response.status_code == 409
    assert "not deleted" in response.json()["detail"]
    assert response.json()["current_version"] == annotation.version


def _body(annotation, note=""):
    return {
        "document": annotation.document_id,
        "start": annotation.start,
        "end": annotation.end,
        "tags": ["extradition"],
        "note": note,
    }


def test_a_retried_create_with_the_same_key_answers_the_same_annotation(
    client, annotation, user, bearer
):
    headers = {**bearer(user), "Idempotency-Key": "retry-1"}
    first = post_json(client, ANNOTATIONS, _body(annotation), headers)
    again = post_json(client, ANNOTATIONS, _body(annotation), headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first["Location"] == again["Location"]
    assert Annotation.objects.count() == 2


def test_the_same_key_with_another_body_is_refused(client, annotation, user, bearer):
    headers = {**bearer(user), "Idempotency-Key": "retry-2"}
    assert post_json(client, ANNOTATIONS, _body(annotation), headers).status_code == 201
    response = post_json(client, ANNOTATIONS, _body(annotation, note="other"), headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert Annotation.objects.count() == 2


def test_keys_are_per_user(client, annotation, user, other_user, bearer):
    for who in (user, other_user):
        headers = {**bearer(who), "Idempotency-Key": "shared"}
        assert post_json(client, ANNOTATIONS, _body(annotation), headers).status_code == 201
    assert Annotation.objects.count() == 3


def test_a_malformed_key_is_a_400(client, annotation, user, bearer):
    headers = {**bearer(user), "Idempotency-Key": "x" * 256}
    response = post_json(client, ANNOTATIONS, _body(annotation), headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not IdempotencyKey.objects.exists()


def test_a_refused_create_stores_no_key(client, annotation, user, bearer):
    headers = {**bearer(user), "Idempotency-Key": "bad-span"}
    body = {**_body(annotation), "end": 10**6}
    assert post_json(client, ANNOTATIONS, body, headers).status_code == 400
    assert not IdempotencyKey.objects.exists()


def test_keys_older_than_a_day_are_forgotten(client, annotation, user, bearer):
    headers = {**bearer(user), "Idempotency-Key": "old"}
    assert post_json(client, ANNOTATIONS, _body(annotation), headers).status_code == 201
    IdempotencyKey.objects.update(created=timezone.now() - datetime.timedelta(hours=25))
    response = post_json(client, ANNOTATIONS, _body(annotation, note="new"), headers)
    assert response.status_code == 201
    assert Annotation.objects.count() == 3
    assert IdempotencyKey.objects.count() == 1


def test_an_unknown_api_path_is_a_json_404(client, user, bearer):
    response = client.get(f"{ANNOTATIONS}not-a-number/", headers=bearer(user))
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No API endpoint at ")
    assert client.get("/no-such-page/").status_code in (302, 404)  # pages are untouched
