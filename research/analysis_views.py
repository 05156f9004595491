"""The pages that compare codes: matrix, co-occurrence, timeline; each also as CSV and SVG."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from accounts.models import AccessEvent
from accounts.services import access_event
from documents.exports import neutralise
from documents.models import MAX_ID, Activity, SharedVersion

from . import analysis, charts
from .forms import PassageForm
from .selectors import PassageFilter
from .views import _project

FORMATS = {"csv": "text/csv; charset=utf-8", "svg": "image/svg+xml"}

#: The passages view's filters that an analysis keeps (its codes are the rows).
_KEPT = (
    "coder",
    "organisation",
    "language",
    "document_type",
    "published_after",
    "published_before",
    "coded_after",
    "coded_before",
    "q",
)


def _filters(request: HttpRequest, project: Any) -> tuple[PassageForm, PassageFilter | None]:
    form = PassageForm(request.GET, user=request.user, project=project.pk)
    return form, form.to_filter()


def _kept_query(request: HttpRequest) -> list[tuple[str, str]]:
    """The filters of this page that the passages view takes, for the cells' links."""
    return [(name, value) for name in _KEPT for value in request.GET.getlist(name) if value]


def _file(request: HttpRequest, project: Any, content: str, fmt: str, name: str) -> HttpResponse:
    """A download of an analysis, recorded in the access log as every export is."""
    access_event(
        kind=AccessEvent.Kind.EXPORT,
        request=request,
        detail={"file": f"{name}.{fmt}", "query": request.GET.urlencode()[:1000]},
        project_id=project.pk,
    )
    response = HttpResponse(content, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([neutralise(cell) if isinstance(cell, str) else cell for cell in row])
    # A byte-order mark, so that spreadsheets read the codes' scripts right.
    return "\ufeff" + out.getvalue()


#: How long a computed analysis is kept. Its key names the newest row of the activity log:
#: every change to what it counts writes one, so the next read computes afresh. Ids are
#: handed out before commit, though: a long write (a large batch of coded hits) can commit
#: after a later, shorter one, and an analysis read in between is kept under the shorter
#: one's id without the long one's rows. Kept briefly, so that such a miss lasts minutes.
ANALYSIS_CACHE_SECONDS = 300


def _kept(kind: str, wanted: PassageFilter, compute: Callable[[], Any]) -> Any:
    """An analysis of a project as computed for these filters, kept in the cache until
    research data changes anywhere (the newest activity row: one read of the log's primary
    key). Called after the user's access to the project was checked: the result is the
    same for every member who may read the project."""
    newest = Activity.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # A database made anew (ids counted from 1 again) has another shared version.
    shared = SharedVersion.objects.filter(pk=SharedVersion.ROW).values_list("token", flat=True)
    digest = hashlib.sha256(repr(wanted).encode()).hexdigest()[:32]
    key = f"analysis:{kind}:{wanted.project}:{newest}.{shared.first()}:{digest}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, ANALYSIS_CACHE_SECONDS)
    return found


def _check_format(fmt: str | None) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise Http404("Charts download as .csv (the data) or .svg (the chart).")


def _invalid(request: HttpRequest, project: Any, form: PassageForm, template: str) -> HttpResponse:
    return render(request, template, {"project": project, "form": form}, status=400)


@require_GET
def matrix(request: HttpRequest, pk: int, fmt: str | None = None) -> HttpResponse:
    project = _project(request, pk)
    _check_format(fmt)
    by = request.GET.get("by", "organisation")
    try:
        attribute = analysis.attribute_of(by, project.pk)
    except ValueError:
        raise Http404(
            f"Matrices are by {', '.join(analysis.DIMENSIONS)} or attr.<slug> of an attribute."
        ) from None
    if attribute is None and by not in analysis.DIMENSIONS:
        raise Http404(f"Matrices are by: {', '.join(analysis.DIMENSIONS)}.")
    form, wanted = _filters(request, project)
    if wanted is None:
        return _invalid(request, project, form, "research/matrix.html")
    # The page holds COLUMNS_SHOWN columns at a time (a matrix by document has one for each
    # of thousands) and computes just those; the downloads hold them all.
    first = None if fmt else _columns_from(request)
    window = None if first is None else slice(first, first + COLUMNS_SHOWN)

    def compute() -> analysis.Matrix:
        found = analysis.code_matrix(user=request.user, filters=wanted, dimension=by, window=window)
        if window is not None and not found.columns and found.column_count:
            # Past the last column (an old link): the first page instead.
            found = analysis.code_matrix(
                user=request.user, filters=wanted, dimension=by, window=slice(0, COLUMNS_SHOWN)
            )
        return found

    found = _kept(f"matrix-{by}-{first}", wanted, compute)
    label = attribute.name if attribute is not None else analysis.DIMENSIONS[by]
    title = f"Passages per code and {label.lower()}: {project.name}"
    if fmt == "csv":
        rows: list[list[Any]] = [["code", *[name for _, name in found.columns], "total"]]
        rows += [[row.tag.name, *row.cells, row.total] for row in found.rows]
        rows.append(["passages (each once)", *found.totals, sum(found.totals)])
        return _file(request, project, _csv(rows), fmt, f"matrix-{by}-project-{project.pk}")
    if fmt == "svg":
        svg = charts.grid_svg(
            title=title,
            rows=[(row.tag.name, row.depth, row.cells) for row in found.rows],
            columns=[name for _, name in found.columns],
            most=found.most,
        )
        return _file(request, project, svg, fmt, f"matrix-{by}-project-{project.pk}")
    kept = _kept_query(request)
    passages = reverse("research:passages", args=[project.pk])
    first = found.first
    columns = found.columns
    links = [
        [_cell_link(passages, row.tag.pk, kept, by, value, attribute) for value, _ in columns]
        for row in found.rows
    ]
    return render(
        request,
        "research/matrix.html",
        {
            "project": project,
            "form": form,
            "matrix": found,
            "by": by,
            "dimensions": {
                **analysis.DIMENSIONS,
                **{f"attr.{a.slug}": a.name for a in form.attributes},
            },
            "label": label,
            "rows": [
                (
                    row,
                    [
                        (count, link, _level(count, found.most), name)
                        for count, link, (_, name) in zip(
                            row.cells, row_links, columns, strict=True
                        )
                    ],
                )
                for row, row_links in zip(found.rows, links, strict=True)
            ],
            "query": urlencode([("by", by), *kept]),
            "columns": columns,
            "column_totals": found.totals,
            "first_column": first + 1,
            "last_column": first + len(columns),
            "previous_columns": _columns_url(by, kept, first - COLUMNS_SHOWN) if first else "",
            "next_columns": (
                _columns_url(by, kept, first + COLUMNS_SHOWN)
                if first + COLUMNS_SHOWN < found.column_count
                else ""
            ),
        },
    )


#: Columns of a matrix on one page.
COLUMNS_SHOWN = 100


def _columns_from(request: HttpRequest) -> int:
    """The first column shown (`columns`, from 0, a multiple of COLUMNS_SHOWN): 0 when
    absent or not a number of 0 or more."""
    text = request.GET.get("columns", "0").strip()
    # Past MAX_ID no project has a column; such a number is read as the first page, which
    # also keeps it short in the cache key.
    if not (text.isascii() and text.isdecimal()) or len(text) > len(str(MAX_ID)):
        return 0
    first = int(text)
    if first > MAX_ID:
        return 0
    return first - first % COLUMNS_SHOWN


def _columns_url(by: str, kept: list[tuple[str, str]], first: int) -> str:
    return "?" + urlencode([("by", by), *kept, ("columns", max(first, 0))])


def _cell_link(
    passages: str,
    code: int,
    kept: list[tuple[str, str]],
    by: str,
    value: str,
    attribute: Any,
) -> str:
    """The passages view of one cell: the page's filters with the column's value in place
    of any filter on the same field (and the narrower of two date ranges). A cell of
    passages without a value ("(none)") links nowhere: the view cannot ask for "no value"."""
    cell = analysis.cell_filter(by, value, attribute)
    if not cell:
        return ""
    query = [(name, kept_value) for name, kept_value in kept if name not in cell]
    for name, cell_value in cell.items():
        kept_values = [v for n, v in kept if n == name]
        if kept_values and name.endswith(("_after", ".min")):
            cell_value = max(cell_value, *kept_values)
        elif kept_values and name.endswith(("_before", ".max")):
            cell_value = min(cell_value, *kept_values)
        query.append((name, cell_value))
    return f"{passages}?" + urlencode([("code", code), *query])


def _level(count: int, most: int) -> int:
    """The shade class (0-5) of a cell: its count says the same in figures."""
    if not count or not most:
        return 0
    return 1 + min(4, (count * 5 - 1) // most)


@require_GET
def cooccurrence(request: HttpRequest, pk: int, fmt: str | None = None) -> HttpResponse:
    project = _project(request, pk)
    _check_format(fmt)
    form, wanted = _filters(request, project)
    if wanted is None:
        return _invalid(request, project, form, "research/cooccurrence.html")
    found = _kept(
        "cooccurrence", wanted, lambda: analysis.cooccurrence(user=request.user, filters=wanted)
    )
    codes = found.codes
    grid = [[found.counts.get(a.pk, {}).get(b.pk, 0) for b, _ in codes] for a, _ in codes]
    title = f"Codes on overlapping passages: {project.name}"
    if fmt == "csv":
        table: list[list[Any]] = [["code", *[tag.name for tag, _ in codes]]]
        table += [[tag.name, *cells] for (tag, _), cells in zip(codes, grid, strict=True)]
        return _file(request, project, _csv(table), fmt, f"cooccurrence-project-{project.pk}")
    if fmt == "svg":
        svg = charts.grid_svg(
            title=title,
            rows=[
                (tag.name, depth, cells) for (tag, depth), cells in zip(codes, grid, strict=True)
            ],
            columns=[tag.name for tag, _ in codes],
            most=found.most,
        )
        return _file(request, project, svg, fmt, f"cooccurrence-project-{project.pk}")
    kept = _kept_query(request)
    passages = reverse("research:passages", args=[project.pk])
    rows = []
    for (tag, depth), cells in zip(codes, grid, strict=True):
        shown = []
        for (other, _), count in zip(codes, cells, strict=True):
            # The passages coded with both; overlaps of two passages are counted here but
            # listed under either code.
            link = f"{passages}?" + urlencode(
                [("code", tag.pk), ("code", other.pk), ("mode", "all"), *kept]
            )
            shown.append((count, link, _level(count, found.most), other == tag))
        rows.append((tag, depth, shown))
    return render(
        request,
        "research/cooccurrence.html",
        {"project": project, "form": form, "codes": codes, "rows": rows, "query": urlencode(kept)},
    )


@require_GET
def timeline(request: HttpRequest, pk: int, fmt: str | None = None) -> HttpResponse:
    project = _project(request, pk)
    _check_format(fmt)
    form, wanted = _filters(request, project)
    if wanted is None:
        return _invalid(request, project, form, "research/timeline.html")
    found = _kept("timeline", wanted, lambda: analysis.timeline(user=request.user, filters=wanted))
    title = f"Passages per code by year of publication: {project.name}"
    if fmt == "csv":
        rows: list[list[Any]] = [["code", *found.years, "total"]]
        rows += [[row.tag.name, *row.cells, row.total] for row in found.rows]
        return _file(request, project, _csv(rows), fmt, f"timeline-project-{project.pk}")
    svg = charts.timeline_svg(
        title=title,
        years=found.years,
        rows=[(row.tag.name, row.depth, row.cells) for row in found.rows],
        most=found.most,
    )
    if fmt == "svg":
        return _file(request, project, svg, fmt, f"timeline-project-{project.pk}")
    kept = _kept_query(request)
    return render(
        request,
        "research/timeline.html",
        # Built from escaped text only (research/charts.py).
        {
            "project": project,
            "form": form,
            "timeline": found,
            "svg": mark_safe(svg),  # noqa: S308
            "query": urlencode(kept),
        },
    )
