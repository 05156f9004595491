"""Document attributes: typed fields that a project's owners define for its documents,
their values (set on the pages, in the table, or from a CSV file, all or none), and how
they filter and label documents, search hits, passages and their exports."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import docx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import AccessEvent
from documents import selectors as document_selectors
from documents import services
from documents.models import Activity, Attribute, AttributeValue, Document
from documents.selectors import AttributeCondition
from projects.models import Project, Role
from research import exports, selectors
from research.selectors import PassageFilter, SearchFilter
from research.terms import parse_query
from tests.conftest import member
from tests.helpers import annotate

pytestmark = pytest.mark.django_db


def _document(project, title, text, **metadata):
    return services.document_create(
        user=None,
        project=project,
        text=text,
        metadata=services.DocumentMetadata(title=title, **metadata),
    )


@pytest.fixture
def owner(staff_user):
    return staff_user


@pytest.fixture
def reader(django_user_model, project):
    person = django_user_model.objects.create_user(username="reader", password="reader-pass-1")
    return member(project, person, Role.READER)


@pytest.fixture
def attributes(project, owner):
    """A choice, a date, a number and a text attribute of the project."""

    def make(name, kind, **extra):
        return services.attribute_create(user=owner, project=project, name=name, kind=kind, **extra)

    return {
        "status": make("Status", "choice", choices=["member", "observer", "partner"]),
        "adopted": make("Adopted", "date"),
        "population": make("Population", "number"),
        "issuer": make("Issuer", "text"),
    }


@pytest.fixture
def documents(project, user):
    return {
        "charter": _document(project, "SCO Charter", "The Charter of the organisation.\n"),
        "convention": _document(
            project, "Shanghai Convention", "Extradition under the Shanghai Convention.\n"
        ),
        "report": _document(project, "NGO report", "Extradition without judicial review.\n"),
    }


def _set(owner, document, **values):
    return services.attribute_values_set(user=owner, document=document, values=values)


def _values(document):
    return Document.objects.get(pk=document.pk).attribute_map()


# ---------------------------------------------------------------------------------------
# Definitions


def test_attribute_create_makes_a_slug_orders_and_logs(project, owner):
    first = services.attribute_create(user=owner, project=project, name="Issuer type", kind="text")
    second = services.attribute_create(
        user=owner,
        project=project,
        name=" Legal  status ",
        kind="choice",
        choices="binding\n\n soft \n",
    )
    assert (first.slug, second.slug) == ("issuer-type", "legal-status")
    assert second.name == "Legal status" and second.choices == ["binding", "soft"]
    assert second.sort_order > first.sort_order
    logged = Activity.objects.get(action="attribute.create", object_id=second.pk)
    assert logged.actor == owner and logged.after["choices"] == ["binding", "soft"]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": " ", "kind": "text"}, "name", "Give the attribute a name."),
        (
            {"name": "Country", "kind": "colour"},
            "kind",
            "Choose a kind: text, choice, number, date",
        ),
        (
            {"name": "Country", "kind": "choice"},
            "choices",
            "List the values a choice attribute allows, one per line.",
        ),
        (
            {"name": "Country", "kind": "text", "choices": ["China"]},
            "choices",
            "Only a choice attribute lists choices: leave them empty.",
        ),
        (
            {"name": "Status", "kind": "choice", "choices": ["a", "A "]},
            "choices",
            "'A' is listed twice: list each choice once.",
        ),
        ({"name": "Title", "kind": "text"}, "name", "'Title' names a field of every document"),
        ({"name": "Document type", "kind": "text"}, "name", "names a field of every document"),
        ({"name": "Страна", "kind": "text"}, "slug", "Give a slug of Latin letters"),
        ({"name": "Country", "kind": "text", "slug": "has space"}, "slug", "is not a slug"),
        ({"name": "ADOPTED", "kind": "text"}, "name", "Another attribute of the project is called"),
        ({"name": "Other", "kind": "text", "slug": "adopted"}, "slug", "has this slug or name"),
    ],
)
def test_attribute_create_refuses_bad_definitions_saying_what_to_fix(
    project, owner, attributes, values, field, message
):
    with pytest.raises(ValidationError) as refused:
        services.attribute_create(user=owner, project=project, **values)
    assert message in " ".join(refused.value.message_dict[field])
    assert Attribute.objects.count() == 4


def test_attribute_services_are_for_the_owners(project, user, reader, attributes, documents):
    for person in (user, reader):
        with pytest.raises(PermissionDenied):
            services.attribute_create(user=person, project=project, name="X", kind="text")
        with pytest.raises(PermissionDenied):
            services.attribute_update(user=person, attribute=attributes["status"], name="Y")
        with pytest.raises(PermissionDenied):
            services.attribute_delete(user=person, attribute=attributes["status"])
        with pytest.raises(PermissionDenied):
            _set(person, documents["charter"], status="member")
        with pytest.raises(PermissionDenied):
            services.attributes_from_csv(
                user=person, project=project, file=b"document_id,status\n1,member\n"
            )
    assert not AttributeValue.objects.exists()
    assert Attribute.objects.get(pk=attributes["status"].pk).name == "Status"


def test_attribute_update_keeps_the_choices_documents_have_and_their_kind(
    owner, attributes, documents
):
    status, adopted = attributes["status"], attributes["adopted"]
    _set(owner, documents["charter"], status="member")
    _set(owner, documents["report"], status="member", adopted="2001-06-15")
    with pytest.raises(ValidationError) as refused:
        services.attribute_update(user=owner, attribute=status, choices=["observer", "partner"])
    assert refused.value.message_dict["choices"] == [
        "'member' is the value of 2 documents: change those first, or keep the choice."
    ]
    with pytest.raises(ValidationError) as refused:
        services.attribute_update(user=owner, attribute=adopted, kind="text")
    assert refused.value.message_dict["kind"] == [
        "1 document has a value of Adopted: its kind cannot change. Clear them first, or "
        "define a new attribute."
    ]
    changed = services.attribute_update(
        user=owner, attribute=status, name="Membership", choices="member\npartner\ndialogue"
    )
    assert (changed.slug, changed.name, changed.choices) == (
        "status",
        "Membership",
        ["member", "partner", "dialogue"],
    )
    issuer = services.attribute_update(
        user=owner, attribute=attributes["issuer"], kind="choice", choices=["UN", "SCO"]
    )
    assert issuer.kind == "choice"
    assert Activity.objects.filter(action="attribute.update").count() == 2


def test_attribute_delete_takes_its_values_and_the_log_keeps_them(owner, attributes, documents):
    _set(owner, documents["charter"], status="member")
    _set(owner, documents["report"], status="observer")
    removed = services.attribute_delete(user=owner, attribute=attributes["status"])
    assert removed == 2
    assert not AttributeValue.objects.filter(attribute_id=attributes["status"].pk).exists()
    logged = Activity.objects.get(action="attribute.delete")
    assert logged.before["values"] == {
        str(documents["charter"].pk): "member",
        str(documents["report"].pk): "observer",
    }


# ---------------------------------------------------------------------------------------
# Values


def test_values_of_each_kind_are_stored_in_their_column_and_logged(owner, attributes, documents):
    charter = documents["charter"]
    done = _set(
        owner,
        charter,
        status=" MEMBER ",
        adopted="2002-6-7",
        population="1234.50",
        issuer="  Heads of  State\nCouncil ",
    )
    assert (done.documents, done.values_set, done.values_cleared) == (1, 4, 0)
    stored = {
        value.attribute.slug: (value.value_text, value.value_number, value.value_date)
        for value in AttributeValue.objects.select_related("attribute")
    }
    assert stored == {
        "status": ("member", None, None),
        "adopted": (None, None, datetime.date(2002, 6, 7)),
        "population": (None, Decimal("1234.5"), None),
        "issuer": ("Heads of State Council", None, None),
    }
    assert _values(charter) == {
        "status": "member",
        "adopted": "2002-06-07",
        "population": 1234.5,
        "issuer": "Heads of State Council",
    }
    logged = Activity.objects.get(action="document.attributes")
    assert logged.document_id == charter.pk and logged.before["status"] == ""
    assert logged.after == {
        "status": "member",
        "adopted": "2002-06-07",
        "population": "1234.5",
        "issuer": "Heads of State Council",
    }
    # The same values again change nothing and log nothing; an empty one clears.
    assert _set(owner, charter, status="member", population="1234.5000").documents == 0
    assert _set(owner, charter, population="", issuer=None).values_cleared == 2
    assert _values(charter) == {"status": "member", "adopted": "2002-06-07"}
    assert Activity.objects.filter(action="document.attributes").count() == 2


def test_numbers_and_dates_may_be_given_typed(owner, attributes, documents):
    _set(owner, documents["charter"], population=12, adopted=datetime.date(2001, 6, 15))
    assert _values(documents["charter"]) == {"adopted": "2001-06-15", "population": 12}
    with pytest.raises(ValidationError) as refused:
        _set(owner, documents["charter"], adopted=12)
    assert refused.value.message_dict["adopted"] == [
        "12 is not a value of Adopted, a date attribute."
    ]


@pytest.mark.parametrize(
    ("slug", "typed", "message"),
    [
        ("adopted", "31/02/2001", "'31/02/2001' is not a date: write YYYY-MM-DD"),
        ("adopted", "2001-02-31", "'2001-02-31' is not a date: write YYYY-MM-DD"),
        (
            "population",
            "1,5",
            "'1,5' is not a number: write digits with a point for decimals and no thousands "
            "separator, e.g. 1234.5.",
        ),
        ("population", "1.23456", "'1.23456' has more than 4 decimals: round it."),
        ("population", "1" * 15, f"'{'1' * 15}' is too large: at most 14 digits before the point."),
        ("population", "NaN", "'NaN' is not a number"),
        (
            "status",
            "member state",
            "'member state' is not one of the choices of Status (member, observer, partner): "
            "add it to the attribute's choices first.",
        ),
        ("issuer", "bad\x00byte", "contains a control character (U+0000): remove it."),
        ("issuer", "x" * 501, "is 501 characters long: at most 500."),
        ("nation", "China", "The project has no attribute 'nation'; its attributes: status, "),
    ],
)
def test_a_bad_value_is_refused_with_what_to_write_and_nothing_is_saved(
    owner, attributes, documents, slug, typed, message
):
    with pytest.raises(ValidationError) as refused:
        _set(owner, documents["charter"], **{"status": "member", slug: typed})
    assert message in " ".join(refused.value.message_dict[slug])
    assert not AttributeValue.objects.exists()
    assert not Activity.objects.filter(action="document.attributes").exists()


# ---------------------------------------------------------------------------------------
# CSV


def _csv(project, owner, text, **options):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return services.attributes_from_csv(
        user=owner, project=project, file=io.BytesIO(data), filename="values.csv", **options
    )


def _refusal(project, owner, text, **options):
    with pytest.raises(ValidationError) as refused:
        _csv(project, owner, text, **options)
    return refused.value.messages


def test_a_csv_sets_and_clears_values_by_document_id(project, owner, attributes, documents):
    charter, report = documents["charter"], documents["report"]
    _set(owner, report, issuer="UN")
    done = _csv(
        project,
        owner,
        "document_id,title,status,Adopted,population,issuer\n"
        f"{charter.pk},ignored,Member,2001-06-15,1500,SCO\n"
        f"{report.pk},,observer,,,\n"
        "\n",
    )
    assert (done.rows, done.documents, done.values_set, done.values_cleared) == (2, 2, 5, 1)
    assert _values(charter) == {
        "status": "member",
        "adopted": "2001-06-15",
        "population": 1500,
        "issuer": "SCO",
    }
    assert _values(report) == {"status": "observer"}
    assert _values(documents["convention"]) == {}
    summary = Activity.objects.get(action="attributes.import")
    assert summary.after["file"] == "values.csv" and summary.after["documents"] == 2
    assert Activity.objects.filter(action="document.attributes").count() == 3


def test_a_csv_with_bad_cells_lists_each_by_row_and_column_and_saves_nothing(
    project, owner, attributes, documents
):
    charter, report = documents["charter"], documents["report"]
    messages = _refusal(
        project,
        owner,
        "document_id,status,adopted,population\n"
        f"{charter.pk},member,2001-06-15,12\n"
        f"{report.pk},associate,2001-06-15,12\n"
        f"{documents['convention'].pk},member,31/02/2001,1 000\n"
        f"{report.pk},member,,\n"
        "x,member,,\n"
        "99999,member,,\n"
        f"{charter.pk},member\n",
    )
    assert messages[1:] == [
        "row 3, column 'status': 'associate' is not one of the choices of Status (member, "
        "observer, partner): add it to the attribute's choices first, or upload with new "
        "choices allowed.",
        "row 4, column 'adopted': '31/02/2001' is not a date: write YYYY-MM-DD",
        "row 4, column 'population': '1 000' is not a number: write digits with a point for "
        "decimals and no thousands separator, e.g. 1234.5.",
        f"row 5: document #{report.pk} is on row 3 already: give each document one row.",
        "row 6, column 'document_id': 'x' is not a document id (a whole number).",
        "row 7, column 'document_id': the project has no document #99999.",
        "row 8 has 2 cells, the header 4: give every row one cell per column (an empty cell "
        "clears the value).",
    ]
    assert messages[0] == "Nothing was saved: 7 problems to fix in the file."
    assert not AttributeValue.objects.exists()
    assert not Activity.objects.filter(action__in=["document.attributes", "attributes.import"])


def test_a_csv_may_name_documents_by_exact_title(project, owner, attributes, documents):
    done = _csv(project, owner, "Title;Status\nSCO Charter;partner\nNGO report;observer\n")
    assert done.documents == 2 and _values(documents["charter"]) == {"status": "partner"}
    _document(project, "SCO Charter", "Another text with the same title.\n")
    messages = _refusal(project, owner, "title,status\nSCO Charter,member\nsco charter,member\n")
    charters = Document.objects.filter(title="SCO Charter").order_by("pk")
    ids = ", ".join(f"#{document.pk}" for document in charters)
    assert messages[1:] == [
        f"row 2, column 'title': 2 documents of the project are titled 'SCO Charter' ({ids}): "
        "identify the rows by document_id instead (the template has it).",
        "row 3, column 'title': no document of the project is titled 'sco charter' (the title "
        "must match exactly; or identify documents by document_id, as the template does).",
    ]


def test_a_csv_header_must_name_the_document_column_and_known_attributes(
    project, owner, attributes, documents
):
    assert _refusal(project, owner, "id,status\n1,member\n")[1:] == [
        "The first column must be document_id or title, not 'id': download the template to "
        "see the layout."
    ]
    assert _refusal(project, owner, "document_id,Country,status,,Statut\n1,a,b,c,d\n")[1:] == [
        "Column 4 has no name: name it after an attribute, or delete it.",
        "Unknown columns 'Country', 'Statut': after the first column, each column is an "
        "attribute of the project, by slug or name. They are: status (Status), adopted "
        "(Adopted), population (Population), issuer (Issuer).",
    ]
    assert _refusal(project, owner, "document_id,status,STATUS\n")[1:] == [
        "Columns 'status' and 'STATUS' are both the attribute Status: keep one."
    ]
    assert _refusal(project, owner, "document_id,status\n")[1:] == [
        "The file has a header but no rows: add a row per document."
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty: download the template, fill it in and upload it."),
        (
            "document_id,status\n1,Ä\n".encode("latin-1"),
            "The file is not UTF-8 text (byte 0xc4 at position 21): save it as “CSV UTF-8” in "
            "Excel, or with the character set “Unicode (UTF-8)” in LibreOffice.",
        ),
        (
            b'document_id,status\n1,"member\n',
            "Row 2 cannot be read as CSV (unexpected end of data): check its quotes.",
        ),
        (b"\xef\xbb\xbf\n\n", "The file has no header"),
    ],
)
def test_a_file_that_is_not_utf8_csv_is_refused_with_how_to_save_it(
    project, owner, attributes, data, message
):
    assert message in " ".join(_refusal(project, owner, data))


def test_a_csv_with_a_byte_order_mark_semicolons_and_crlf_is_read(
    project, owner, attributes, documents
):
    charter = documents["charter"]
    data = f"document_id;issuer\r\n{charter.pk};Россия; Китай\r\n".encode("utf-8-sig")
    assert _refusal(project, owner, data)[1:] == [
        "row 2 has 3 cells, the header 2: give every row one cell per column (an empty cell "
        "clears the value)."
    ]
    data = f'document_id;issuer;;\r\n{charter.pk};"Россия; Китай";;\r\n'.encode("utf-8-sig")
    assert _csv(project, owner, data).documents == 1
    assert _values(charter) == {"issuer": "Россия; Китай"}


def test_a_csv_may_add_new_choices_when_asked(project, owner, attributes, documents):
    text = (
        "document_id,status\n"
        f"{documents['charter'].pk},dialogue partner\n"
        f"{documents['report'].pk},Dialogue Partner\n"
    )
    assert len(_refusal(project, owner, text)) == 3
    done = _csv(project, owner, text, add_choices=True)
    assert done.choices_added == {"Status": ["dialogue partner"]}
    status = Attribute.objects.get(slug="status")
    assert status.choices == ["member", "observer", "partner", "dialogue partner"]
    assert _values(documents["report"]) == {"status": "dialogue partner"}
    assert Activity.objects.filter(action="attribute.update", object_id=status.pk).exists()


def test_the_template_csv_reads_back_unchanged_even_with_formula_like_values(
    client, project, owner, attributes, documents
):
    charter = documents["charter"]
    _set(owner, charter, issuer="=HYPERLINK(1)", population="-5", status="partner")
    client.force_login(owner)
    response = client.get(reverse("projects:attributes_csv", args=[project.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="attributes-project-{project.pk}.csv"'
    )
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["document_id", "title", "status", "adopted", "population", "issuer"]
    assert [str(charter.pk), "SCO Charter", "partner", "", "'-5", "'=HYPERLINK(1)"] in rows
    assert len(rows) == 4
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.EXPORT, project_id=project.pk).exists()
    before = _values(charter)
    assert _csv(project, owner, body).documents == 0
    assert (
        _values(charter)
        == before
        == {
            "status": "partner",
            "population": -5,
            "issuer": "=HYPERLINK(1)",
        }
    )


# ---------------------------------------------------------------------------------------
# Filters


@pytest.fixture
def coded(project, owner, user, attributes, documents, tags):
    charter, convention, report = documents["charter"], documents["convention"], documents["report"]
    _set(owner, charter, status="member", adopted="2002-06-07", population="6")
    _set(owner, convention, status="member", adopted="2001-06-15", population="6.5")
    _set(owner, report, status="observer", adopted="2019-01-01", issuer="FIDH")
    annotate(user, charter, "Charter")
    annotate(user, convention, "Extradition")
    annotate(user, report, "Extradition")
    return documents


def _quotes(user, project, **attributes):
    conditions = tuple(AttributeCondition(*condition) for condition in attributes["where"])
    listed = selectors.passage_list(
        user=user, filters=PassageFilter(project=project.pk, attributes=conditions)
    )
    return sorted(annotation.document.title for annotation in listed)


def test_passages_filter_by_a_choice_a_date_range_a_number_and_a_text(coded, user, project):
    assert _quotes(user, project, where=[("status", "any", ("member",))]) == [
        "SCO Charter",
        "Shanghai Convention",
    ]
    assert _quotes(
        user,
        project,
        where=[
            ("status", "any", ("member", "observer")),
            ("adopted", "min", datetime.date(2001, 7, 1)),
            ("adopted", "max", datetime.date(2019, 1, 1)),
        ],
    ) == ["NGO report", "SCO Charter"]
    assert _quotes(user, project, where=[("population", "min", Decimal("6.1"))]) == [
        "Shanghai Convention"
    ]
    assert _quotes(user, project, where=[("issuer", "eq", "fidh")]) == ["NGO report"]
    assert _quotes(user, project, where=[("issuer", "eq", "HRW")]) == []


def test_search_filters_by_attributes(coded, user, project):
    def titles(*conditions):
        page = selectors.search(
            user=user,
            filters=SearchFilter(
                project=project.pk,
                query=parse_query("extradition"),
                attributes=tuple(AttributeCondition(*c) for c in conditions),
            ),
        )
        return [found.document.title for found in page.results]

    assert titles() == ["NGO report", "Shanghai Convention"]
    assert titles(("status", "any", ("member",))) == ["Shanghai Convention"]
    assert titles(("adopted", "min", datetime.date(2010, 1, 1))) == ["NGO report"]


def test_the_passages_page_filters_by_attributes_and_cites_them(client, coded, user, project):
    client.force_login(user)
    url = reverse("research:passages", args=[project.pk])
    page = client.get(url)
    html = page.content.decode()
    assert 'name="attr.status"' in html and 'name="attr.adopted.min"' in html
    assert 'name="attr.population.max"' in html and 'name="attr.issuer"' in html
    assert 'Status: <span dir="auto">member</span>; Adopted: <span dir="auto">2002-06-07' in html
    filtered = client.get(
        url, {"attr.status": ["member", "observer"], "attr.adopted.min": "2001-07-01"}
    )
    assert [p.citation.title for p in filtered.context["passages"]] == [
        "NGO report",
        "SCO Charter",
    ]
    refused = client.get(
        url, {"attr.adopted.min": "2020-01-01", "attr.adopted.max": "2019-01-01"}
    ).content.decode()
    assert "Adopted: the first value must not come after the last." in refused
    wrong = client.get(url, {"attr.adopted.min": "31/02/2001", "attr.status": "associate"})
    assert "Adopted from: Enter a valid date." in wrong.content.decode()
    assert "Select a valid choice. associate is not one of the available choices." in (
        wrong.content.decode()
    )


def test_the_search_page_filters_by_attributes_and_keeps_them_when_coding(
    client, coded, user, project, tags
):
    client.force_login(user)
    url = reverse("research:search", args=[project.pk])
    answer = client.get(url, {"q": "extradition", "attr.status": ["member", "partner"]})
    assert [r.document.title for r in answer.context["page"].results] == ["Shanghai Convention"]
    html = answer.content.decode()
    assert '<input type="hidden" name="attr.status" value="member">' in html
    assert '<input type="hidden" name="attr.status" value="partner">' in html
    preview = client.post(
        reverse("research:code_hits", args=[project.pk]),
        {
            "q": "extradition",
            "attr.status": ["member", "partner"],
            "code": tags["due-process"].pk,
            "scope": "match",
            "every": "on",
        },
    )
    assert preview.status_code == 200
    assert preview.context["search_fields"] == [
        ("q", "extradition"),
        ("attr.status", "member"),
        ("attr.status", "partner"),
    ]
    assert preview.context["new"] == 1


def test_the_documents_list_filters_by_attributes_and_shows_them_as_columns(
    client, coded, user, project
):
    client.force_login(user)
    url = reverse("documents:list")
    html = client.get(url).content.decode()
    assert '<th scope="col">Adopted</th>' in html and '<td dir="auto">2001-06-15</td>' in html
    answer = client.get(url, {"attr.adopted.max": "2005-01-01", "attr.population.min": "6.2"})
    assert [document.title for document in answer.context["page"]] == ["Shanghai Convention"]
    # With several projects, the attributes are those of the project chosen.
    other = Project.objects.create(name="Other project")
    member(other, user)
    assert "attr.adopted" not in client.get(url).content.decode()
    chosen = client.get(url, {"project": project.pk, "attr.status": "observer"})
    assert [document.title for document in chosen.context["page"]] == ["NGO report"]
    partial = client.get(url, {"project": other.pk}, headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert '<div id="attribute-filters" class="filter-group" hx-swap-oob="true">' in html
    assert "attr.status" not in html


# ---------------------------------------------------------------------------------------
# Pages


def test_the_project_page_shows_attributes_and_their_forms_to_owners_only(
    client, project, owner, user, attributes, documents
):
    _set(owner, documents["charter"], status="member")
    url = project.get_absolute_url()
    client.force_login(owner)
    html = client.get(url).content.decode()
    assert 'id="attributes-title"' in html and "member, observer, partner" in html
    add = f'action="{reverse("projects:attribute_add", args=[project.pk])}"'
    upload = f'action="{reverse("projects:attributes_upload", args=[project.pk])}"'
    assert add in html and upload in html
    assert reverse("projects:document_attributes", args=[project.pk]) in html
    client.force_login(user)
    html = client.get(url).content.decode()
    assert "Status" in html and reverse("projects:document_attributes", args=[project.pk]) in html
    assert add not in html and upload not in html


def test_owners_add_edit_and_delete_attributes_on_the_pages(client, project, owner, documents):
    client.force_login(owner)
    add = reverse("projects:attribute_add", args=[project.pk])
    response = client.post(add, {"name": "Legal status", "kind": "choice", "choices": "a\nb"})
    assert response.status_code == 302 and response["Location"].endswith("#attributes-title")
    attribute = Attribute.objects.get(slug="legal-status")
    refused = client.post(add, {"name": "legal STATUS", "kind": "text"})
    assert refused.status_code == 422
    assert "Name: Another attribute of the project is called &#x27;Legal status&#x27;." in (
        refused.content.decode()
    )
    edit = reverse("projects:attribute_edit", args=[project.pk, attribute.pk])
    assert 'value="legal-status" maxlength="100" disabled' in client.get(edit).content.decode()
    saved = client.post(
        edit, {"name": "Status", "kind": "choice", "choices": "a\nb\nc", "sort_order": 5}
    )
    assert saved.status_code == 302
    attribute.refresh_from_db()
    assert (attribute.name, attribute.slug, attribute.choices) == (
        "Status",
        "legal-status",
        ["a", "b", "c"],
    )
    bad = client.post(edit, {"name": "Status", "kind": "choice", "choices": "", "sort_order": 5})
    assert bad.status_code == 422
    assert "List the values a choice attribute allows, one per line." in bad.content.decode()
    _set(owner, documents["charter"], **{"legal-status": "a"})
    delete = reverse("projects:attribute_delete", args=[project.pk, attribute.pk])
    assert "1 document has one" in client.get(delete).content.decode()
    assert client.post(delete).status_code == 302
    assert not Attribute.objects.exists() and not AttributeValue.objects.exists()


def test_the_document_page_shows_values_and_owners_edit_them(
    client, project, owner, user, attributes, documents
):
    charter = documents["charter"]
    _set(owner, charter, status="member", adopted="2002-06-07")
    url = charter.get_absolute_url()
    client.force_login(user)
    html = client.get(url).content.decode()
    assert '<dt>Status</dt><dd dir="auto">member</dd>' in html
    assert '<dt>Adopted</dt><dd dir="auto">2002-06-07</dd>' in html
    assert "Edit attributes" not in html
    edit = reverse("documents:attributes", args=[charter.pk])
    assert client.post(edit, {"attr.status": "observer"}).status_code == 403
    client.force_login(owner)
    assert "Edit attributes" in client.get(url).content.decode()
    htmx = {"HX-Request": "true", "HX-Target": "doc-meta"}
    saved = client.post(edit, {"attr.status": "partner", "attr.adopted": ""}, headers=htmx)
    assert saved.status_code == 200
    html = saved.content.decode()
    assert html.lstrip().startswith('<header class="doc-meta" id="doc-meta">')
    assert '<dt>Status</dt><dd dir="auto">partner</dd>' in html and "Attributes saved." in html
    assert _values(charter) == {"status": "partner"}
    refused = client.post(edit, {"attr.status": "x", "attr.adopted": "2001-13-01"}, headers=htmx)
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "&#x27;2001-13-01&#x27; is not a date: write YYYY-MM-DD" in html
    assert '<details class="attribute-edit" open>' in html
    assert _values(charter) == {"status": "partner"}
    # Without htmx: a page of its own, and back to the document once saved.
    assert client.get(edit).status_code == 200
    plain = client.post(edit, {"attr.population": "7"})
    assert plain.status_code == 302 and plain["Location"] == url
    assert client.post(edit, {"attr.population": "seven"}).status_code == 422
    away = client.post(edit, {"attr.population": "8", "next": "https://elsewhere.example/"})
    assert away["Location"] == url


def test_the_table_of_documents_is_edited_row_by_row_by_owners(
    client, project, owner, reader, attributes, documents
):
    charter = documents["charter"]
    _set(owner, charter, status="member")
    url = reverse("projects:document_attributes", args=[project.pk])
    client.force_login(reader)
    html = client.get(url).content.decode()
    assert '<td dir="auto">member</td>' in html and "<input" not in html.split("<table")[1]
    client.force_login(owner)
    html = client.get(url).content.decode()
    assert f'<form id="values-{charter.pk}"' in html
    assert f'form="values-{charter.pk}"' in html and f'id="d{charter.pk}-attr.status"' in html
    row = {"HX-Request": "true", "HX-Target": f"row-{charter.pk}"}
    edit = reverse("documents:attributes", args=[charter.pk])
    saved = client.post(edit, {"attr.status": "observer", "attr.population": "3"}, headers=row)
    html = saved.content.decode()
    assert saved.status_code == 200 and html.lstrip().startswith(f'<tr id="row-{charter.pk}">')
    assert "Saved." in html and 'value="3"' in html
    refused = client.post(edit, {"attr.population": "3,5"}, headers=row)
    assert refused.status_code == 422 and "is not a number" in refused.content.decode()
    assert _values(charter) == {"status": "observer", "population": 3}


def test_the_upload_page_saves_all_or_lists_what_to_fix(
    client, project, owner, attributes, documents
):
    client.force_login(owner)
    url = reverse("projects:attributes_upload", args=[project.pk])
    charter = documents["charter"]
    good = SimpleUploadedFile("v.csv", f"document_id,status\n{charter.pk},partner\n".encode())
    response = client.post(url, {"file": good})
    assert response.status_code == 302
    assert response["Location"] == reverse("projects:document_attributes", args=[project.pk])
    bad = SimpleUploadedFile("v.csv", f"document_id,adopted\n{charter.pk},31/02/2001\n".encode())
    refused = client.post(url, {"file": bad})
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "row 2, column &#x27;adopted&#x27;: &#x27;31/02/2001&#x27; is not a date" in html
    assert 'id="attribute-errors"' in html
    assert client.post(url, {}).status_code == 422
    assert _values(charter) == {"status": "partner"}


# ---------------------------------------------------------------------------------------
# The API


def test_the_api_gives_definitions_values_and_filters(
    client, coded, project, user, bearer, attributes
):
    headers = bearer(user)
    listed = client.get(reverse("api:attribute-list", args=[project.pk]), headers=headers).json()
    assert listed[0] == {
        "id": attributes["status"].pk,
        "project": project.pk,
        "slug": "status",
        "name": "Status",
        "kind": "choice",
        "choices": ["member", "observer", "partner"],
        "sort_order": 0,
    }
    assert [item["slug"] for item in listed] == ["status", "adopted", "population", "issuer"]
    charter = coded["charter"]
    one = client.get(reverse("api:document-detail", args=[charter.pk]), headers=headers).json()
    assert one["attributes"] == {"status": "member", "adopted": "2002-06-07", "population": 6}
    page = client.get(reverse("api:document-list"), headers=headers).json()["results"]
    assert {item["title"]: item["attributes"] for item in page}["NGO report"] == {
        "status": "observer",
        "adopted": "2019-01-01",
        "issuer": "FIDH",
    }
    passages = reverse("api:passage-list", args=[project.pk])
    found = client.get(
        passages, {"attr.status": "member", "attr.adopted.max": "2001-12-31"}, headers=headers
    ).json()
    assert [p["citation"]["title"] for p in found["results"]] == ["Shanghai Convention"]
    assert found["results"][0]["attributes"] == {
        "Status": "member",
        "Adopted": "2001-06-15",
        "Population": "6.5",
    }
    bad = client.get(passages, {"attr.nation": "x", "attr.adopted.min": "soon"}, headers=headers)
    assert bad.status_code == 400
    assert set(bad.json()) == {"attr.nation", "attr.adopted.min"}
    other = Project.objects.create(name="Other")
    assert (
        client.get(reverse("api:attribute-list", args=[other.pk]), headers=headers).status_code
        == 404
    )


# ---------------------------------------------------------------------------------------
# Exports


def test_exports_carry_the_attributes_as_columns_and_in_the_citation(client, coded, project, user):
    client.force_login(user)

    def export(fmt, **params):
        response = client.get(reverse("research:passages_export", args=[project.pk, fmt]), params)
        assert response.status_code == 200
        if response.streaming:
            return b"".join(response.streaming_content)
        return b"".join(response)

    rows = list(csv.reader(io.StringIO(export("csv").decode("utf-8-sig"))))
    header = rows[0]
    assert header[-4:] == ["Status", "Adopted", "Population", "Issuer"]
    by_title = {row[header.index("title")]: row[-4:] for row in rows[1:]}
    assert by_title["NGO report"] == ["observer", "2019-01-01", "", "FIDH"]
    sheet = load_workbook(io.BytesIO(export("xlsx"))).worksheets[0]
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells[0][-4:] == ["Status", "Adopted", "Population", "Issuer"]
    markdown = export("md", **{"attr.status": "observer"}).decode()
    assert "NGO report. Status: observer; Adopted: 2019-01-01; Issuer: FIDH." in markdown
    assert "Passages; Status observer." not in markdown and "Status observer" in markdown
    report = docx.Document(io.BytesIO(export("docx")))
    text = "\n".join(paragraph.text for paragraph in report.paragraphs)
    assert "Shanghai Convention. Status: member; Adopted: 2001-06-15; Population: 6.5." in text


def test_a_passage_without_attributes_writes_as_before():
    citation = exports.Citation("T", "", "", None, "https://x/documents/1/#a1")
    passage = exports.Passage(1, 1, 0, 1, "q", "", "", ("Code",), "", "me", "2026", citation)
    assert passage.attributes == ()
    assert "".join(exports.csv_chunks([passage])).splitlines()[0].endswith(",url")
    with_columns = "".join(exports.csv_chunks([passage], attributes=["=Status"])).splitlines()
    assert with_columns[0].endswith(",url,'=Status") and with_columns[1].endswith(",")


# ---------------------------------------------------------------------------------------
# Queries


def _queries(client, url, params=None):
    document_selectors._texts.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


def test_lists_with_attributes_make_a_constant_number_of_queries(
    client, coded, project, user, owner
):
    documents = reverse("documents:list")
    passages = reverse("research:passages", args=[project.pk])
    table = reverse("projects:document_attributes", args=[project.pk])
    filters = {"attr.status": ["member", "observer"], "attr.adopted.min": "2000-01-01"}

    def counts():
        client.force_login(user)
        read = (_queries(client, documents), _queries(client, passages, filters))
        client.force_login(owner)
        return (*read, _queries(client, table))

    few = counts()
    for i in range(6):
        document = _document(project, f"Report {i}", f"Extradition report {i}.\n")
        _set(owner, document, status="member", adopted="2010-01-01", population=str(i))
        annotate(user, document, "Extradition")
    assert counts() == few


def test_no_attribute_can_take_the_name_of_an_export_column_or_document_field():
    from documents.services.attributes import RESERVED_NAMES
    from documents.services.documents import METADATA_FIELDS

    assert set(exports.COLUMNS) <= RESERVED_NAMES
    assert set(METADATA_FIELDS) <= RESERVED_NAMES
