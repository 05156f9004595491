"""Document attributes in Chromium against a live server: an owner defines a choice and a
date attribute on the project page and fills them in from a CSV file (a bad file first),
changes one row of the table, then an analyst filters passages by them."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from documents import services
from documents.models import AttributeValue
from tests.helpers import annotate
from tests.test_browser import ARTIFACTS, browser, log_in, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "SCO Charter": "The Charter binds the member states to cooperation against extremism.\n",
    "Shanghai Convention": "Extradition of persons accused of terrorism and extremism.\n",
    "Joint statement": "The observer states welcomed the cooperation against extremism.\n",
}


def shot(page, name):  # noqa: F811 (the page fixture)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"attributes-{name}.png"), full_page=True)


def add_attribute(page, name, kind, choices=""):  # noqa: F811
    page.get_by_text("Add an attribute").click()
    form = page.locator("form", has=page.get_by_role("button", name="Add the attribute"))
    form.get_by_label("Name").fill(name)
    form.get_by_label("Kind").select_option(kind)
    if choices:
        form.get_by_label("Choices").fill(choices)
    form.get_by_role("button", name="Add the attribute").click()
    expect(page.get_by_text(f"Attribute {name} added.")).to_be_visible()


def upload(page, path):  # noqa: F811
    page.get_by_text("Fill them in from a CSV file").click()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload the values").click()


def test_an_owner_fills_attributes_from_a_csv_and_an_analyst_filters_by_them(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    staff_user,
    project,
    tags,
    tmp_path: Path,
):
    documents = {
        title: services.document_create(
            user=staff_user,
            project=project,
            text=text,
            metadata=services.DocumentMetadata(title=title),
        )
        for title, text in TEXTS.items()
    }
    for document in documents.values():
        annotate(user, document, "extremism")

    # The owner defines a choice and a date attribute on the project page.
    log_in(staff_user)
    page.goto(project.get_absolute_url())
    add_attribute(page, "Membership", "choice", "member\nobserver\npartner")
    add_attribute(page, "Adopted", "date")
    section = page.locator("section", has=page.get_by_role("heading", name="Attributes"))
    expect(section.locator("tbody tr")).to_have_count(2)
    shot(page, "defined")

    # The template: every document, by id, with its (empty) values.
    page.get_by_text("Fill them in from a CSV file").click()
    with page.expect_download() as download:
        section.get_by_role("link", name="the template").click()
    template = tmp_path / "template.csv"
    download.value.save_as(template)
    rows = list(csv.reader(io.StringIO(template.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["document_id", "title", "membership", "adopted"]
    assert sorted(row[1] for row in rows[1:]) == sorted(TEXTS)
    page.get_by_text("Fill them in from a CSV file").click()  # closed again

    # A file with mistakes is refused whole, each cell named.
    values = {
        "SCO Charter": ("member", "2002-06-07"),
        "Shanghai Convention": ("Member", "15/06/2001"),
        "Joint statement": ("observer state", "2019-07-01"),
    }
    filled = [rows[0]] + [[row[0], row[1], *values[row[1]]] for row in rows[1:]]
    bad = tmp_path / "values.csv"
    with bad.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(filled)
    upload(page, bad)
    errors = page.locator("#attribute-errors")
    expect(errors).to_contain_text("Nothing was saved: 2 problems to fix in the file.")
    expect(errors).to_contain_text("column 'adopted': '15/06/2001' is not a date: write YYYY-MM-DD")
    expect(errors).to_contain_text(
        "column 'membership': 'observer state' is not one of the choices"
    )
    assert not AttributeValue.objects.exists()
    shot(page, "refused")

    # Corrected, it is saved, and the table of documents shows the values.
    values["Shanghai Convention"] = ("Member", "2001-06-15")
    values["Joint statement"] = ("observer", "2019-07-01")
    filled = [rows[0]] + [[row[0], row[1], *values[row[1]]] for row in rows[1:]]
    good = tmp_path / "values-fixed.csv"
    with good.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(filled)
    page.locator("details", has_text="Fill them in from a CSV file").first.get_by_label(
        "CSV file"
    ).set_input_files(str(good))
    page.get_by_role("button", name="Upload the values").click()
    expect(page.get_by_role("heading", name="Document attributes")).to_be_visible()
    expect(
        page.get_by_text("3 rows read: 3 documents changed, 6 values set, 0 cleared.")
    ).to_be_visible()
    assert AttributeValue.objects.count() == 6
    charter = documents["SCO Charter"]
    row = page.locator(f"#row-{charter.pk}")
    expect(row.get_by_label("Membership of SCO Charter")).to_have_value("member")
    expect(row.get_by_label("Adopted of SCO Charter")).to_have_value("2002-06-07")

    # One row changed in place (htmx): the row comes back saved.
    row.get_by_label("Membership of SCO Charter").select_option("partner")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#row-{charter.pk}").get_by_text("Saved.")).to_be_visible()
    assert charter.attribute_values.get(attribute__slug="membership").value_text == "partner"
    shot(page, "table")

    # The document page shows the values.
    page.goto(charter.get_absolute_url())
    metadata = page.locator("#doc-meta dl")
    expect(metadata).to_contain_text("Membership")
    expect(metadata).to_contain_text("partner")
    expect(metadata).to_contain_text("2002-06-07")
    # … and its owners change them there (htmx swaps the header).
    page.get_by_text("Edit attributes").click()
    page.locator("#doc-meta").get_by_label("Adopted").fill("2002-06-08")
    page.get_by_role("button", name="Save attributes").click()
    expect(page.locator("#doc-meta").get_by_role("status")).to_have_text("Attributes saved.")
    expect(metadata).to_contain_text("2002-06-08")
    page.get_by_text("Edit attributes").click()
    shot(page, "document")

    # The analyst filters the passages by the two attributes.
    log_in(user)
    page.goto(project.get_absolute_url())
    page.get_by_role("link", name="All passages").click()
    passages = page.locator("li.passage")
    expect(passages).to_have_count(3)
    page.get_by_label("Membership", exact=True).select_option(["member", "observer"])
    page.get_by_label("Adopted from").fill("2001-01-01")
    page.get_by_label("Adopted until").fill("2010-12-31")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"attr\.membership=member.*attr\.adopted\.min=2001-01-01"))
    expect(passages).to_have_count(1)
    citation = passages.first.locator(".citation")
    expect(citation.locator("cite")).to_have_text("Shanghai Convention")
    expect(citation).to_contain_text("Membership: member; Adopted: 2001-06-15.")
    shot(page, "passages")
    page.get_by_label("Membership", exact=True).select_option(["observer", "partner"])
    page.get_by_label("Adopted until").fill("")
    page.get_by_role("button", name="Show").click()
    expect(passages.locator("cite")).to_have_text(["Joint statement", "SCO Charter"])
