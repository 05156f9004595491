"""The research pages of a project: search, coding search hits, passages and their exports."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from accounts.models import AccessEvent
from accounts.services import access_event
from documents import refusals
from documents import selectors as document_selectors
from documents.shortcuts import found_or_404
from projects.models import Action, Project, may
from projects.selectors import project_get

from . import exports, selectors, services
from .forms import CodeHitsForm, PassageForm, SearchForm
from .models import CodingBatch

#: Hits shown per document on the search page (the rest are counted, and coded with "every
#: hit of the search").
HITS_SHOWN = 10
PASSAGES_PER_PAGE = 50


def _project(request: HttpRequest, pk: int) -> Project:
    """Project `pk` of the user's, or 404; 403 while it waits for a second factor."""
    project: Project = found_or_404(project_get, user=request.user, pk=pk, counts=False)
    if project.locked:  # type: ignore[attr-defined]
        raise PermissionDenied("This project requires two-factor authentication.")
    return project


def _codebook(request: HttpRequest, project: Project) -> list[Any]:
    return list(document_selectors.tag_list(user=request.user, project=project.pk))


# ---------------------------------------------------------------------------------------
# Search


@require_GET
def search(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    form = SearchForm(request.GET or None, user=request.user, project=project.pk)
    wanted = form.to_filter()
    page = None
    if wanted is not None:
        page = selectors.search(
            user=request.user, filters=wanted, offset=form.cleaned_data.get("offset") or 0
        )
    return render(request, "research/search.html", _search_context(request, project, form, page))


def _search_context(
    request: HttpRequest, project: Project, form: SearchForm, page: Any, **extra: Any
) -> dict[str, Any]:
    role = project.role  # type: ignore[attr-defined]
    # What the page was asked for (the search and its filters, never a form's hits or
    # confirmation): the hidden fields of the coding form and the next page's link.
    fields = _search_fields(form.data) if form.is_bound else []
    batches = CodingBatch.objects.filter(
        project=project, created_by_id=request.user.pk, undone_at__isnull=True
    ).select_related("tag")[:5]
    return {
        "project": project,
        "form": form,
        "page": page,
        "hits_shown": HITS_SHOWN,
        "may_code": may(role, Action.ANNOTATE),
        "code_form": CodeHitsForm(codebook=_codebook(request, project)),
        "search_fields": fields,
        "next_url": (
            "?" + urlencode([*fields, ("offset", page.next_offset)])
            if page is not None and page.next_offset is not None
            else ""
        ),
        "batches": batches,
        **extra,
    }


@require_POST
def code_hits(request: HttpRequest, pk: int) -> HttpResponse:
    """Preview, then (with `confirm`) create, the annotations that coding hits makes."""
    project = _project(request, pk)
    search_form = SearchForm(request.POST, user=request.user, project=project.pk)
    codebook = _codebook(request, project)
    form = CodeHitsForm(request.POST, codebook=codebook)
    wanted = search_form.to_filter()
    try:
        if wanted is None:
            raise ValidationError("Search again: the search these hits came from is not valid.")
        if not form.is_valid():
            raise ValidationError([e for errors in form.errors.values() for e in errors])
        hits = form.cleaned_data["hit"]
        if form.cleaned_data["every"]:
            found = selectors.search_hits(
                user=request.user, filters=wanted, limit=services.MAX_BATCH + 1
            )
            hits = [(hit.document_id, hit.start, hit.end) for hit in found]
        tag, scope = form.tag(), form.cleaned_data["scope"]
        if form.cleaned_data["confirm"]:
            batch = services.code_hits(
                user=request.user,  # type: ignore[arg-type]
                project=project.pk,
                tag=tag,
                hits=hits,
                scope=scope,
                query=wanted.query.text,
            )
            count = batch.annotations.count()
            messages.success(
                request,
                f"{count} passage{'s' if count != 1 else ''} coded {tag.name}. "
                "Undo it below if that was not what you meant.",
            )
            return redirect(_search_url(project, request.POST))
        planned = services.plan(
            user=request.user,  # type: ignore[arg-type]
            project=project.pk,
            tag=tag,
            hits=hits,
            scope=scope,
        )
    except ValidationError as exc:
        page = selectors.search(user=request.user, filters=wanted) if wanted else None
        context = _search_context(request, project, search_form, page, errors=refusals.lines(exc))
        return render(request, "research/search.html", context, status=422)
    new = [span for span in planned if not span.exists]
    return render(
        request,
        "research/code_preview.html",
        {
            "project": project,
            "tag": tag,
            "scope": form.cleaned_data["scope"],
            "planned": planned,
            "new": len(new),
            "existing": len(planned) - len(new),
            "hits": [f"{d}:{s}:{e}" for d, s, e in hits],
            "search_fields": _search_fields(request.POST),
            "search_url": _search_url(project, request.POST),
        },
    )


_SEARCH_FIELDS = (
    "q",
    "organisation",
    "language",
    "document_type",
    "published_after",
    "published_before",
    "coded",
    "sort",
)


def _search_fields(data: Any) -> list[tuple[str, str]]:
    # The attribute filters (attr.<slug>…) come after the fixed ones; a choice may repeat.
    names = [*_SEARCH_FIELDS, *sorted(name for name in data if name.startswith("attr."))]
    return [(name, value) for name in names for value in data.getlist(name) if value]


def _search_url(project: Project, data: Any) -> str:
    return reverse("research:search", args=[project.pk]) + "?" + urlencode(_search_fields(data))


@require_POST
def batch_undo(request: HttpRequest, pk: int, batch: int) -> HttpResponse:
    project = _project(request, pk)
    found = CodingBatch.objects.filter(project=project, pk=batch).select_related("tag").first()
    if found is None:
        raise Http404("No such coding batch in this project.")
    try:
        deleted, kept = services.batch_undo(
            user=request.user,  # type: ignore[arg-type]
            batch=found,
        )
    except ValidationError as exc:
        for line in refusals.lines(exc):
            messages.error(request, line)
    else:
        note = f" {kept} changed since were kept." if kept else ""
        messages.success(
            request, f"Undone: {deleted} passage{'s' if deleted != 1 else ''} uncoded.{note}"
        )
    target = request.POST.get("next", "")
    search_page = reverse("research:search", args=[project.pk])
    if not (target == search_page or target.startswith(search_page + "?")):
        target = search_page
    return redirect(target)


# ---------------------------------------------------------------------------------------
# Passages


@require_GET
def passages(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    form = PassageForm(request.GET, user=request.user, project=project.pk)
    wanted = form.to_filter()
    page = None
    shown: list[exports.Passage] = []
    if wanted is not None:
        number = _page_number(request.GET.get("page"))
        start = (number - 1) * PASSAGES_PER_PAGE
        # One passage past the page says whether there is a next one.
        shown = selectors.passage_page(
            user=request.user,
            filters=wanted,
            start=start,
            stop=start + PASSAGES_PER_PAGE + 1,
            base_url=request.build_absolute_uri("/")[:-1],
        )
        has_next = len(shown) > PASSAGES_PER_PAGE
        # The last page (the first too, when it is the only one) says how many there are;
        # any other page is answered at once and counts them in a request of its own
        # (passages_count), as counting up to COUNT_LIMIT reads up to that many passages.
        last = not has_next and (shown or number == 1)
        counted = Counted(start + len(shown), False) if last else None
        page = PassagePage(number, counted, has_next, start + 1)
        shown = shown[:PASSAGES_PER_PAGE]
    return render(
        request,
        "research/passages.html",
        {
            "project": project,
            "form": form,
            "page": page,
            "passages": shown,
            "chosen": form.chosen_codes(),
            "query": _without_page(request),
            "formats": EXPORT_FORMATS,
        },
    )


@require_GET
def passages_count(request: HttpRequest, pk: int) -> HttpResponse:
    """How many passages the passages view's filters match (up to
    selectors.COUNT_LIMIT), which its page loads after showing the passages."""
    project = _project(request, pk)
    form = PassageForm(request.GET, user=request.user, project=project.pk)
    wanted = form.to_filter()
    if wanted is None:
        return _invalid_filters(form)
    counted = Counted(
        *selectors.passage_count(selectors.passage_list(user=request.user, filters=wanted))
    )
    # The part that htmx puts in the page, or a page of its own without JavaScript.
    template = "research/passages_count.html" if request.htmx else "research/passages_counted.html"  # type: ignore[attr-defined]
    context = {"project": project, "counted": counted, "query": _without_page(request)}
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _without_page(request: HttpRequest) -> str:
    """The passages view's filters as a query string, for its other pages and files."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _invalid_filters(form: PassageForm) -> HttpResponse:
    """What a count or an export answers to filters that are not valid."""
    errors = " ".join(str(e) for errs in form.errors.values() for e in errs)
    return HttpResponse(
        f"The filters are not valid: {errors}\n",
        status=400,
        content_type="text/plain; charset=utf-8",
    )


@dataclass(frozen=True)
class Counted:
    #: Passages that match, counted up to selectors.COUNT_LIMIT ...
    count: int
    #: ... and whether there are more.
    more: bool

    @property
    def pages(self) -> int | None:
        """How many pages, when the count is exact."""
        return None if self.more else max(1, -(-self.count // PASSAGES_PER_PAGE))


@dataclass(frozen=True)
class PassagePage:
    number: int
    #: None until counted (passages_count).
    counted: Counted | None
    has_next: bool
    start_index: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _page_number(value: str | None) -> int:
    """A page number from the query string; a bad one is the first page."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 9:
        return 1
    return max(1, int(value))


EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "CSV"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word report",
    ),
    "md": ("text/markdown; charset=utf-8", "Markdown"),
}


@require_GET
def passages_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponseBase:
    """The passages view as a file: the same filters, every page."""
    project = _project(request, pk)
    if fmt not in EXPORT_FORMATS:
        raise Http404("Exports are CSV, XLSX, DOCX or Markdown (md).")
    form = PassageForm(request.GET, user=request.user, project=project.pk)
    if form.to_filter() is None:
        return _invalid_filters(form)
    return export_response(request, project, fmt, form)


def export_response(
    request: Any, project: Project, fmt: str, form: PassageForm
) -> HttpResponseBase:
    """The passages of a valid `form` as a file of format `fmt`, logged in the access log:
    for the page's links and the API alike."""
    wanted = form.to_filter()
    assert wanted is not None
    stamp = datetime.date.today().isoformat()
    filename = f"passages-project-{project.pk}-{stamp}.{fmt}"
    access_event(
        kind=AccessEvent.Kind.EXPORT,
        request=request,
        detail={"file": filename, "query": request.GET.urlencode()[:1000]},
        project_id=project.pk,
    )
    base_url = request.build_absolute_uri("/")[:-1]
    title = f"Passages of {project.name}"
    description = describe(form)

    def all_passages() -> Iterator[exports.Passage]:
        for batch in selectors.passage_batches(
            user=request.user, filters=wanted, base_url=base_url
        ):
            yield from batch

    content_type = EXPORT_FORMATS[fmt][0]
    attributes = [attribute.name for attribute in form.attributes]
    if fmt == "csv":
        response: HttpResponseBase = StreamingHttpResponse(
            exports.csv_chunks(all_passages(), attributes=attributes), content_type=content_type
        )
    elif fmt == "xlsx":
        response = FileResponse(
            exports.xlsx_file(
                all_passages(), title=title, description=description, attributes=attributes
            ),
            content_type=content_type,
        )
    else:
        groups = _groups(request, form, wanted, base_url)
        if fmt == "md":
            response = StreamingHttpResponse(
                exports.markdown_chunks(groups, title=title, description=description),
                content_type=content_type,
            )
        else:
            response = FileResponse(
                exports.docx_file(groups, title=title, description=description),
                content_type=content_type,
            )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _groups(
    request: HttpRequest, form: PassageForm, wanted: selectors.PassageFilter, base_url: str
) -> Iterator[exports.CodeGroup]:
    """The report's sections: one per code asked for (each with the codes below it), or per
    code of the codebook when none was; each section's passages read when it is written."""

    def of(filters: selectors.PassageFilter) -> Iterator[exports.Passage]:
        for batch in selectors.passage_batches(
            user=request.user, filters=filters, base_url=base_url
        ):
            yield from batch

    chosen = form.chosen_codes()
    if chosen and wanted.mode == "all":
        # Passages with every one of the codes: one section, as the page lists them.
        names = " and ".join(code.name for code in chosen)
        yield exports.CodeGroup(code=names, definition="", passages=of(wanted))
        return
    # Retired codes too: their passages are in the CSV and must be in the report.
    # A section holds one code's passages: sorted by code, they are in document order (and
    # would be read code by code, each section once for every code of the codebook).
    sort = "document" if wanted.sort == "code" else wanted.sort
    for code in chosen or form.codebook:
        one = dataclasses.replace(wanted, codes=(code.pk,), mode="any", sort=sort)
        yield exports.CodeGroup(code=code.name, definition=code.definition, passages=of(one))


def describe(form: PassageForm) -> str:
    """The filters in words, for the head of a report."""
    if not form.is_valid():
        return ""
    data = form.cleaned_data
    parts = []
    names = {tag.pk: tag.name for tag in form.codebook}
    if data.get("code"):
        joined = (" and " if data.get("mode") == "all" else " or ").join(
            names.get(pk, "?") for pk in data["code"]
        )
        parts.append(f"coded {joined}")
    if data.get("without"):
        parts.append("not coded " + " or ".join(names.get(pk, "?") for pk in data["without"]))
    if data.get("coder"):
        parts.append("by " + ", ".join(data["coder"]))
    for name, label in (
        ("organisation", "published by"),
        ("language", "in language"),
        ("document_type", "of type"),
        ("published_after", "published from"),
        ("published_before", "published until"),
        ("coded_after", "coded from"),
        ("coded_before", "coded until"),
        ("q", "containing"),
    ):
        if data.get(name):
            parts.append(f"{label} {data[name]}")
    parts += form.attribute_descriptions()
    return ("Passages " + "; ".join(parts) + ".") if parts else "Every passage of the project."
