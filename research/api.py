"""The research API: a project's passages (with citations, as the passages view lists them,
and as files) and its search, with the same filters as the pages."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import HttpResponseBase, QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.api import errors
from documents.shortcuts import found_or_404
from projects.models import Project
from projects.selectors import project_get

from . import selectors, views
from .forms import PassageForm, SearchForm

_DOCUMENT_PARAMETERS = [
    OpenApiParameter("organisation", str, description="Who published the document."),
    OpenApiParameter("language", str, description="The document's language tag."),
    OpenApiParameter("document_type", str),
    OpenApiParameter("published_after", OpenApiTypes.DATE, description="Published on or after."),
    OpenApiParameter("published_before", OpenApiTypes.DATE, description="Published on or before."),
]

PASSAGE_PARAMETERS = [
    OpenApiParameter(
        "code", int, many=True, description="Code ids (repeat); each includes the codes below it."
    ),
    OpenApiParameter("mode", str, enum=["any", "all"], description="Any of the codes, or all."),
    OpenApiParameter("without", int, many=True, description="Code ids a passage must not carry."),
    OpenApiParameter("coder", str, many=True, description="Usernames of the coders."),
    OpenApiParameter("document", int, description="One document's passages."),
    OpenApiParameter("q", str, description="Text in the quote or the note."),
    OpenApiParameter("coded_after", OpenApiTypes.DATE),
    OpenApiParameter("coded_before", OpenApiTypes.DATE),
    OpenApiParameter("sort", str, enum=["document", "code", "date", "-date"]),
    *_DOCUMENT_PARAMETERS,
]

_PAGE_PARAMETERS = ("page", "page_size")

#: The attribute filters: their names follow from the project's attributes, so the schema
#: describes them in words.
ATTRIBUTE_FILTERS = (
    "The documents' attributes filter too, by slug (GET /api/v1/projects/{id}/attributes/): "
    "attr.<slug>=value for a choice (repeat it for any of several) or a text (equal, case "
    "aside); attr.<slug>.min= and attr.<slug>.max= for a number or a date (YYYY-MM-DD), "
    "inclusive."
)


def _project(request: Request, pk: int) -> Project:
    project: Project = found_or_404(project_get, user=request.user, pk=pk, counts=False)
    if project.locked:  # type: ignore[attr-defined]
        raise exceptions.PermissionDenied("This project requires two-factor authentication.")
    return project


def _checked(form: Any, query: QueryDict, extra: tuple[str, ...] = ()) -> Any:
    """The form's filter, or a 400 naming each bad or unknown parameter."""
    problems: dict[str, list[str]] = {
        name: ["Unknown parameter: see the API documentation."]
        for name in sorted(set(query) - set(form.fields) - set(extra))
    }
    wanted = form.to_filter()
    for name, errs in form.errors.items():
        problems[name if name != "__all__" else "non_field_errors"] = list(errs)
    if problems:
        raise exceptions.ValidationError(problems)
    return wanted


def _page_number(request: Request, name: str, default: int, most: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) < 12) or not 1 <= int(value) <= most:
        raise exceptions.ValidationError({name: [f"Give a whole number from 1 to {most}."]})
    return int(value)


def passage_json(passage: Any) -> dict[str, Any]:
    out = dataclasses.asdict(passage)
    # Its document's attributes as an object: {name: value as text}.
    out["attributes"] = dict(passage.attributes)
    return out


@extend_schema(tags=["research"])
class PassageListView(APIView):
    @extend_schema(
        summary="A project's passages with their citations, as the passages view lists them",
        description=ATTRIBUTE_FILTERS,
        parameters=[
            *PASSAGE_PARAMETERS,
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("page_size", int, description="Passages per page (at most 500)."),
        ],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        project = _project(request, pk)
        form = PassageForm(request.query_params, user=request.user, project=project.pk)
        wanted = _checked(form, request.query_params, _PAGE_PARAMETERS)
        size = _page_number(request, "page_size", 50, 500)
        number = _page_number(request, "page", 1, 10**9)
        start = (number - 1) * size
        # One passage past the page says whether there is a next one.
        passages = selectors.passage_page(
            user=request.user,
            filters=wanted,
            start=start,
            stop=start + size + 1,
            base_url=request.build_absolute_uri("/")[:-1],
        )
        count, more = selectors.passage_count(
            selectors.passage_list(user=request.user, filters=wanted)
        )
        if number > 1 and not passages:
            raise exceptions.NotFound("There are fewer pages: this one is past the last.")
        query = request.query_params.copy()

        def link(to: int) -> str:
            query["page"] = str(to)
            return request.build_absolute_uri(request.path) + "?" + query.urlencode()

        return Response(
            {
                # Counted up to COUNT_LIMIT: beyond, count_exact is false.
                "count": count,
                "count_exact": not more,
                "next": link(number + 1) if len(passages) > size else None,
                "previous": link(number - 1) if number > 1 else None,
                "results": [passage_json(passage) for passage in passages[:size]],
            }
        )


@extend_schema(tags=["research"])
class PassageExportView(APIView):
    @extend_schema(
        summary="A project's passages as a file: CSV, XLSX, DOCX (a report by code) or Markdown",
        description=ATTRIBUTE_FILTERS,
        parameters=PASSAGE_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(400, 401, 404),
        },
    )
    def get(self, request: Request, pk: int, fmt: str) -> HttpResponseBase:
        project = _project(request, pk)
        if fmt not in views.EXPORT_FORMATS:
            raise exceptions.NotFound(
                "Exports are export.csv, export.xlsx, export.docx, export.md."
            )
        form = PassageForm(request.query_params, user=request.user, project=project.pk)
        _checked(form, request.query_params)
        return views.export_response(request, project, fmt, form)


@extend_schema(tags=["research"])
class SearchView(APIView):
    @extend_schema(
        summary="Search a project's documents: the documents that match, each with its hits",
        description=ATTRIBUTE_FILTERS,
        parameters=[
            OpenApiParameter(
                "q",
                str,
                required=True,
                description='Words (all required), "a phrase", -excluded, a OR b, prefix*.',
            ),
            OpenApiParameter("coded", str, enum=["yes", "no"]),
            OpenApiParameter("sort", str, enum=["title", "published", "-published"]),
            OpenApiParameter("offset", int, description="Where the page starts (next_offset)."),
            *_DOCUMENT_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        project = _project(request, pk)
        if not request.query_params.get("q", "").strip():
            raise exceptions.ValidationError({"q": ["Give the words to look for."]})
        form = SearchForm(request.query_params, user=request.user, project=project.pk)
        wanted = _checked(form, request.query_params)
        page = selectors.search(
            user=request.user, filters=wanted, offset=form.cleaned_data.get("offset") or 0
        )
        base = request.build_absolute_uri("/")[:-1]
        return Response(
            {
                "documents": page.documents,
                "next_offset": page.next_offset,
                # Documents just imported whose text is still being indexed: not searched.
                "waiting": page.waiting,
                "results": [
                    {
                        "document": {
                            "id": found.document.pk,
                            "title": found.document.title,
                            "url": base + found.document.get_absolute_url(),
                        },
                        "hits": [
                            {
                                "start": hit.start,
                                "end": hit.end,
                                "text": hit.text,
                                "before": hit.before,
                                "after": hit.after,
                                "coded": hit.coded,
                                "page": hit.page,
                                "url": f"{base}{found.document.get_absolute_url()}"
                                f"#t{hit.start}-{hit.end}",
                            }
                            for hit in found.hits
                        ],
                    }
                    for found in page.results
                ],
            }
        )
