"""Downloading a document's original file: on its page and over the API, as an attachment
that never runs in the app's origin, and one access-log row per download."""

from __future__ import annotations

import gzip
import hashlib
from urllib.parse import unquote

import pytest
from django.urls import reverse

from accounts.models import AccessEvent
from documents import originals, services
from projects import services as project_services
from projects.models import Role
from tests.conftest import member

#: An uploaded page that would run script if the app ever showed it in its own origin.
HOSTILE_HTML = (
    b"<html><head><title>Statement</title></head><body>"
    + b"<p>Extradition under the Shanghai Convention.</p>" * 8
    + b"<script>fetch('/api/v1/annotations/')</script></body></html>"
)
FILENAME = "Заявление «A» 2024.html"


@pytest.fixture
def imported(project, user, django_user_model):
    """A document imported from an HTML file whose name is not ASCII, by the project's
    owner (the analyst codes in it)."""
    owner = member(
        project,
        django_user_model.objects.create_user(username="owner", password="owner-pass-1"),
        Role.OWNER,
    )
    return services.document_import(
        user=owner,
        project=project,
        # The type the browser claimed is not trusted: the name says what it is.
        upload=services.Upload(
            filename=FILENAME, data=HOSTILE_HTML, content_type="application/x-whatever"
        ),
        metadata=services.DocumentMetadata(title="Statement"),
    )


def _body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def _check_download(response):
    assert response.status_code == 200
    assert _body(response) == HOSTILE_HTML
    assert response["Content-Type"] == "text/html"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == FILENAME
    fallback = disposition.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and fallback.endswith(" 2024.html")
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_the_document_page_links_its_original_and_the_download_is_an_attachment(
    client, user, imported
):
    client.force_login(user)  # a coder: every member who reads the document
    page = client.get(reverse("documents:detail", args=[imported.pk])).content.decode()
    url = reverse("documents:original", args=[imported.pk])
    assert f'href="{url}"' in page and "Заявление «A» 2024.html" in page
    _check_download(client.get(url))


def test_each_download_is_a_row_of_the_access_log(client, user, imported, bearer):
    client.force_login(user)
    client.get(reverse("documents:original", args=[imported.pk]))
    client.get(reverse("api:document-original", args=[imported.pk]), headers=bearer(user))
    events = list(AccessEvent.objects.filter(kind="original_download").order_by("pk"))
    assert len(events) == 2
    for event in events:
        assert event.user == user and event.project_id == imported.project_id
        assert event.detail == {
            "document": imported.pk,
            "file": FILENAME,
            "sha256": hashlib.sha256(HOSTILE_HTML).hexdigest(),
        }


def test_the_api_serves_the_original_and_names_it_in_the_document(
    client, user, imported, bearer, django_assert_num_queries
):
    headers = bearer(user)
    detail = client.get(reverse("api:document-detail", args=[imported.pk]), headers=headers)
    original = detail.json()["original"]
    url = f"http://testserver{reverse('api:document-original', args=[imported.pk])}"
    assert original == {
        "url": url,
        "filename": FILENAME,
        "size": len(HOSTILE_HTML),
        "sha256": hashlib.sha256(HOSTILE_HTML).hexdigest(),
    }
    # The token, the file (with the access check), the access log's row.
    with django_assert_num_queries(3):
        response = client.get(url, headers={**headers, "Accept": "application/json"})
    _check_download(response)
    # Compressed for a client that asks (as every API answer is), the same bytes unpacked.
    packed = client.get(url, headers={**headers, "Accept-Encoding": "gzip"})
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == HOSTILE_HTML


def test_a_document_added_as_text_has_no_original(client, user, document, bearer):
    headers = bearer(user)
    detail = client.get(reverse("api:document-detail", args=[document.pk]), headers=headers)
    assert detail.json()["original"] is None
    missing = client.get(reverse("api:document-original", args=[document.pk]), headers=headers)
    assert missing.status_code == 404
    assert "added as text" in missing.json()["detail"]
    client.force_login(user)
    page = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert "Original file" not in page
    assert client.get(reverse("documents:original", args=[document.pk])).status_code == 404
    assert not AccessEvent.objects.filter(kind="original_download").exists()


def test_the_original_is_not_there_for_others(client, imported, django_user_model, bearer):
    stranger = django_user_model.objects.create_user(username="stranger", password="s-pass-1")
    page_url = reverse("documents:original", args=[imported.pk])
    api_url = reverse("api:document-original", args=[imported.pk])
    anonymous = client.get(page_url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client.get(api_url).status_code == 401
    refused = client.get(api_url, headers=bearer(stranger))
    assert refused.status_code == 404 and "added as text" not in refused.json()["detail"]
    client.force_login(stranger)
    assert client.get(page_url).status_code == 404
    for pk in (0, 2**63):
        assert (
            client.get(f"/api/v1/documents/{pk}/original/", headers=bearer(stranger)).status_code
            == 404
        )
    assert not AccessEvent.objects.filter(kind="original_download").exists()


def test_a_project_that_requires_two_factor_keeps_its_originals_from_a_session_without_it(
    client, user, imported
):
    owner = imported.project.memberships.get(role=Role.OWNER).user
    project_services.project_update(user=owner, project=imported.project, require_mfa=True)
    client.force_login(user)
    assert client.get(reverse("documents:original", args=[imported.pk])).status_code == 404


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("report.pdf", "report.pdf"),
        ("folder/sub\\report.docx", "report.docx"),
        ('say "hi"\r\nSet-Cookie: x=1.txt', 'say "hi"Set-Cookie: x=1.txt'),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("100% done;x.md", "100% done;x.md"),
        ("\n", "original"),
    ],
)
def test_a_download_name_is_its_own_name_and_nothing_more(stored, shown):
    header = originals.content_disposition(stored)
    assert "\r" not in header and "\n" not in header and header.isascii()
    assert unquote(header.split("filename*=UTF-8''")[1]) == shown
    fallback = header.split('filename="')[1].split('"; filename*=')[0]
    assert '"' not in fallback and "\\" not in fallback and "%" not in fallback


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("a.txt", "text/plain"),
        ("a.MD", "text/markdown"),
        ("a.htm", "text/html"),
        ("a.pdf", "application/pdf"),
        ("a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("a.exe", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_a_download_is_sent_as_what_its_name_says(filename, content_type):
    assert originals.content_type(filename) == content_type
