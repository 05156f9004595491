"""The admins' import pages: upload, step-by-step reading, preview, confirm, import."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents.models import Document, ImportBatch, ImportItem, ImportStatus
from projects.models import Role
from tests.conftest import member

from .test_extract import make_pdf, make_zip

CORPUS = Path(__file__).resolve().parent.parent / "sample_data" / "corpus"
HTMX = {"HTTP_HX_REQUEST": "true"}


def sample_file(name):
    return SimpleUploadedFile(name, (CORPUS / name).read_bytes(), "text/plain")


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def upload(client, files, **defaults):
    return client.post(reverse("documents:import"), {"files": files, **defaults})


def run_steps(client, batch):
    """Poll the step view as the page does until it asks for a refresh."""
    url = reverse("documents:import_step", args=[batch.pk])
    for _ in range(50):
        response = client.post(url, **HTMX)
        assert response.status_code == 200
        if response.headers.get("HX-Refresh") == "true":
            return
        assert b'hx-post="' + url.encode() + b'"' in response.content
    raise AssertionError("the batch never finished")


def test_import_pages_are_for_owners_only(client, user, staff_user, project):
    url = reverse("documents:import")
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(user)
    assert client.get(url).status_code == 403
    batch = ImportBatch.objects.create(created_by=staff_user, project=project)
    for name in ("import_batch", "import_step", "import_confirm"):
        method = client.get if name == "import_batch" else client.post
        assert method(reverse(f"documents:{name}", args=[batch.pk])).status_code == 403


def test_import_batch_of_another_admin_is_404(client, staff_user, django_user_model, project):
    other = django_user_model.objects.create_user("other-admin", is_staff=True)
    batch = ImportBatch.objects.create(created_by=other, project=project)
    client.force_login(staff_user)
    assert client.get(reverse("documents:import_batch", args=[batch.pk])).status_code == 404


def test_upload_page_renders(admin_client):
    response = admin_client.get(reverse("documents:import"))
    assert response.status_code == 200
    assert b'type="file" name="files"' in response.content and b"multiple" in response.content


def test_upload_without_files_says_so(admin_client):
    response = upload(admin_client, [])
    assert response.status_code == 400
    assert b"Choose at least one file" in response.content
    assert ImportBatch.objects.count() == 0


def test_upload_with_bad_default_language_says_so(admin_client):
    response = upload(
        admin_client,
        [sample_file("hrw-2002-open-letter-sco-foreign-ministers.txt")],
        language="english!",
    )
    assert response.status_code == 400
    assert b"BCP 47" in response.content
    assert ImportBatch.objects.count() == 0


def test_full_import_flow_preview_choose_and_confirm(admin_client, staff_user):
    archive = make_zip(
        {
            "rferl.txt": (
                CORPUS / "rferl-2012-fidh-report-sco-vehicle-for-violations.txt"
            ).read_bytes(),
            "../escape.txt": b"nope",
        }
    )
    files = [
        sample_file("hric-2011-sco-harmonize-central-asia.txt"),
        SimpleUploadedFile("paged.pdf", make_pdf("First page.", "Second page."), "application/pdf"),
        SimpleUploadedFile("bundle.zip", archive, "application/zip"),
        SimpleUploadedFile("slides.pptx", b"PK nothing", "application/octet-stream"),
    ]
    response = upload(admin_client, files, organisation="HRIC", document_type="report")
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == batch.get_absolute_url()
    assert batch.items.count() == 5

    page = admin_client.get(batch.get_absolute_url())
    assert b'hx-trigger="load delay:100ms"' in page.content
    run_steps(admin_client, batch)

    page = admin_client.get(batch.get_absolute_url())
    tree = lxml.html.fromstring(page.content)
    hric = ImportItem.objects.get(filename="hric-2011-sco-harmonize-central-asia.txt")
    assert hric.status == ImportStatus.READY
    boxes = tree.xpath(f"//input[@name='item-{hric.pk}-clean']")
    assert [box.get("value") for box in boxes] == ["navigation-1", "server_error-14"]
    assert all(box.get("checked") is not None for box in boxes)
    removed = tree.xpath(f"//fieldset[@id='item-{hric.pk}']//del/text()")
    assert removed[0] == "Skip to content Skip to navigation"
    assert "The website encountered an unexpected error. Please try again later." in removed
    assert "language en detected" in page.content.decode()
    assert tree.xpath(f"//input[@name='item-{hric.pk}-organisation']/@value") == ["HRIC"]
    text = page.content.decode()
    assert "unsupported file type .pptx" in text
    assert "leaves the archive&#x27;s folder" in text

    pdf = ImportItem.objects.get(filename="paged.pdf")
    rferl = ImportItem.objects.get(filename="bundle.zip/rferl.txt")
    form = {
        f"item-{hric.pk}-include": "on",
        f"item-{hric.pk}-title": "HRIC on harmonising Central Asia",
        f"item-{hric.pk}-organisation": "Human Rights in China",
        f"item-{hric.pk}-published": "2011-06-16",
        f"item-{hric.pk}-language": "en",
        f"item-{hric.pk}-document_type": "statement",
        f"item-{hric.pk}-clean": ["server_error-14"],
        f"item-{rferl.pk}-include": "on",
        f"item-{rferl.pk}-title": "RFE/RL",
        f"item-{rferl.pk}-document_type": "news_article",
        f"item-{rferl.pk}-clean": ["repeated-20"],
        # The PDF is left out.
        f"item-{pdf.pk}-title": "Paged",
        f"item-{pdf.pk}-document_type": "report",
    }
    response = admin_client.post(reverse("documents:import_confirm", args=[batch.pk]), form)
    assert response.status_code == 302
    run_steps(admin_client, batch)

    document = Document.objects.get(title="HRIC on harmonising Central Asia")
    assert document.organisation == "Human Rights in China"
    assert document.document_type == "statement"
    assert document.text.startswith("Skip to content")  # navigation kept: not ticked
    assert "Warning: Cannot modify" not in document.text
    assert [e["id"] for e in document.import_report["cleanup"]["applied"]] == ["server_error-14"]
    assert document.imported_by == staff_user
    rferl_document = Document.objects.get(title="RFE/RL")
    assert rferl_document.text.count("The Paris-based International Federation") == 1
    assert Document.objects.count() == 2
    pdf.refresh_from_db()
    assert pdf.status == ImportStatus.SKIPPED

    page = admin_client.get(batch.get_absolute_url()).content.decode()
    assert f'Imported as <a href="{document.get_absolute_url()}">' in page


def test_confirm_with_invalid_date_shows_the_error_and_imports_nothing(admin_client):
    upload(admin_client, [sample_file("usun-2023-explanation-of-vote-sco-resolution.txt")])
    batch = ImportBatch.objects.get()
    run_steps(admin_client, batch)
    item = batch.items.get()
    response = admin_client.post(
        reverse("documents:import_confirm", args=[batch.pk]),
        {
            f"item-{item.pk}-include": "on",
            f"item-{item.pk}-title": "My corrected title",
            f"item-{item.pk}-published": "2023-02-30",
            f"item-{item.pk}-document_type": "statement",
        },
    )
    assert response.status_code == 400
    assert "is not a date" in response.content.decode()
    # What was typed is shown again, not lost.
    assert 'value="My corrected title"' in response.content.decode()
    assert Document.objects.count() == 0
    assert batch.items.get().status == ImportStatus.READY


def test_duplicate_is_shown_and_not_imported_again(admin_client, sample_corpus):
    upload(admin_client, [sample_file("hrw-2002-open-letter-sco-foreign-ministers.txt")])
    batch = ImportBatch.objects.get()
    run_steps(admin_client, batch)
    item = batch.items.get()
    existing = Document.objects.get(title__startswith="Open Letter")
    assert item.status == ImportStatus.DUPLICATE and item.duplicate_of == existing
    page = admin_client.get(batch.get_absolute_url()).content.decode()
    assert f'Duplicate of <a href="{existing.get_absolute_url()}">#{existing.pk}' in page
    assert Document.objects.count() == 5


def test_step_without_htmx_redirects_to_the_batch(admin_client):
    upload(admin_client, [sample_file("usun-2023-explanation-of-vote-sco-resolution.txt")])
    batch = ImportBatch.objects.get()
    response = admin_client.post(reverse("documents:import_step", args=[batch.pk]))
    assert response.status_code == 302 and response.url == batch.get_absolute_url()
    assert batch.items.get().status == ImportStatus.READY


def test_batch_page_query_count_does_not_grow_with_files(
    admin_client, django_assert_max_num_queries
):
    names = sorted(path.name for path in CORPUS.glob("*.txt"))
    upload(admin_client, [sample_file(names[0])])
    upload(admin_client, [sample_file(name) for name in names])
    small, large = ImportBatch.objects.order_by("pk")
    for batch in (small, large):
        run_steps(admin_client, batch)
    with django_assert_max_num_queries(8) as small_queries:
        assert admin_client.get(small.get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        page = admin_client.get(large.get_absolute_url())
    assert page.status_code == 200
    assert all(name in page.content.decode() for name in names)


def test_each_step_handles_a_few_files(admin_client):
    files = [
        SimpleUploadedFile(f"note-{index}.txt", f"Note number {index} on the SCO.".encode())
        for index in range(7)
    ]
    upload(admin_client, files)
    batch = ImportBatch.objects.get()
    admin_client.post(reverse("documents:import_step", args=[batch.pk]), **HTMX)
    assert batch.items.filter(status=ImportStatus.PENDING).count() == 4


def test_admin_document_list_links_to_the_import_page(client, django_user_model, project):
    root = django_user_model.objects.create_superuser("root", password="x-pass-1")
    client.force_login(member(project, root, Role.OWNER))
    response = client.get(reverse("admin:documents_document_changelist"))
    assert response.status_code == 200
    assert f'href="{reverse("documents:import")}"'.encode() in response.content


def test_upload_of_a_file_above_the_limit_is_listed_as_failed_without_reading_it(
    admin_client, settings
):
    settings.IMPORT_MAX_FILE_BYTES = 1000
    files = [
        SimpleUploadedFile("big.txt", b"a" * 5000, "text/plain"),
        SimpleUploadedFile("small.txt", b"A small note about the SCO.", "text/plain"),
    ]
    upload(admin_client, files)
    batch = ImportBatch.objects.get()
    big = batch.items.get(filename="big.txt")
    assert big.status == ImportStatus.FAILED
    assert "the file is 5000 bytes, above the import limit of 1000 bytes" in big.error
    assert batch.items.get(filename="small.txt").status == ImportStatus.PENDING


def test_a_file_imported_by_two_polling_pages_keeps_the_first_outcome(admin_client, staff_user):
    from documents import services

    upload(admin_client, [sample_file("usun-2023-explanation-of-vote-sco-resolution.txt")])
    batch = ImportBatch.objects.get()
    run_steps(admin_client, batch)
    services.import_batch_confirm(user=staff_user, batch=batch)
    stale = batch.items.get()  # Loaded by a second page while still queued.
    run_steps(admin_client, batch)
    services.imports._item_import(staff_user, stale)
    item = batch.items.get()
    assert item.status == ImportStatus.IMPORTED
    assert item.document == Document.objects.get()


def test_an_unexpected_error_fails_the_file_instead_of_leaving_it_queued(
    admin_client, staff_user, monkeypatch, caplog
):
    from documents import services

    upload(admin_client, [sample_file("usun-2023-explanation-of-vote-sco-resolution.txt")])
    batch = ImportBatch.objects.get()
    run_steps(admin_client, batch)
    services.import_batch_confirm(user=staff_user, batch=batch)

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.imports, "document_import", broken)
    run_steps(admin_client, batch)
    item = batch.items.get()
    assert item.status == ImportStatus.FAILED
    assert "unexpected error" in item.error
    assert not Document.objects.exists()
    assert "disk on fire" in caplog.text


# In Chromium: the page reads and imports the batch by itself under the site's
# Content-Security-Policy (htmx polling, no inline script).


@pytest.fixture
def chromium_page(live_server, monkeypatch):
    from django.db import connections

    from tests.browser import launched_chromium

    with launched_chromium() as browser:
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield page
        context.close()
        # The test's queries ran beside Playwright's event loop, where Django keeps other
        # connections than the test database's teardown sees: close them here.
        connections.close_all()
    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_import_in_the_browser_reads_previews_and_imports(chromium_page, live_server, staff_user):
    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import expect

    client = Client()
    client.force_login(staff_user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    chromium_page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page = chromium_page
    page.goto(reverse("documents:import"))
    page.set_input_files(
        "#id_files",
        [
            str(CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt"),
            str(CORPUS / "rferl-2012-fidh-report-sco-vehicle-for-violations.txt"),
        ],
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible(timeout=20_000)
    hrw = ImportItem.objects.get(filename__startswith="hrw")
    # Keep the navigation line, strip the donation appeal.
    page.locator(f"input[name='item-{hrw.pk}-clean'][value='navigation-1']").uncheck()
    page.get_by_role("button", name="Import the ticked files").click()
    expect(page.get_by_text("2 files: 2 imported.")).to_be_visible(timeout=20_000)
    document = Document.objects.get(source_file__filename=hrw.filename)
    assert document.text.startswith("Skip to main content")
    assert "tax deductible" not in document.text
