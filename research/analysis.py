"""Reads that compare codes: a code × dimension matrix, the co-occurrence of codes, and a
timeline of codes by publication date.

Counts are of live passages (annotations) of one project. A code counts the passages
carrying it or any code below it, as the passages view does, so that each count is the
length of the list its cell links to.

Filtered by documents and coders, a comparison adds up the documents' kept summaries
(research/summaries.py); filtered by the passages' own dates or text, it counts the
passages that pass (`_live_matrix`, `_live_cooccurrence`). Both count the same way, which
tests/test_research_analysis.py checks.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import ExtractYear

from documents.models import (
    Annotation,
    Attribute,
    AttributeKind,
    AttributeValue,
    DocumentType,
    Tag,
    tag_descendant_ids,
)
from documents.selectors import DocumentFilter, document_list, tag_list

from .models import CodeCount, CodePair
from .selectors import PassageFilter, passage_list
from .summaries import (
    Counts,
    Passage,
    count_overlaps,
    make_current,
    passages_in_text_order,
)

#: What a matrix's columns can be: a document field (or the coder), its label, and how a
#: cell's value becomes the passages view's filter.
DIMENSIONS: dict[str, str] = {
    "organisation": "Organisation",
    "document": "Document",
    "language": "Language",
    "document_type": "Type",
    "year": "Year of publication",
    "coder": "Coder",
}


@dataclass
class Row:
    tag: Tag
    depth: int
    cells: list[int] = field(default_factory=list)
    total: int = 0


@dataclass
class Matrix:
    dimension: str
    #: (value as the filter takes it, label), of the columns held (see `first`)
    columns: list[tuple[str, str]]
    #: Their cells; each row's total is over every column, held or not.
    rows: list[Row]
    #: The most passages in one cell held (for shading).
    most: int
    #: Passages per column held (each passage once, whatever its codes).
    totals: list[int]
    #: How many columns there are in all, and the index of the first one held: a matrix
    #: asked for a window of its columns holds just those.
    column_count: int = 0
    first: int = 0


def _links(user: Any, filters: PassageFilter) -> QuerySet[Any]:
    """The (annotation, tag) links of the passages that pass `filters` (codes aside)."""
    passages = passage_list(user=user, filters=filters).order_by()
    return Annotation.tags.through.objects.filter(annotation_id__in=passages.values("pk"))


def _codebook(user: Any, project: int) -> list[tuple[Tag, int]]:
    """The project's codes in tree order (each after its parent), with their depth."""
    tags = list(tag_list(user=user, project=project).order_by("sort_order", "name"))
    children: dict[int | None, list[Tag]] = defaultdict(list)
    for tag in tags:
        children[tag.parent_id].append(tag)
    ordered: list[tuple[Tag, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for tag in children.get(parent, []):
            ordered.append((tag, depth))
            walk(tag.pk, depth + 1)

    walk(None, 0)
    return ordered


def code_matrix(
    *, user: Any, filters: PassageFilter, dimension: str, window: slice | None = None
) -> Matrix:
    """Passages per code and value of `dimension`, for the passages that pass `filters`
    (codes in `filters` are ignored: every code is a row). `window`, a slice of the
    columns in their order, holds just those (a page of a matrix by document, which has a
    column for each of thousands of documents); None, all of them."""
    filters = dataclasses.replace(filters, codes=(), without=(), mode="any")
    window = window or slice(None)
    if _by_documents(filters) and _counts_current(user, filters):
        return _summed_matrix(user, filters, dimension, window)
    return _live_matrix(user, filters, dimension, window)


def _by_documents(filters: PassageFilter) -> bool:
    """Whether the documents' summaries answer `filters`: they count by document and by
    coder, not by the passages' dates or text."""
    return not filters.q and filters.coded_after is None and filters.coded_before is None


#: At most this many documents' counts are made again while a comparison waits (about
#: 4-8 ms each at a million passages). More (a change to the codebook's tree makes every
#: document's counts again: 43-80 s at 10,000 documents), and the comparison is counted
#: from the passages themselves (3-9 s there) while the background worker makes them.
RECOUNT_NOW = 250


def _counts_current(user: Any, filters: PassageFilter) -> bool:
    """Whether the kept counts of the documents that `filters` compare are current, made
    so here if few are not (three queries when all are: the documents' versions, the
    codes' tree, the versions kept). Without a background worker (BACKGROUND_TASKS off)
    they are always made here, however many."""
    versions = list(_documents(user, filters).values_list("pk", "annotations_version").order_by())
    if not settings.BACKGROUND_TASKS:
        make_current(versions, project=filters.project)
        return True
    if make_current(versions, project=filters.project, limit=RECOUNT_NOW) is not None:
        return True
    from .tasks import queue_recount

    queue_recount(filters.project)
    return False


def _summed_matrix(user: Any, filters: PassageFilter, dimension: str, window: slice) -> Matrix:
    """code_matrix from the documents' kept counts (made current by `_counts_current`),
    summed by the database: two queries (the codebook, the sums); by document, a window of
    the columns takes two more (the columns' totals, the rows' totals) and sums the
    window's documents only."""
    codebook = _codebook(user, filters.project)
    documents = _documents(user, filters)
    kept = CodeCount.objects.filter(document__in=documents.values("pk"))
    if dimension == "coder":
        kept = kept.filter(everyone=False)
        column: Any = F("coder__username")
    else:
        attribute = attribute_of(dimension, filters.project)
        if attribute is not None:
            # Joined once (a document has at most one value of an attribute) rather than a
            # subquery for each of the ~100,000 counts.
            kept = kept.annotate(
                attribute_value=FilteredRelation(
                    "document__attribute_values",
                    condition=Q(document__attribute_values__attribute_id=attribute.pk),
                )
            )
            column = F(f"attribute_value__{_ATTRIBUTE_COLUMN[attribute.kind]}")
            if attribute.kind == AttributeKind.DATE:
                column = ExtractYear(column)
        else:
            column = _column(dimension, filters.project, "")
        kept = kept.filter(everyone=True) if not filters.coders else kept.filter(everyone=False)
    if filters.coders:
        kept = kept.filter(coder__username__in=filters.coders)
    row_totals = None
    if dimension == "document" and window != slice(None):
        # Every document's total picks the window's documents; their counts alone are
        # summed (about 1,400 rows for 100 documents rather than 140,000 for 10,000).
        by_document = (
            kept.filter(tag__isnull=True)
            .values("document_id")
            .annotate(n=Sum("passages"))
            .order_by()
            .values_list("document_id", "n")
        )
        all_totals = {value: n for value, n in by_document if n}
        shown = sorted(all_totals, key=_sort_key)[window]
        row_totals = dict(
            kept.filter(tag__isnull=False)
            .values("tag_id")
            .annotate(n=Sum("passages"))
            .order_by()
            .values_list("tag_id", "n")
        )
        kept = kept.filter(document_id__in=shown)
    sums = (
        kept.annotate(value=column)
        .values("tag_id", "value")
        .annotate(n=Sum("passages"))
        .order_by()
        .values_list("tag_id", "value", "n")
    )
    counts: dict[int, dict[Any, int]] = defaultdict(dict)
    column_totals: dict[Any, int] = {}
    for tag, value, n in sums:
        if tag is None:
            column_totals[value] = n
        else:
            counts[tag][value] = n
    if row_totals is not None:
        return _matrix(
            dimension,
            filters.project,
            codebook,
            counts,
            all_totals,
            window,
            row_totals=row_totals,
        )
    return _matrix(dimension, filters.project, codebook, counts, column_totals, window)


def _documents(user: Any, filters: PassageFilter) -> Any:
    documents = document_list(
        user=user,
        filters=DocumentFilter(
            project=filters.project,
            organisation=filters.organisation,
            language=filters.language,
            document_type=filters.document_type,
            published_after=filters.published_after,
            published_before=filters.published_before,
            attributes=filters.attributes,
        ),
    ).order_by()
    if filters.document is not None:
        documents = documents.filter(pk=filters.document)
    return documents


def _live_matrix(user: Any, filters: PassageFilter, dimension: str, window: slice) -> Matrix:
    """code_matrix from the passages themselves: one query for the codes without children,
    one per code with children (its passages counted once each)."""
    column = _column(dimension, filters.project, "annotation__")
    codebook = _codebook(user, filters.project)
    links = _links(user, filters)
    counts: dict[int, dict[Any, int]] = defaultdict(dict)
    direct = links.annotate(value=column).values("tag_id", "value").annotate(n=Count("pk"))
    for row in direct.order_by():
        counts[row["tag_id"]][row["value"]] = row["n"]
    all_tags = [tag for tag, _ in codebook]
    for tag, _ in codebook:
        below = tag_descendant_ids(all_tags, {tag.pk})
        if len(below) > 1:
            grouped = (
                links.filter(tag_id__in=below)
                .annotate(value=column)
                .values("value")
                .annotate(n=Count("annotation_id", distinct=True))
                .order_by()
            )
            counts[tag.pk] = {row["value"]: row["n"] for row in grouped}
    per_column = (
        passage_list(user=user, filters=filters)
        .order_by()
        .annotate(value=_column(dimension, filters.project, ""))
        .values("value")
        .annotate(n=Count("pk"))
    )
    column_totals = {row["value"]: row["n"] for row in per_column}
    return _matrix(dimension, filters.project, codebook, counts, column_totals, window)


def _plain_numbers(cells: dict[Any, int]) -> dict[Any, int]:
    plain: dict[Any, int] = {}
    for value, n in cells.items():
        if isinstance(value, Decimal):
            value = value.normalize() + 0  # + 0 turns 1E+1 back into 10
        plain[value] = plain.get(value, 0) + n
    return plain


def _matrix(
    dimension: str,
    project: int,
    codebook: list[tuple[Tag, int]],
    counts: dict[int, dict[Any, int]],
    column_totals: dict[Any, int],
    window: slice,
    *,
    row_totals: dict[int, int] | None = None,
) -> Matrix:
    """The matrix of `counts` (by code, then value), with the columns of `window` of
    those in `column_totals`. `row_totals`, when `counts` holds the window's columns only:
    each code's total over all of them (else summed from `counts`)."""
    # A column for each value some passage has; none for a value without passages.
    column_totals = {value: n for value, n in column_totals.items() if n}
    if any(isinstance(value, Decimal) for value in column_totals):
        # A number attribute's values as written (2, not 2.0000: SQLite gives either).
        counts = {tag: _plain_numbers(cells) for tag, cells in counts.items()}
        column_totals = _plain_numbers(column_totals)
    every = sorted(column_totals, key=_sort_key)
    values = every[window]
    labels = _labels(dimension, values, project)
    rows = []
    most = 0
    for tag, depth in codebook:
        cells = [counts.get(tag.pk, {}).get(value, 0) for value in values]
        most = max([most, *cells])
        if row_totals is not None:
            total = row_totals.get(tag.pk, 0)
        else:
            total = sum(counts.get(tag.pk, {}).values())
        rows.append(Row(tag, depth, cells, total))
    columns = [(_filter_value(value), labels[value]) for value in values]
    first = range(len(every))[window].start if values else 0
    return Matrix(
        dimension,
        columns,
        rows,
        most,
        [column_totals[v] for v in values],
        column_count=len(every),
        first=first,
    )


def attribute_of(dimension: str, project: int) -> Attribute | None:
    """The attribute a dimension `attr.<slug>` names, in the project; None for a document
    field."""
    if not dimension.startswith("attr."):
        return None
    found = Attribute.objects.filter(project_id=project, slug=dimension[5:]).first()
    if found is None:
        raise ValueError(f"No dimension {dimension!r}.")
    return found


def _column(dimension: str, project: int, prefix: str, *, document: bool = False) -> Any:
    """The value a passage has in `dimension`, from a query of links (prefix
    "annotation__") or of annotations (prefix ""); or a document's, from a query of
    documents (`document`)."""
    document_id = "pk" if document else f"{prefix}document_id"
    field_prefix = "" if document else f"{prefix}document__"
    attribute = attribute_of(dimension, project)
    if attribute is not None:
        # A date attribute is compared by year, as publication dates are.
        value = AttributeValue.objects.filter(
            document_id=OuterRef(document_id), attribute_id=attribute.pk
        ).values(_ATTRIBUTE_COLUMN[attribute.kind])[:1]
        if attribute.kind == AttributeKind.DATE:
            return ExtractYear(Subquery(value))
        return Subquery(value)
    if dimension not in DIMENSIONS or (document and dimension == "coder"):
        raise ValueError(f"No dimension {dimension!r}.")
    if dimension == "year":
        return ExtractYear(f"{field_prefix}published")
    if dimension == "document":
        return F(document_id)
    if dimension == "coder":
        return F(f"{prefix}author__username")
    return F(field_prefix + dimension)


_ATTRIBUTE_COLUMN: dict[str, str] = {
    AttributeKind.TEXT: "value_text",
    AttributeKind.CHOICE: "value_text",
    AttributeKind.NUMBER: "value_number",
    AttributeKind.DATE: "value_date",
}


def _sort_key(value: Any) -> tuple[int, Any]:
    # Unknown (empty, no date) last.
    return (1, "") if value in (None, "") else (0, value)


def _filter_value(value: Any) -> str:
    return "" if value is None else str(value)


def _labels(dimension: str, values: Iterable[Any], project: int) -> dict[Any, str]:
    values = list(values)
    if dimension == "document":
        from documents.models import Document

        titles = dict(
            Document.objects.filter(pk__in=[v for v in values if v is not None]).values_list(
                "pk", "title"
            )
        )
        return {value: titles.get(value, f"#{value}") for value in values}
    if dimension == "document_type":
        names = dict(DocumentType.choices)
        return {value: names.get(value, value) for value in values}
    return {value: ("(none)" if value in (None, "") else str(value)) for value in values}


def cell_filter(dimension: str, value: str, attribute: Attribute | None = None) -> dict[str, str]:
    """The passages view's query for one column's value."""
    if attribute is not None:
        if not value:
            return {}
        if attribute.kind == AttributeKind.DATE:
            return {f"{dimension}.min": f"{value}-01-01", f"{dimension}.max": f"{value}-12-31"}
        if attribute.kind == AttributeKind.NUMBER:
            return {f"{dimension}.min": value, f"{dimension}.max": value}
        return {dimension: value}
    if dimension == "year":
        if not value:
            return {}
        return {"published_after": f"{value}-01-01", "published_before": f"{value}-12-31"}
    if dimension == "coder":
        return {"coder": value}
    return {dimension: value}


# ---------------------------------------------------------------------------------------
# Co-occurrence


@dataclass
class Cooccurrence:
    codes: list[tuple[Tag, int]]
    #: counts[a][b]: overlaps of a passage coded a with one coded b (a passage coded with
    #: both counts once); counts[a][a]: passages coded a.
    counts: dict[int, dict[int, int]]
    most: int


def cooccurrence(*, user: Any, filters: PassageFilter) -> Cooccurrence:
    """How often each two codes are applied to overlapping passages (or to the same one):
    the documents' summaries added up, or, filtered by coders or by the passages' dates or
    text, the passages that pass swept in one streamed query."""
    filters = dataclasses.replace(filters, codes=(), without=(), mode="any")
    codebook = _codebook(user, filters.project)
    if _by_documents(filters) and not filters.coders and _counts_current(user, filters):
        counts = _summed_pairs(user, filters)
    else:
        counts = _live_pairs(user, filters)
    most = max((n for row in counts.values() for n in row.values()), default=0)
    return Cooccurrence(codebook, counts, most)


def _summed_pairs(user: Any, filters: PassageFilter) -> Counts:
    documents = _documents(user, filters)
    sums = (
        CodePair.objects.filter(document__in=documents.values("pk"))
        .values("a_id", "b_id")
        .annotate(n=Sum("overlaps"))
        .order_by()
        .values_list("a_id", "b_id", "n")
    )
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    for a, b, n in sums:
        counts[a][b] = n
    return dict(counts)


def _live_pairs(user: Any, filters: PassageFilter) -> Counts:
    links = (
        _links(user, filters)
        .order_by("annotation__document_id", "annotation__start", "annotation_id")
        .values_list(
            "annotation_id",
            "annotation__document_id",
            "annotation__author_id",
            "annotation__start",
            "annotation__end",
            "tag_id",
        )
    )
    counts: defaultdict[int, defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))
    passages: Iterator[Passage] = passages_in_text_order(links.iterator(chunk_size=10000))
    count_overlaps(passages, lambda _: counts)
    return {a: dict(row) for a, row in counts.items()}


# ---------------------------------------------------------------------------------------
# Timeline


@dataclass
class Timeline:
    years: list[int]
    rows: list[Row]
    most: int
    #: Passages whose document has no publication date.
    undated: int


def timeline(*, user: Any, filters: PassageFilter) -> Timeline:
    """Passages per code and year of their document's publication (a code with the codes
    below it), every year from the first to the last shown."""
    matrix = code_matrix(user=user, filters=filters, dimension="year")
    dated = [(int(value), i) for i, (value, _) in enumerate(matrix.columns) if value]
    undated_index = next((i for i, (value, _) in enumerate(matrix.columns) if not value), None)
    years = list(range(dated[0][0], dated[-1][0] + 1)) if dated else []
    place = dict(dated)
    rows = []
    most = 0
    for row in matrix.rows:
        cells = [row.cells[place[year]] if year in place else 0 for year in years]
        most = max([most, *cells])
        rows.append(Row(row.tag, row.depth, cells, sum(cells)))
    undated = matrix.totals[undated_index] if undated_index is not None else 0
    return Timeline(years, rows, most, undated)
