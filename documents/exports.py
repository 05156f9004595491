"""Streamed exports of annotations: CSV (one row per annotation and tag) and JSON Lines.

Rows are read in keyset batches by id (WHERE id > last ORDER BY id LIMIT n), so memory stays
flat whatever the size of the corpus and no server-side cursor has to outlive a request.
They take the same filters as GET /api/v1/annotations/.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import AccessEvent
from accounts.services import access_event

from . import api_schema, selectors
from .api import filters
from .models import DatePrecision
from .representations import Links, annotation_json
from .serializers import AnnotationFilterSerializer

_DOCUMENT_COLUMNS = (
    "document__title",
    "document__organisation",
    "document__published",
    "document__date_precision",
    "document__source_url",
)

CSV_HEADER = (
    "annotation_id",
    "annotation_url",
    "tag",
    "document_id",
    "document_title",
    "document_organisation",
    "document_published",
    "document_url",
    "document_source_url",
    "start",
    "end",
    "quote",
    "note",
    "author",
    "created",
    "updated",
    "version",
    "deleted",
)

#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection). A
#: leading apostrophe is escaped the same way, so that removing one leading apostrophe from
#: every cell that has one always gives back the original value.
_ESCAPED_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(value: str) -> str:
    """Prefix a would-be formula, or a value starting with an apostrophe, with an apostrophe.

    Spreadsheets show such a cell as text; `value[1:] if value.startswith("'") else value`
    undoes it.
    """
    return "'" + value if value.startswith(_ESCAPED_STARTS) else value


def _published(row: dict[str, Any]) -> str:
    published = row["document__published"]
    if published is None:
        return ""
    precision = row["document__date_precision"]
    if precision == DatePrecision.YEAR:
        return f"{published.year:04d}"
    if precision == DatePrecision.MONTH:
        return f"{published.year:04d}-{published.month:02d}"
    return published.isoformat()


def attribute_csv_chunks(
    attributes: Sequence[Any], batches: Iterable[Sequence[Any]]
) -> Iterator[str]:
    """A project's documents and their attributes as CSV, the file that
    services.attributes_from_csv reads back: document_id, title (not read back), then a
    column per attribute by slug; each document with `attribute_cells`
    (selectors.attribute_table_batches). Cells that a spreadsheet would read as formulas
    are escaped with an apostrophe, which the upload takes off again."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel reads the file as UTF-8 (see research/exports.py)
    writer.writerow(["document_id", "title", *(attribute.slug for attribute in attributes)])
    yield _drain(buffer)
    for documents in batches:
        for document in documents:
            cells = [neutralise(cell) for cell in document.attribute_cells]
            writer.writerow([document.pk, neutralise(document.title), *cells])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def jsonl_lines(queryset: Any, urls: Links) -> Iterator[bytes]:
    """Each annotation as one line of JSON, the same object the API returns."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for rows in selectors.annotation_batches(queryset):
        lines = [encode(annotation_json(row, urls)) for row in rows]
        lines.append("")
        yield "\n".join(lines).encode("utf-8")


def csv_lines(queryset: Any, urls: Links) -> Iterator[bytes]:
    """The header, then one row per annotation and tag (a tombstone is one row, no tag)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The byte-order mark makes Excel read the file as UTF-8 (pandas and csv skip it with
    # encoding="utf-8-sig").
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    for rows in selectors.annotation_batches(queryset, *_DOCUMENT_COLUMNS):
        for row in rows:
            writer.writerows(_csv_rows(row, urls))
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def _csv_rows(row: dict[str, Any], urls: Links) -> list[list[Any]]:
    deleted = row["deleted_at"] is not None
    common = [
        row["id"],
        urls.annotation(row["id"]),
    ]
    document = [
        row["document_id"],
        neutralise(row["document__title"]),
        neutralise(row["document__organisation"]),
        _published(row),
        urls.document(row["document_id"]),
        neutralise(row["document__source_url"]),
    ]
    if deleted:
        return [
            [
                *common,
                "",
                *document,
                "",
                "",
                "",
                "",
                "",
                "",
                row["updated"],
                row["version"],
                "true",
            ]
        ]
    rest = [
        row["start"],
        row["end"],
        neutralise(row["quote"]),
        neutralise(row["note"]),
        neutralise(row["author"]),
        row["created"],
        row["updated"],
        row["version"],
        "false",
    ]
    return [[*common, neutralise(tag), *document, *rest] for tag in row["tags"] or [""]]


class AnyAccept(BaseContentNegotiation):
    """A download's format is in its URL (an export's) or its file (an original's): any
    Accept is served; errors (401, 400, 404) are always JSON."""

    def select_parser(self, request: Request, parsers: Iterable[Any]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class _Export(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept
    content_type = ""
    filename = ""

    def stream(self, queryset: Any, urls: Links) -> Iterator[bytes]:
        raise NotImplementedError

    def get(self, request: Request) -> StreamingHttpResponse:
        filtering = filters(request, AnnotationFilterSerializer)
        wanted = filtering.to_filter()
        queryset = selectors.annotation_list(user=request.user, filters=wanted)
        access_event(
            kind=AccessEvent.Kind.EXPORT,
            request=request,
            detail={"file": self.filename, "query": request.GET.urlencode()[:1000]},
            # Its owners read it in the access log (an export of every project the caller
            # is in has none: site administrators read it).
            project_id=wanted.project,
        )
        response = StreamingHttpResponse(
            self.stream(queryset, Links.for_request(request)), content_type=self.content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response


@extend_schema_view(get=extend_schema(operation_id="export_annotations_csv"))
@extend_schema(
    tags=["exports"],
    summary="Annotations as CSV, one row per annotation and tag (streamed, UTF-8 with BOM)",
    parameters=[AnnotationFilterSerializer],
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        **api_schema.errors(400, 401),
    },
)
class AnnotationCSVExport(_Export):
    content_type = "text/csv; charset=utf-8"
    filename = "annotations.csv"

    def stream(self, queryset: Any, urls: Links) -> Iterator[bytes]:
        return csv_lines(queryset, urls)


@extend_schema_view(get=extend_schema(operation_id="export_annotations_jsonl"))
@extend_schema(
    tags=["exports"],
    summary="Annotations as JSON Lines, one annotation per line (streamed)",
    parameters=[AnnotationFilterSerializer],
    responses={
        # One annotation (or tombstone) per line.
        (200, "application/jsonl"): api_schema.annotation_or_tombstone(),
        **api_schema.errors(400, 401),
    },
)
class AnnotationJSONLExport(_Export):
    content_type = "application/jsonl; charset=utf-8"
    filename = "annotations.jsonl"

    def stream(self, queryset: Any, urls: Links) -> Iterator[bytes]:
        return jsonl_lines(queryset, urls)
