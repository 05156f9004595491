"""Streamed exports: CSV (formula-neutralised, UTF-8 with BOM) and JSON Lines."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse

from documents import exports, selectors, services
from documents.models import Annotation

pytestmark = pytest.mark.django_db

CSV_URL = "/api/v1/export/annotations.csv"
JSONL_URL = "/api/v1/export/annotations.jsonl"

#: Text whose passages start with what a spreadsheet would run as a formula.
HOSTILE_TEXT = (
    '=HYPERLINK("http://evil.example","click")\n'
    "+1+2\n"
    "-2+3\n"
    "@SUM(A1:A2)\n"
    "\tTabbed start\n"
    'Plain, "quoted" text; with a comma\n'
)


@pytest.fixture
def headers(user, bearer):
    return bearer(user)


def body_of(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def read_csv(response):
    raw = body_of(response)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark, for spreadsheets
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@pytest.fixture
def hostile(db, user, tags):
    document = services.document_create(
        user=None,
        text=HOSTILE_TEXT,
        metadata=services.DocumentMetadata.from_mapping(
            {"title": "=cmd|' /C calc'!A0", "organisation": "@org", "published": "2012-03"}
        ),
    )
    made = []
    for line in HOSTILE_TEXT.splitlines():
        start = document.text.index(line)
        made.append(
            services.annotation_create(
                user=user,
                document=document,
                start=start,
                end=start + len(line),
                tags=["extradition", "due-process"],
                note="=1+1" if line.startswith("Plain") else "",
            )
        )
    return document, made


def test_csv_has_one_row_per_annotation_and_tag_and_round_trips(client, hostile, headers):
    document, made = hostile
    response = client.get(CSV_URL, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="annotations.csv"' in response["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0]) == list(exports.CSV_HEADER)
    assert len(rows) == 2 * len(made)
    assert {(row["annotation_id"], row["tag"]) for row in rows} == {
        (str(annotation.pk), slug) for annotation in made for slug in ("extradition", "due-process")
    }
    by_id = {row["annotation_id"]: row for row in rows}
    plain = by_id[str(made[-1].pk)]
    # Round trip: commas, quotes and semicolons come back exactly.
    assert plain["quote"] == 'Plain, "quoted" text; with a comma'
    assert plain["document_published"] == "2012-03"
    assert plain["document_url"] == f"http://testserver/api/v1/documents/{document.pk}/"
    assert plain["author"] == "analyst" and plain["deleted"] == "false"
    assert plain["start"] == str(made[-1].start)


def test_csv_neutralises_formulas(client, hostile, headers):
    _, made = hostile
    rows = read_csv(client.get(CSV_URL, headers=headers))
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    by_id = {row["annotation_id"]: row for row in rows}
    assert by_id[str(made[0].pk)]["quote"] == "'" + made[0].quote
    assert by_id[str(made[4].pk)]["quote"] == "'\tTabbed start"
    assert by_id[str(made[-1].pk)]["note"] == "'=1+1"
    assert rows[0]["document_title"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["document_organisation"] == "'@org"


def undo_neutralise(cell):
    """The recipe in docs/api.md."""
    return cell[1:] if cell.startswith("'") else cell


ROUND_TRIP_VALUES = [
    "Extradition",
    "",
    "'quoted'",
    "''",
    "'",
    "=1+1",
    "'=1+1",
    "+32 2 555 01 00",
    "-2",
    "@SUM(A1)",
    "\tTabbed",
    "\rReturn",
    "a'b",
]


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES)
def test_neutralise_is_undone_by_stripping_one_apostrophe(value):
    cell = exports.neutralise(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert undo_neutralise(cell) == value


def test_neutralise_escapes_a_leading_apostrophe():
    assert exports.neutralise("'quoted'") == "''quoted'"
    assert exports.neutralise("'=1") == "''=1"


def test_csv_cells_round_trip_through_the_recipe(client, document, user, tags, headers):
    start, end = 0, len("Extradition")
    notes = [value for value in ROUND_TRIP_VALUES if value]
    made = [
        services.annotation_create(
            user=user, document=document, start=start, end=end, tags=["extradition"], note=note
        )
        for note in notes
    ]
    rows = read_csv(client.get(CSV_URL, headers=headers))
    by_id = {row["annotation_id"]: row for row in rows}
    stored = {a.pk: a.note for a in Annotation.objects.filter(pk__in=[a.pk for a in made])}
    assert {"'quoted'", "'=1+1", "=1+1", "-2", "@SUM(A1)"} <= set(stored.values())
    for pk, note in stored.items():
        assert undo_neutralise(by_id[str(pk)]["note"]) == note


def test_neutralise_leaves_ordinary_text_alone():
    assert exports.neutralise("Extradition") == "Extradition"
    assert exports.neutralise("") == ""
    assert exports.neutralise("a=b") == "a=b"
    assert exports.neutralise("\rx") == "'\rx"


def test_jsonl_is_one_api_annotation_per_line(client, hostile, headers):
    _, made = hostile
    response = client.get(JSONL_URL, headers=headers)
    assert response["Content-Type"].startswith("application/jsonl")
    lines = body_of(response).decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["id"] for record in records] == [annotation.pk for annotation in made]
    detail = client.get(f"/api/v1/annotations/{made[0].pk}/", headers=headers).json()
    assert records[0] == detail


def test_exports_take_the_same_filters(client, hostile, document, user, headers):
    _, made = hostile
    start = document.text.index("Shanghai")
    other = services.annotation_create(
        user=user, document=document, start=start, end=start + 8, tags=["forced-return"]
    )
    services.annotation_delete(user=user, annotation=made[0])
    lines = body_of(client.get(JSONL_URL + "?tag=extradition", headers=headers)).splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert made[0].pk not in ids and other.pk in ids
    lines = body_of(client.get(JSONL_URL + f"?document={document.pk}", headers=headers))
    assert [json.loads(line)["id"] for line in lines.splitlines()] == [other.pk]
    with_deleted = body_of(
        client.get(JSONL_URL + "?include_deleted=true&tag=due-process", headers=headers)
    )
    records = [json.loads(line) for line in with_deleted.splitlines()]
    assert records[0] == {**records[0], "id": made[0].pk, "deleted": True}
    rows = read_csv(client.get(CSV_URL + "?include_deleted=true", headers=headers))
    tombstones = [row for row in rows if row["deleted"] == "true"]
    assert [row["annotation_id"] for row in tombstones] == [str(made[0].pk)]
    assert tombstones[0]["quote"] == ""
    response = client.get(CSV_URL + "?tag=nothing-like-it", headers=headers)
    assert response.status_code == 400 and "tag" in response.json()


def test_exports_stream_in_batches(client, hostile, headers, monkeypatch):
    _, made = hostile
    monkeypatch.setattr(selectors, "BATCH_SIZE", 2)
    response = client.get(JSONL_URL, headers=headers)
    chunks = list(response.streaming_content)
    assert len(chunks) == 3  # six annotations, two per batch
    records = [json.loads(line) for line in b"".join(chunks).splitlines()]
    assert [record["id"] for record in records] == [annotation.pk for annotation in made]
    rows = read_csv(client.get(CSV_URL, headers=headers))
    assert len(rows) == 12


def test_export_queries_per_batch_are_constant(
    client, hostile, headers, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(selectors, "BATCH_SIZE", 3)
    client.get(JSONL_URL, headers=headers)
    # Token; the access log's row; per batch of three, the rows, their tag links and the
    # codebook (two full batches); then the empty read that finds the end.
    with django_assert_num_queries(1 + 1 + 2 * 3 + 1):
        response = client.get(JSONL_URL, headers=headers)
        lines = body_of(response).splitlines()
    assert response.status_code == 200 and len(lines) == 6


def test_export_accept_header_does_not_matter(client, hostile, headers):
    response = client.get(CSV_URL, headers={**headers, "Accept": "text/csv"})
    assert response.status_code == 200
    response = client.get(CSV_URL, headers={"Accept": "text/csv"})
    assert response.status_code == 401
    assert response.json()["detail"]
