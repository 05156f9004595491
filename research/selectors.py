"""Reads of the research views: search hits grouped by document, and passages (annotations
matching a query of codes) with their citations.

Both start from the access rule of documents/selectors.py: `document_list` and
`annotation_list` hold only what the user may read.
"""

from __future__ import annotations

import bisect
import datetime
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import OuterRef
from django.utils import timezone

from documents.models import Annotation, Document, DocumentQuerySet, Tag, tag_descendant_ids
from documents.selectors import (
    AnnotationFilter,
    AttributeCondition,
    DocumentFilter,
    annotation_list,
    attribute_matches,
    attribute_pairs,
    document_list,
    document_texts,
)

from .exports import Citation, Passage
from .models import QueuedDocument
from .search import chunks_to_read, documents_matching, has_phrases, planned_each_time
from .terms import Query

# ---------------------------------------------------------------------------------------
# Search

#: How many characters of context a hit shows on each side, cut at a word.
HIT_CONTEXT = 90


@dataclass(frozen=True)
class SearchFilter:
    """A search of one project's documents. Empty fields filter nothing."""

    project: int
    query: Query
    organisation: str = ""
    language: str = ""
    document_type: str = ""
    published_after: datetime.date | None = None
    published_before: datetime.date | None = None
    #: "yes": only hits inside an annotation; "no": only hits outside every annotation.
    coded: str = ""
    #: "title", "published" or "-published".
    sort: str = "title"
    #: Conditions on the documents' attributes (DocumentFilter.attributes).
    attributes: tuple[AttributeCondition, ...] = ()

    def documents(self, user: Any) -> DocumentQuerySet:
        """The documents that hold every group of the query and no excluded phrase."""
        documents = document_list(
            user=user,
            filters=DocumentFilter(
                project=self.project,
                organisation=self.organisation,
                language=self.language,
                document_type=self.document_type,
                published_after=self.published_after,
                published_before=self.published_before,
                attributes=self.attributes,
            ),
        )
        for group in self.query.groups:
            documents = documents.filter(documents_matching(group))
        if self.query.excluded:
            documents = documents.exclude(documents_matching(self.query.excluded))
        order = {
            "published": ("published", "title", "pk"),
            "-published": ("-published", "title", "pk"),
        }.get(self.sort, ("title", "pk"))
        return documents.order_by(*order)


@dataclass(frozen=True)
class Hit:
    document_id: int
    start: int
    end: int
    #: Inside (or overlapping) a live annotation.
    coded: bool
    page: int | None
    #: The document's text, for the words found and their context, which are cut from it
    #: only when asked for: a page counts every hit of its documents but shows a few.
    source: str = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]

    @property
    def before(self) -> str:
        return self._context[0]

    @property
    def after(self) -> str:
        return self._context[1]

    @functools.cached_property
    def _context(self) -> tuple[str, str]:
        # Cut once for both sides (cached_property writes past the frozen dataclass).
        return _context(self.source, self.start, self.end)

    @property
    def key(self) -> str:
        """What a form sends to name the hit: document:start:end."""
        return f"{self.document_id}:{self.start}:{self.end}"


@dataclass
class DocumentHits:
    document: Document
    hits: list[Hit] = field(default_factory=list)


@dataclass(frozen=True)
class SearchPage:
    results: list[DocumentHits]
    #: Documents that match (before the coded filter, which is applied per hit).
    documents: int
    offset: int
    #: Where the next page starts, None on the last page.
    next_offset: int | None
    #: The project's documents whose text waits to be indexed: not searched yet.
    waiting: int = 0


def search(*, user: Any, filters: SearchFilter, offset: int = 0, per_page: int = 20) -> SearchPage:
    """A page of documents with their hits: `per_page` documents from `offset` in the
    filters' order, each with every hit of the query in it. With the coded filter, the
    documents left with no hit are skipped and further documents read in their place."""
    ids = _matching_ids(filters, user)
    total = len(ids)
    waiting = QueuedDocument.objects.filter(document__project_id=filters.project).count()
    results: list[DocumentHits] = []
    position = offset
    while len(results) < per_page and position < total:
        batch = _documents(ids[position : position + per_page])
        if not batch:
            break
        for place, found in _hits(filters, batch):
            if len(results) == per_page:
                return SearchPage(results, total, offset, position + place, waiting)
            results.append(found)
        position += per_page
    return SearchPage(results, total, offset, position if position < total else None, waiting)


def search_hits(*, user: Any, filters: SearchFilter, limit: int) -> Iterator[Hit]:
    """Every hit of the search (up to `limit`), document after document: what "code all
    hits" codes."""
    ids = _matching_ids(filters, user)
    count = 0
    for position in range(0, len(ids), 50):
        for _, found in _hits(filters, _documents(ids[position : position + 50])):
            for hit in found.hits:
                yield hit
                count += 1
                if count >= limit:
                    return


def _matching_ids(filters: SearchFilter, user: Any) -> list[int]:
    """The ids of the documents that match, in the filters' order: the search's one run of
    the full-text query, which gives the count and every page (a count and a page each
    read the index again)."""
    with planned_each_time(has_phrases(filters.query)):
        return list(filters.documents(user).values_list("pk", flat=True))


def _documents(ids: Sequence[int]) -> list[Document]:
    """These documents (read through `SearchFilter.documents`), in this order, without
    their text."""
    found = Document.objects.without_text().in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def _hits(filters: SearchFilter, documents: Sequence[Document]) -> list[tuple[int, DocumentHits]]:
    """The hits in these documents (read through `filters.documents`), each with its place
    among them; documents left without a hit by the coded filter are left out. Two
    queries."""
    by_id = {document.pk: DocumentHits(document) for document in documents}
    matching = (
        chunks_to_read(filters.query.phrases)
        .filter(document_id__in=list(by_id))
        .order_by("document_id", "start")
        .values_list("document_id", "start", "end")
    )
    spans: dict[int, _Spans] = {}
    annotated = (
        Annotation.objects.filter(document_id__in=list(by_id))
        .alive()
        .order_by("document_id", "start")
        .values_list("document_id", "start", "end")
    )
    for document_id, start, end in annotated:
        spans.setdefault(document_id, _Spans()).add(start, end)
    chunks = list(matching)
    texts = document_texts([by_id[document_id].document for document_id in {c[0] for c in chunks}])
    for document_id, start, end in chunks:
        found = by_id[document_id]
        text = texts[document_id]
        coded_spans = spans.get(document_id, _NO_SPANS)
        page_at = found.document.page_at
        for hit_start, hit_end in filters.query.hits(text[start:end], start):
            coded = coded_spans.overlap(hit_start, hit_end)
            if (filters.coded == "yes" and not coded) or (filters.coded == "no" and coded):
                continue
            found.hits.append(Hit(document_id, hit_start, hit_end, coded, page_at(hit_start), text))
    return [(place, found) for place, found in enumerate(by_id.values()) if found.hits]


class _Spans:
    """Annotated spans of one document, added in order of start, for overlap tests."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        #: The largest end among the spans up to each one.
        self.reach: list[int] = []

    def add(self, start: int, end: int) -> None:
        self.starts.append(start)
        self.reach.append(max(end, self.reach[-1]) if self.reach else end)

    def overlap(self, start: int, end: int) -> bool:
        """Whether a span overlaps [start, end): one that starts before `end` reaches
        past `start`."""
        before = bisect.bisect_left(self.starts, end)
        return before > 0 and self.reach[before - 1] > start


_NO_SPANS = _Spans()


def _context(text: str, start: int, end: int) -> tuple[str, str]:
    """Up to HIT_CONTEXT characters on each side of a hit, within its line, cut at a word."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    before = text[max(line_start, start - HIT_CONTEXT) : start]
    after = text[end : min(line_end, end + HIT_CONTEXT)]
    if start - HIT_CONTEXT > line_start and " " in before:
        before = "…" + before[before.index(" ") + 1 :]
    if end + HIT_CONTEXT < line_end and " " in after:
        after = after[: after.rindex(" ")] + "…"
    return before, after


# ---------------------------------------------------------------------------------------
# Passages


@dataclass(frozen=True)
class PassageFilter:
    """Which annotations of a project the passages view shows. Empty fields filter nothing."""

    project: int
    #: Tag ids; each includes the codes below it.
    codes: tuple[int, ...] = ()
    #: "any": a passage carries one of `codes`; "all": every one of them.
    mode: str = "any"
    #: Tag ids none of which (nor their children) a passage may carry.
    without: tuple[int, ...] = ()
    coders: tuple[str, ...] = ()
    document: int | None = None
    organisation: str = ""
    language: str = ""
    document_type: str = ""
    published_after: datetime.date | None = None
    published_before: datetime.date | None = None
    coded_after: datetime.date | None = None
    coded_before: datetime.date | None = None
    #: Text in the quote or the note.
    q: str = ""
    #: "document", "date", "-date" or "code".
    sort: str = "document"
    #: Conditions on the documents' attributes (DocumentFilter.attributes).
    attributes: tuple[AttributeCondition, ...] = ()


def passage_list(*, user: Any, filters: PassageFilter) -> models.QuerySet[Annotation]:
    """The live annotations of the project that pass `filters`, in the filters' order
    (with sort=code, by document: passage_parts reads them code by code)."""
    annotations = annotation_list(
        user=user, filters=AnnotationFilter(project=filters.project, q=filters.q)
    )
    if filters.codes or filters.without:
        tags = list(Tag.objects.filter(project_id=filters.project).only("pk", "parent_id"))
        links = Annotation.tags.through.objects

        def carrying(tag_ids: set[int]) -> Any:
            return links.filter(tag_id__in=tag_descendant_ids(tags, tag_ids)).values(
                "annotation_id"
            )

        if filters.codes and filters.mode == "all":
            for code in filters.codes:
                annotations = annotations.filter(pk__in=carrying({code}))
        elif filters.codes:
            annotations = annotations.filter(pk__in=carrying(set(filters.codes)))
        if filters.without:
            # NOT EXISTS, looked up for each passage read: NOT IN would first gather every
            # passage carrying the codes (tens of thousands) before the page's first row.
            unwanted = tag_descendant_ids(tags, set(filters.without))
            annotations = annotations.exclude(
                models.Exists(links.filter(annotation_id=OuterRef("pk"), tag_id__in=unwanted))
            )
    if filters.coders:
        annotations = annotations.filter(author__username__in=filters.coders)
    if filters.document is not None:
        annotations = annotations.filter(document_id=filters.document)
    for name in ("organisation", "language", "document_type"):
        value = getattr(filters, name)
        if value:
            annotations = annotations.filter(**{f"document__{name}": value})
    if filters.published_after is not None:
        annotations = annotations.filter(document__published__gte=filters.published_after)
    if filters.published_before is not None:
        annotations = annotations.filter(document__published__lte=filters.published_before)
    # Days in the current time zone, as `created__date` would read them, but as a range of
    # `created` itself, which its index (created, id) serves.
    if filters.coded_after is not None:
        annotations = annotations.filter(created__gte=_day_start(filters.coded_after))
    if filters.coded_before is not None and filters.coded_before < datetime.date.max:
        after = filters.coded_before + datetime.timedelta(days=1)
        annotations = annotations.filter(created__lt=_day_start(after))
    for matching in attribute_matches(filters.attributes, project=filters.project):
        annotations = annotations.filter(document__in=matching)
    if filters.sort == "date":
        return annotations.order_by("created", "pk")
    if filters.sort == "-date":
        return annotations.order_by("-created", "-pk")
    # sort=code too: passage_parts puts the code order over it.
    return annotations.order_by(*_BY_DOCUMENT)


_BY_DOCUMENT = ("document__title", "document_id", "start", "end", "pk")


def passage_parts(*, user: Any, filters: PassageFilter) -> list[models.QuerySet[Annotation]]:
    """The passages of `filters` in the filters' order, as querysets to read one after the
    other: `passage_list` itself, or with sort=code one per code of the codebook in its
    order, each holding the passages whose first code (in that order) it is, by document;
    then the passages without a code.

    Ordering a million passages by a value found for each of them (their first code) took
    seconds before the first row; a code's passages come in document order from the
    indexes, so a page reads only the parts it shows (and counts those it skips).
    """
    listed = passage_list(user=user, filters=filters)
    if filters.sort != "code":
        return [listed]
    links = Annotation.tags.through.objects
    # The codes some passage carries (each looked up in the index of its links).
    codes = list(
        Tag.objects.filter(project_id=filters.project)
        .filter(models.Exists(links.filter(tag_id=OuterRef("pk"))))
        .order_by("sort_order", "name", "pk")
        .values_list("pk", flat=True)
    )
    parts = []
    for place, code in enumerate(codes):
        part = listed.filter(models.Exists(links.filter(annotation_id=OuterRef("pk"), tag_id=code)))
        if place:
            part = part.exclude(
                models.Exists(links.filter(annotation_id=OuterRef("pk"), tag_id__in=codes[:place]))
            )
        parts.append(part)
    parts.append(listed.exclude(models.Exists(links.filter(annotation_id=OuterRef("pk")))))
    return parts


def passage_rows(
    parts: Sequence[models.QuerySet[Annotation]], start: int, stop: int
) -> list[dict[str, Any]]:
    """The rows (_PASSAGE_COLUMNS) at places `start` to `stop` of these parts read one
    after the other (passage_parts): a part that ends before `start` is counted (up to
    `start`), not read."""
    rows: list[dict[str, Any]] = []
    wanted = stop - start
    for part in parts:
        if start > 0:
            held = part.order_by()[:start].count()
            if held < start:
                start -= held
                continue
        rows.extend(part[start : start + wanted - len(rows)].values(*_PASSAGE_COLUMNS))
        start = 0
        if len(rows) == wanted:
            break
    return rows


def _day_start(day: datetime.date) -> datetime.datetime:
    """The first moment of `day` in the current time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


_PASSAGE_COLUMNS = (
    "id",
    "document_id",
    "start",
    "end",
    "quote",
    "prefix",
    "suffix",
    "note",
    "author__username",
    "created",
    "document__title",
    "document__organisation",
    "document__published",
    "document__date_precision",
    "document__page_breaks",
)


def passage_page(
    *, user: Any, filters: PassageFilter, start: int, stop: int, base_url: str
) -> list[Passage]:
    """The passages at places `start` to `stop` of `filters`, in its order (sort=code
    included), with their citations."""
    parts = passage_parts(user=user, filters=filters)
    return _passages(passage_rows(parts, start, stop), filters.project, base_url)


def _passages(rows: list[dict[str, Any]], project: int, base_url: str) -> list[Passage]:
    """Rows of _PASSAGE_COLUMNS as passages: three queries (codes, their names, the
    documents' attributes)."""
    attributes = attribute_pairs(project=project, document_ids=[r["document_id"] for r in rows])
    names = dict(Tag.objects.filter(project_id=project).values_list("pk", "name"))
    order = {pk: place for place, pk in enumerate(names)}
    codes: dict[int, list[int]] = {}
    links = Annotation.tags.through.objects.filter(annotation_id__in=[row["id"] for row in rows])
    for annotation_id, tag_id in links.values_list("annotation_id", "tag_id"):
        codes.setdefault(annotation_id, []).append(tag_id)
    made = []
    for row in rows:
        document = Document(
            published=row["document__published"],
            date_precision=row["document__date_precision"],
            page_breaks=row["document__page_breaks"],
        )
        tag_ids = sorted(codes.get(row["id"], []), key=lambda pk: order.get(pk, 0))
        made.append(
            Passage(
                id=row["id"],
                document_id=row["document_id"],
                start=row["start"],
                end=row["end"],
                quote=row["quote"],
                before=_word_cut(row["prefix"], at_start=True),
                after=_word_cut(row["suffix"], at_start=False),
                codes=tuple(names[pk] for pk in tag_ids if pk in names),
                note=row["note"],
                coder=row["author__username"],
                created=row["created"].isoformat(),
                citation=Citation(
                    title=row["document__title"],
                    organisation=row["document__organisation"],
                    published=document.published_display,
                    page=document.page_at(row["start"]),
                    url=f"{base_url}/documents/{row['document_id']}/#a{row['id']}",
                ),
                attributes=attributes.get(row["document_id"], ()),
            )
        )
    return made


def _word_cut(context: str, *, at_start: bool) -> str:
    """Stored context (32 characters) without the partial word at its outer end."""
    if at_start:
        line = context.rsplit("\n", 1)[-1]
        if len(line) < len(context) or " " not in line:
            return line
        return "…" + line[line.index(" ") + 1 :]
    line = context.split("\n", 1)[0]
    if len(line) < len(context) or " " not in line:
        return line
    return line[: line.rindex(" ")] + "…"


def passage_batches(
    *, user: Any, filters: PassageFilter, base_url: str, size: int = 2000
) -> Iterator[list[Passage]]:
    """Every passage of `filters`, in its order, `size` at a time: one query read as it
    goes (a server-side cursor on PostgreSQL; one after the other with sort=code, one
    for each part of passage_parts), so that memory stays flat and the last batch costs
    what the first does (OFFSET would read every row before it again)."""
    batch: list[dict[str, Any]] = []
    for part in passage_parts(user=user, filters=filters):
        for row in part.values(*_PASSAGE_COLUMNS).iterator(chunk_size=size):
            batch.append(row)
            if len(batch) == size:
                yield _passages(batch, filters.project, base_url)
                batch = []
    if batch:
        yield _passages(batch, filters.project, base_url)


#: Passages counted at most, for a page's total: beyond, "more than" this many. An exact
#: count reads every matching passage (a million of them take most of a second).
COUNT_LIMIT = 10_000


def passage_count(annotations: models.QuerySet[Annotation]) -> tuple[int, bool]:
    """How many passages `annotations` holds, up to COUNT_LIMIT: (count, whether more)."""
    counted = annotations.order_by()[: COUNT_LIMIT + 1].count()
    return min(counted, COUNT_LIMIT), counted > COUNT_LIMIT
