"""Bad input and failures answer a clear error, never a 500: JSON under /api/, text on pages."""

from __future__ import annotations

import gzip
import json
import logging
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import selectors, services

pytestmark = pytest.mark.django_db

ANNOTATIONS = "/api/v1/annotations/"
HTMX = {"HX-Request": "true"}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client():
    # Errors that reach Django's handlers are answered, not raised into the test.
    return Client(raise_request_exception=False)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def headers(user, bearer):
    return bearer(user)


@contextmanager
def database_failing(exc, only=""):
    """Every query (that names `only`) raises exc, as when the database has gone away."""
    execute, executemany = CursorWrapper._execute, CursorWrapper._executemany

    def failing(method):
        def run(self, sql, *args, **kwargs):
            if only in sql:
                raise exc
            return method(self, sql, *args, **kwargs)

        return run

    with (
        mock.patch.object(CursorWrapper, "_execute", failing(execute)),
        mock.patch.object(CursorWrapper, "_executemany", failing(executemany)),
    ):
        yield


def assert_json_error(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    return response.json()


def nested(depth):
    return "[" * depth + "]" * depth


# ---------------------------------------------------------------------------------------
# Every error under /api/ is JSON


@pytest.mark.parametrize("path", ["/api/v1/annotations/None/", "/api/v1/nothing/", "/api/x"])
def test_unmatched_api_url_is_a_json_404(client, headers, path):
    for extra in ({}, headers):
        body = assert_json_error(client.get(path, headers=extra), 404)
        assert "No API endpoint" in body["detail"] and "/api/docs/" in body["detail"]


def test_unmatched_api_url_is_a_json_404_with_a_session_too(logged_in):
    assert_json_error(logged_in.get("/api/v1/annotations/None/"), 404)


def test_unmatched_page_url_keeps_the_html_404(client, logged_in):
    for browser in (Client(raise_request_exception=False), logged_in):
        response = browser.get("/no-such-page/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("url", "formats"),
    [
        ("/api/v1/documents/", "json"),
        ("/api/v1/tags/", "json"),
        (ANNOTATIONS, "json, jsonld"),
    ],
)
def test_unknown_format_is_a_400_naming_the_formats(client, headers, url, formats):
    for extra in ({}, headers):
        body = assert_json_error(client.get(url + "?format=csv", headers=extra), 400)
        assert body["format"] == [f"Unknown format 'csv'; the formats here are: {formats}."]


def test_known_format_still_works(client, headers, annotation):
    assert client.get(ANNOTATIONS + "?format=json", headers=headers).status_code == 200
    response = client.get(ANNOTATIONS + "?format=jsonld", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/ld+json")


def test_server_error_under_the_api_is_json(client, headers, annotation):
    with database_failing(RuntimeError("a bug")):
        body = assert_json_error(client.get(ANNOTATIONS, headers=headers), 500)
    assert "Server error" in body["detail"]


def test_server_error_on_a_page_keeps_the_html_page(logged_in, document):
    with database_failing(RuntimeError("a bug")):
        response = logged_in.get(reverse("documents:detail", args=[document.pk]))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------------------------------
# Deeply nested JSON


def post_json(client, url, body, headers, method="post"):
    return getattr(client, method)(url, data=body, content_type="application/json", headers=headers)


@pytest.mark.parametrize("depth", [101, 900, 1000, 100_000])
def test_json_body_nested_too_deeply_is_a_400(client, headers, annotation, depth):
    detail_url = f"{ANNOTATIONS}{annotation.pk}/"
    for url, method in ((ANNOTATIONS, "post"), (detail_url, "patch")):
        for body in (nested(depth), '{"note": ' + nested(depth) + "}"):
            response = post_json(client, url, body, headers, method)
            detail = assert_json_error(response, 400)["detail"]
            assert "nested more than 100 levels deep" in detail


def test_document_upload_nested_too_deeply_is_a_400(client, staff_user, bearer):
    body = '{"title": "x", "text": ' + nested(1000) + "}"
    response = post_json(client, "/api/v1/documents/", body, bearer(staff_user))
    assert "nested more than 100 levels" in assert_json_error(response, 400)["detail"]


def test_scalar_json_body_is_a_field_error(client, headers):
    for body in ("null", "1", '"x"', "[]", "{}"):
        response = post_json(client, ANNOTATIONS, body, headers)
        assert assert_json_error(response, 400)


@pytest.mark.parametrize("field", ["note", "tags", "document", "start", "quote"])
def test_value_nested_as_deep_as_allowed_is_a_field_error(client, headers, annotation, field):
    body = '{"%s": %s}' % (field, nested(99))  # noqa: UP031
    response = post_json(client, ANNOTATIONS, body, headers)
    assert field in assert_json_error(response, 400)
    response = post_json(client, f"{ANNOTATIONS}{annotation.pk}/", body, headers, "patch")
    assert assert_json_error(response, 400)


# ---------------------------------------------------------------------------------------
# NUL characters in parameters

NUL_DETAIL = "A parameter holds a NUL character (%00): remove it and try again."


def assert_plain_400(response):
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == NUL_DETAIL + "\n"


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "%00=1", "q=%2500%00"])
def test_nul_in_a_page_query_is_a_400(client, logged_in, query):
    assert_plain_400(logged_in.get("/?" + query))
    # Before the login redirect: the check costs no query.
    assert_plain_400(Client().get("/?" + query))


def test_raw_nul_in_the_query_string_is_a_400(logged_in):
    assert_plain_400(logged_in.get("/", QUERY_STRING="q=\x00"))


def test_nul_in_the_panel_author_filter_is_a_400(logged_in, annotation, django_assert_num_queries):
    url = reverse("documents:annotation_panel", args=[annotation.document_id])
    with django_assert_num_queries(0):
        assert_plain_400(logged_in.get(url + "?author=%00", headers=HTMX))


def test_nul_in_a_form_post_is_a_400(logged_in, document, tags):
    url = reverse("documents:annotation_create", args=[document.pk])
    for body in ("start=0&end=3&tags=extra%00dition", "start=0&end=3&tags%00=x", "note=\x00"):
        assert_plain_400(logged_in.post(url, data=body, content_type=FORM, headers=HTMX))
    # A multipart form is the view's to read; the tag is refused there, not with a 500.
    response = logged_in.post(url, {"start": 0, "end": 3, "tags": "a\x00"}, headers=HTMX)
    assert response.status_code < 500


def test_nul_in_an_admin_changelist_filter_is_a_400(client, staff_user, annotation):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    for model, query in (("document", "organisation=%00"), ("annotation", "q=%00")):
        url = reverse(f"admin:documents_{model}_changelist")
        assert_plain_400(client.get(f"{url}?{query}"))


def test_nul_in_an_api_parameter_is_a_json_400(client, headers):
    for extra in ({}, headers):
        body = assert_json_error(client.get(ANNOTATIONS + "?author=%00", headers=extra), 400)
        assert body == {"detail": NUL_DETAIL}


def test_parameters_without_nul_pass(logged_in, headers, client, annotation):
    assert logged_in.get("/?q=%2500").status_code == 200
    assert client.get(ANNOTATIONS + "?author=analyst", headers=headers).status_code == 200


# ---------------------------------------------------------------------------------------
# The database unavailable


def assert_503(response, caplog):
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    warnings = [r for r in caplog.records if r.name == "sco_annotate.database"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("exc", [OperationalError("connection refused"), OperationalError()])
def test_api_answers_503_json_while_the_database_is_down(client, headers, exc, caplog):
    with database_failing(exc):
        response = client.get(ANNOTATIONS, headers=headers)
    assert_503(response, caplog)
    assert "Try again in 30 seconds" in response.json()["detail"]


def test_api_with_a_session_answers_503_while_the_database_is_down(logged_in, caplog):
    from django.db import InterfaceError

    with database_failing(InterfaceError("connection already closed")):
        response = logged_in.get(ANNOTATIONS)
    assert_503(response, caplog)
    assert response["Content-Type"] == "application/json"


def test_page_answers_plain_503_while_the_database_is_down(logged_in, document, caplog):
    # The session is read in a middleware, before the view: handler500 answers.
    with database_failing(OperationalError("server closed the connection")):
        response = logged_in.get(reverse("documents:detail", args=[document.pk]))
    assert_503(response, caplog)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"Try again in 30 seconds" in response.content


def test_page_view_query_failing_answers_503(logged_in, document, caplog):
    # The session and the user load; the view's own query fails.
    with database_failing(OperationalError("gone"), only="documents_"):
        response = logged_in.get(reverse("documents:detail", args=[document.pk]))
    assert_503(response, caplog)
    assert response["Content-Type"] == "text/plain; charset=utf-8"


# ---------------------------------------------------------------------------------------
# Compression


def test_api_list_is_gzipped_when_accepted(client, headers, annotation):
    plain = client.get(ANNOTATIONS, headers=headers)
    assert "Content-Encoding" not in plain
    response = client.get(ANNOTATIONS, headers={**headers, "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert json.loads(gzip.decompress(response.content)) == plain.json()


def test_export_is_gzipped_as_a_stream(client, headers, document, annotation, monkeypatch):
    monkeypatch.setattr(selectors, "BATCH_SIZE", 1)
    for needle in ("Россия", "Emoji", "上海"):
        start = document.text.index(needle)
        services.annotation_create(
            user=annotation.author, document=document, start=start,
            end=start + len(needle), tags=["extradition"],
        )  # fmt: skip
    url = reverse("api:export-csv")
    plain = b"".join(client.get(url, headers=headers).streaming_content)
    response = client.get(url, headers={**headers, "Accept-Encoding": "gzip"})
    assert response.streaming
    assert response["Content-Encoding"] == "gzip"
    with CaptureQueriesContext(connection) as sending:
        body = b"".join(response.streaming_content)
    # The batches are read while the compressed stream is sent, not collected first.
    assert len(sending.captured_queries) >= 4
    assert gzip.decompress(body) == plain


def test_pages_are_not_gzipped(logged_in, document):
    for url in ("/", reverse("documents:detail", args=[document.pk]), "/api/docs/"):
        response = logged_in.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert "Content-Encoding" not in response


def test_the_icon_browsers_ask_for_is_an_empty_answer(client):
    # The Django admin's pages name no icon: browsers ask for /favicon.ico, which must not
    # be a 404 (an error in the browser's console and the server's log on every page).
    response = client.get("/favicon.ico")
    assert response.status_code == 204
    assert response["Cache-Control"] == "public, max-age=86400"
