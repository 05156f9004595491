"""Every read of research data: the pages, the API, the exports and the commands call these.

The access rule is written once, in `DocumentQuerySet.visible_to` (documents/models.py);
every function here that takes a `user` starts from it. The lower-level helpers that take a
document (`document_text`, `highlight_rows`, `document_annotation_rows`) expect one that the
caller read through `document_get` or `document_list`.

An annotation is read as one *row* (`annotation_rows`): a dict of its columns, its author's
username, its tags' slugs in codebook order and its timestamps in RFC 3339. The API's JSON,
JSON-LD, JSON Lines, CSV and the workspace cards are all built from such rows
(documents/representations.py).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import BigIntegerRangeField
from django.db import connection, models
from django.db.models import F, Func, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast
from psycopg.types.range import Range

from accounts import mfa
from projects.models import Action, Membership
from sco_annotate.lru import BoundedCache

from .models import (
    MAX_ID,
    Activity,
    Annotation,
    AnnotationQuerySet,
    ApiToken,
    Attribute,
    AttributeValue,
    Document,
    DocumentQuerySet,
    ImportBatch,
    SharedVersion,
    SourceFile,
    Tag,
)
from .representations import rfc3339

# ---------------------------------------------------------------------------------------
# Filters: one object per resource, built by the pages' forms and the API's serializers.


class AttributeCondition(NamedTuple):
    """A condition on a document attribute: `op` is "eq" (a text or choice, case aside),
    "any" (`value` a tuple of choices), "min" or "max" (a Decimal or a date, inclusive).
    The type of `value` says which column of AttributeValue is compared."""

    slug: str
    op: str
    value: Any


_LOOKUPS = {"eq": "iexact", "any": "in", "min": "gte", "max": "lte"}


def attribute_matches(
    conditions: Sequence[AttributeCondition], *, project: int | None = None
) -> list[models.QuerySet[Any]]:
    """One subquery of document ids per attribute named in `conditions` (of `project`, if
    given): a document passes if it is in every one (`document__in=`, `pk__in=`). Each
    reads the index on (attribute, value)."""
    by_slug: dict[str, dict[str, Any]] = {}
    for slug, op, value in conditions:
        if op not in _LOOKUPS:
            raise ValueError(f"Unknown attribute condition {op!r}.")
        if isinstance(value, datetime.date):
            column = "value_date"
        elif isinstance(value, int | Decimal):
            column = "value_number"
        else:
            column = "value_text"
            if op == "any":
                value = list(value)
        by_slug.setdefault(slug, {})[f"{column}__{_LOOKUPS[op]}"] = value
    matches = []
    for slug, lookups in by_slug.items():
        values = AttributeValue.objects.filter(attribute__slug=slug, **lookups)
        if project is not None:
            values = values.filter(attribute__project_id=project)
        matches.append(values.values("document_id"))
    return matches


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a list shows. Every field left empty filters nothing."""

    project: int | None = None
    q: str = ""
    organisation: str = ""
    language: str = ""
    document_type: str = ""
    published_after: datetime.date | None = None
    published_before: datetime.date | None = None
    #: Conditions on the documents' attributes, all of which a document meets.
    attributes: tuple[AttributeCondition, ...] = ()

    def apply(self, documents: DocumentQuerySet) -> DocumentQuerySet:
        if self.project is not None:
            documents = documents.filter(project_id=self.project)
        if self.q:
            documents = documents.filter(title__icontains=self.q)
        for name in ("organisation", "language", "document_type"):
            value = getattr(self, name)
            if value:
                documents = documents.filter(**{name: value})
        if self.published_after is not None:
            documents = documents.filter(published__gte=self.published_after)
        if self.published_before is not None:
            documents = documents.filter(published__lte=self.published_before)
        for matching in attribute_matches(self.attributes, project=self.project):
            documents = documents.filter(pk__in=matching)
        return documents


@dataclass(frozen=True)
class AnnotationFilter:
    """Which annotations a list shows: the API's and the exports' query string, and the
    workspace panel's filters. Every field left empty filters nothing."""

    project: int | None = None
    document: int | None = None
    #: Tag slugs: any of them, a tag including the tags below it.
    tags: Sequence[str] = ()
    #: An author's username.
    author: str = ""
    #: Only the annotations of the user who asks (the panel's "hide others").
    mine: bool = False
    created_after: datetime.datetime | None = None
    updated_after: datetime.datetime | None = None
    #: Text in the quote or the note.
    q: str = ""
    #: Deleted annotations too (tombstones, for sync).
    include_deleted: bool = False

    def apply(self, annotations: AnnotationQuerySet, user: Any) -> AnnotationQuerySet:
        if not self.include_deleted:
            annotations = annotations.alive()
        if self.project is not None:
            annotations = annotations.filter(document__project_id=self.project)
        if self.document is not None:
            annotations = annotations.filter(document_id=self.document)
        if self.tags:
            annotations = annotations.tagged(*self.tags)
        if self.author:
            annotations = annotations.filter(author__username=self.author)
        if self.mine:
            annotations = annotations.filter(author_id=user.pk)
        if self.created_after is not None:
            annotations = annotations.filter(created__gt=self.created_after)
        if self.updated_after is not None:
            annotations = annotations.filter(updated__gt=self.updated_after)
        if self.q:
            annotations = annotations.filter(Q(quote__icontains=self.q) | Q(note__icontains=self.q))
        return annotations


# ---------------------------------------------------------------------------------------
# Documents


def document_list(*, user: Any, filters: DocumentFilter | None = None) -> DocumentQuerySet:
    """The documents `user` may read that pass `filters`, without their text."""
    documents = Document.objects.visible_to(user).without_text()
    return filters.apply(documents) if filters is not None else documents


def document_get(*, user: Any, pk: int, text: bool = False, original: bool = False) -> Document:
    """Document `pk` if `user` may read it, with `role`, theirs in its project, its
    project and `shared_token` (with its `annotations_version`, what names its list: see
    ListVersion) (its text only if asked for: pages and most answers take it from
    `document_text`; with `original`, `original_filename`, `original_size` and
    `original_sha256` of the file it was imported from, None when it was added as text);
    raises Document.DoesNotExist otherwise."""
    if not 0 < pk <= MAX_ID:  # an id out of the column's range names no document
        raise Document.DoesNotExist(f"No document #{pk}.")
    shared = SharedVersion.objects.filter(pk=SharedVersion.ROW).values("token")
    documents = (
        Document.objects.visible_to(user)
        .select_related("project")
        .annotate(role=_role(user, "project_id"), shared_token=Subquery(shared))
    )
    if original:
        # Its name and size, never its bytes: one join in the same query.
        documents = documents.annotate(
            original_filename=F("source_file__filename"),
            original_size=F("source_file__size"),
            original_sha256=F("source_file__sha256"),
        )
    return (documents if text else documents.without_text()).get(pk=pk)


def original_get(*, user: Any, pk: int) -> SourceFile:
    """The file document `pk` was imported from, its bytes included, with `project_id`
    (its document's), if `user` may read the document; raises SourceFile.DoesNotExist when
    there is no such document, it is not one `user` reads, or it was added as text."""
    if not 0 < pk <= MAX_ID:
        raise SourceFile.DoesNotExist(f"No document #{pk}.")
    readable = Document.objects.visible_to(user).filter(pk=pk).values("pk")
    return (
        SourceFile.objects.filter(document_id__in=readable)
        .annotate(project_id=F("document__project_id"))
        .get()
    )


def _role(user: Any, project_column: str) -> Subquery:
    """`user`'s role in the project named by the outer query's `project_column`."""
    mine = Membership.objects.of(user).filter(project_id=OuterRef(project_column))
    return Subquery(mine.values("role")[:1])


def document_choices(*, user: Any, field: str) -> list[str]:
    """The distinct non-empty values of a metadata field among the documents `user` reads,
    for a filter's drop-down."""
    documents = Document.objects.visible_to(user).exclude(**{field: ""})
    return list(documents.order_by(field).values_list(field, flat=True).distinct())


# ---------------------------------------------------------------------------------------
# Document attributes


def attribute_list(*, user: Any, project: int) -> models.QuerySet[Attribute]:
    """The attributes of a project whose documents `user` reads, in their order."""
    return Attribute.objects.visible_to(user).filter(project_id=project)


def attribute_list_with_counts(*, user: Any, project: int) -> models.QuerySet[Attribute]:
    """attribute_list, each with `documents`: how many documents have a value of it."""
    return attribute_list(user=user, project=project).annotate(documents=models.Count("values"))


def attach_attribute_values(
    documents: Sequence[Document], attributes: Sequence[Attribute] = ()
) -> None:
    """Read the attribute values of these documents (read through a selector) in one
    query. Each gets `attribute_list`, its values in the attributes' order (what
    `Document.attribute_map` and the API's JSON read) and, for `attributes`,
    `attribute_cells`: the value of each as text, '' for none (a table's columns)."""
    found: dict[int, list[AttributeValue]] = {document.pk: [] for document in documents}
    values = (
        AttributeValue.objects.filter(document_id__in=list(found))
        .select_related("attribute")
        .order_by("attribute__sort_order", "attribute__name", "attribute_id")
    )
    if found:
        for value in values:
            found[value.document_id].append(value)
    for document in documents:
        mine = found[document.pk]
        document.attribute_list = mine  # type: ignore[attr-defined]
        by_attribute = {value.attribute_id: value.text for value in mine}
        document.attribute_cells = [  # type: ignore[attr-defined]
            by_attribute.get(attribute.pk, "") for attribute in attributes
        ]


def attribute_pairs(
    *, project: int, document_ids: Sequence[int]
) -> dict[int, tuple[tuple[str, str], ...]]:
    """{document id: ((attribute name, value as text), …)} of these documents (read
    through a selector) in the attributes' order, the unset ones left out: one query."""
    if not document_ids:
        return {}
    values = (
        AttributeValue.objects.filter(
            attribute__project_id=project, document_id__in=list(set(document_ids))
        )
        .select_related("attribute")
        .only("document_id", "value_text", "value_number", "value_date", "attribute__name")
        .order_by("attribute__sort_order", "attribute__name", "attribute_id")
    )
    pairs: dict[int, list[tuple[str, str]]] = {}
    for value in values:
        pairs.setdefault(value.document_id, []).append((value.attribute.name, value.text))
    return {document_id: tuple(found) for document_id, found in pairs.items()}


def attribute_table_batches(
    *, user: Any, project: int, attributes: Sequence[Attribute], size: int = 2000
) -> Iterator[list[Document]]:
    """The project's documents `user` reads, by id, `size` at a time (keyset: memory stays
    flat), each with `attribute_cells` for `attributes` (attach_attribute_values): the
    rows of the attributes' CSV."""
    documents = document_list(user=user, filters=DocumentFilter(project=project)).only(
        "id", "title", "project_id"
    )
    last = 0
    while True:
        batch = list(documents.filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        attach_attribute_values(batch, attributes)
        yield batch
        last = batch[-1].pk


#: How many code points of document text each process keeps (about 32-128 MB).
TEXT_CACHE_CODE_POINTS = 32_000_000
_texts: BoundedCache[tuple[int, str], str] = BoundedCache(TEXT_CACHE_CODE_POINTS, len)


def document_text(document: Document) -> str:
    """A document's text (it needs only pk and sha256 loaded), kept in this process: the
    text never changes under the same SHA-256, so the key cannot go stale.

    The least recently used texts are dropped once the cache holds more than
    TEXT_CACHE_CODE_POINTS; a text longer than that is read each time.
    """
    key = (document.pk, document.sha256)
    cached = _texts.get(key)
    if cached is not None:
        return cached
    found = Document.objects.filter(pk=document.pk, sha256=document.sha256).values_list(
        "text", flat=True
    )
    text = next(iter(found), None)
    if text is None:
        raise Document.DoesNotExist(f"No document #{document.pk} with SHA-256 {document.sha256}.")
    _texts.put(key, text)
    return text


def document_texts(documents: Sequence[Document]) -> dict[int, str]:
    """The texts of these documents (pk and sha256 loaded), those not kept in this process
    read in one query: for pages that show passages of many documents."""
    missing = [d for d in documents if _texts.get((d.pk, d.sha256)) is None]
    if missing:
        found = Document.objects.filter(pk__in=[d.pk for d in missing]).values_list(
            "pk", "sha256", "text"
        )
        for pk, sha256, text in found:
            _texts.put((pk, sha256), text)
    return {document.pk: document_text(document) for document in documents}


def document_paragraphs(document: Document, start: int, end: int) -> tuple[int, str]:
    """The whole paragraphs that text[start:end] touches: (offset of the first, their text).

    A paragraph runs up to and including its line break. The text comes from this
    process's cache, so showing a passage of a long document costs no more than one of a
    short one.
    """
    text = document_text(document)
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", max(start, end - 1))
    last = len(text) if last == -1 else last + 1
    return first, text[first:last]


def import_batch_list(*, user: Any) -> models.QuerySet[ImportBatch]:
    """The import batches `user` uploaded (the import pages are for admins)."""
    return ImportBatch.objects.filter(created_by=user)


# ---------------------------------------------------------------------------------------
# The codebook


def tag_list(*, user: Any, project: int | None = None) -> models.QuerySet[Tag]:
    """The codebooks of the projects `user` reads (of one project if given), retired tags
    included, each tag with its parent and the code it was merged into, in codebook
    order."""
    tags = Tag.objects.visible_to(user).select_related("parent", "merged_into")
    return tags if project is None else tags.filter(project_id=project)


def codebook_with_counts(*, user: Any, project: int, related: Sequence[str] = ()) -> list[Tag]:
    """A project's codebook (tag_list, with the `related` objects selected too) with
    `passages` on each tag: how many live annotations carry it. Two queries."""
    tags = list(tag_list(user=user, project=project).select_related(*related))
    links = Annotation.tags.through.objects.filter(
        tag_id__in=[tag.pk for tag in tags], annotation__deleted_at__isnull=True
    )
    counted = links.order_by().values("tag_id").annotate(n=models.Count("pk"))
    counts = {row["tag_id"]: row["n"] for row in counted}
    for tag in tags:
        tag.passages = counts.get(tag.pk, 0)  # type: ignore[attr-defined]
    return tags


@dataclass
class CodebookNode:
    """A code's place in the codebook's tree, as the page draws it in nested lists: its
    depth, whether a list of children opens after it, and how many lists close after it."""

    tag: Tag
    depth: int
    has_children: bool = False
    closes: range = range(0)


@dataclass
class Codebook:
    """A project's codebook as its page shows it: the codes in use as a tree (in codebook
    order, depth first), and the retired ones apart."""

    tree: list[CodebookNode]
    retired: list[Tag]

    @property
    def size(self) -> int:
        return len(self.tree) + len(self.retired)


def codebook(*, user: Any, project: int) -> Codebook:
    """A project's codebook (`codebook_with_counts`: each tag with `passages`) with each
    tag's example passage and the code it was merged into: the same few queries for any
    number of codes. A code in use under a retired one stands at the top of the tree."""
    tags = codebook_with_counts(user=user, project=project, related=("example",))
    active = [tag for tag in tags if tag.is_active]
    shown = {tag.pk for tag in active}
    children: dict[int | None, list[Tag]] = {}
    for tag in active:
        children.setdefault(tag.parent_id if tag.parent_id in shown else None, []).append(tag)
    tree: list[CodebookNode] = []

    def visit(tag: Tag, depth: int) -> None:
        node = CodebookNode(tag, depth, has_children=tag.pk in children)
        tree.append(node)
        for child in children.get(tag.pk, ()):
            visit(child, depth + 1)

    for tag in children.get(None, ()):
        visit(tag, 0)
    for index, node in enumerate(tree):
        if not node.has_children:
            following = tree[index + 1].depth if index + 1 < len(tree) else 0
            node.closes = range(node.depth - following)
    return Codebook(tree, [tag for tag in tags if not tag.is_active])


def tag_get(*, user: Any, project: int, pk: int) -> Tag:
    """Code `pk` of the project's codebook (with its parent, example passage and the code
    it was merged into) if `user` reads the project; raises DoesNotExist."""
    if not 0 < pk <= MAX_ID:
        raise Tag.DoesNotExist(f"No code #{pk}.")
    return (
        tag_list(user=user, project=project)
        .select_related("example")
        .annotate(
            passages=models.Count(
                "annotations", filter=Q(annotations__deleted_at__isnull=True), distinct=True
            )
        )
        .get(pk=pk)
    )


def tag_example_choices(*, user: Any, tag: Tag, limit: int = 50) -> list[tuple[int, str]]:
    """The live passages carrying `tag` (one `tag_get` returned) that may be its example,
    newest first, at most `limit`, each as (id, its quote shortened and its document)."""
    found = (
        Annotation.objects.visible_to(user)
        .alive()
        .filter(tags=tag.pk)
        .order_by("-created", "-pk")
        .values_list("pk", "quote", "document__title")[:limit]
    )
    choices = [
        (pk, f"“{quote if len(quote) <= 80 else quote[:79] + '…'}” in {title}")
        for pk, quote, title in found
    ]
    if tag.example_id is not None and tag.example_id not in {pk for pk, _ in choices}:
        # The example chosen earlier stays choosable though newer passages came.
        example = tag.example
        assert example is not None
        choices.append((example.pk, f"“{example.quote[:79]}” (the current example)"))
    return choices


def tag_history(*, tag: Tag) -> models.QuerySet[Activity]:
    """The activity rows of a code (one `tag_get` returned): its creation and every change,
    and the merges of other codes into it; newest first, with their actors."""
    return (
        Activity.objects.filter(
            Q(object_type="tag", object_id=tag.pk)
            | Q(action="tag.merge", after__merged_into=tag.pk)
        )
        .select_related("actor")
        .order_by("-created", "-id")
    )


# ---------------------------------------------------------------------------------------
# Annotations


def annotation_list(*, user: Any, filters: AnnotationFilter | None = None) -> AnnotationQuerySet:
    """The annotations `user` may read that pass `filters` (live ones only by default)."""
    annotations = Annotation.objects.visible_to(user)
    return (filters or AnnotationFilter()).apply(annotations, user)


def coder_names(*, user: Any, project: int) -> list[str]:
    """The usernames of everyone with a live annotation in `project`, in order, if `user`
    may read the project (else none).

    The project is checked once, not for each annotation: each user's first live
    annotation in it is then found through the index `annotation_live_author`, where
    DISTINCT over the authors, or the access rule's join, would read every annotation of
    the project or every annotation of each coder.
    """
    if not Membership.objects.allowed(user, Action.READ).filter(project_id=project).exists():
        return []
    live = Annotation.objects.in_project(project).alive().filter(author_id=OuterRef("pk"))
    coders = get_user_model().objects.filter(models.Exists(live)).order_by("username")
    return list(coders.values_list("username", flat=True))


def document_annotation_list(
    *, document: Document, user: Any, filters: AnnotationFilter | None = None
) -> AnnotationQuerySet:
    """The annotations of a document the caller read through `document_get` (so `user`
    may read it) that pass `filters`: without the access rule's join again, which a long
    document's every row would go through."""
    annotations = Annotation.objects.filter(document_id=document.pk)
    return (filters or AnnotationFilter()).apply(annotations, user)


def annotation_get(*, user: Any, pk: int) -> Annotation:
    """Annotation `pk` (deleted or not) if `user` may read it, with its author, its
    document's id, project and SHA-256 (what showing its passage needs) and `role`, the
    user's in that project; raises DoesNotExist."""
    if not 0 < pk <= MAX_ID:
        raise Annotation.DoesNotExist(f"No annotation #{pk}.")
    annotations = (
        Annotation.objects.visible_to(user)
        .select_related("author", "document")
        .annotate(role=_role(user, "document__project_id"))
    )
    return annotations.only(*_ANNOTATION_GET_FIELDS).get(pk=pk)


_ANNOTATION_GET_FIELDS = (
    *(f.name for f in Annotation._meta.concrete_fields),
    "author__username",
    "document__id",
    "document__project_id",
    "document__sha256",
    "document__length",
)

#: The columns of an annotation row, as `values()` names them.
_ROW_COLUMNS = (
    "id",
    "document_id",
    "start",
    "end",
    "quote",
    "prefix",
    "suffix",
    "note",
    "author_id",
    "version",
    "deleted_at",
)


def annotation_rows(annotations: models.QuerySet[Annotation], *extra: str) -> list[dict[str, Any]]:
    """The rows of these annotations (in the queryset's order), two queries: the
    annotations with their authors, then their tags. `extra` names further columns to
    read (the document's metadata, for the CSV export).

    Timestamps are read as text and put in RFC 3339 here: the API prints them anyway, and
    converting a timestamptz into an aware datetime costs more than the rest of the row.
    """
    rows = list(
        annotations.values(
            *_ROW_COLUMNS,
            *extra,
            "author__username",
            created_text=Cast("created", output_field=models.TextField()),
            updated_text=Cast("updated", output_field=models.TextField()),
        )
    )
    by_id: dict[int, list[str]] = {}
    for row in rows:
        by_id[row["id"]] = row["tags"] = []
        row["author"] = row.pop("author__username")
        row["created"] = rfc3339(row.pop("created_text"))
        row["updated"] = rfc3339(row.pop("updated_text"))
    if by_id:
        # The links of the same annotations, selected by the same query rather than by a
        # list of a thousand ids (which costs more to build and plan than to run), and
        # put in codebook order here: sorting them by tag name in the database's collation
        # costs more than the rest of the query.
        links = Annotation.tags.through.objects.filter(annotation_id__in=annotations.values("pk"))
        found: dict[int, list[int]] = {}
        for annotation_id, tag_id in links.values_list("annotation_id", "tag_id"):
            found.setdefault(annotation_id, []).append(tag_id)
        # Read after the links, so that every tag they name is in it.
        codebook = list(Tag.objects.values_list("pk", "slug"))
        places = {pk: place for place, (pk, _) in enumerate(codebook)}
        slugs = dict(codebook)
        for annotation_id, tag_ids in found.items():
            tags = by_id.get(annotation_id)
            if tags is not None:  # one read past the page, by the paginator
                tags.extend(slugs[pk] for pk in sorted(tag_ids, key=places.__getitem__))
    return rows


def annotation_row(annotation: Annotation) -> dict[str, Any]:
    """The row of one annotation (deleted or not): what a write answers with. Built from
    the instance when the services attached its tags (`tag_list`, in codebook order) and
    its author, as they do on a create; otherwise read."""
    tags = getattr(annotation, "tag_list", None)
    if tags is None:
        return annotation_rows(Annotation.objects.filter(pk=annotation.pk))[0]
    row = {name: getattr(annotation, name) for name in _ROW_COLUMNS}
    row["author"] = annotation.author.username
    row["tags"] = [tag.slug for tag in tags]
    row["created"] = rfc3339(annotation.created)
    row["updated"] = rfc3339(annotation.updated)
    return row


def annotation_history(annotation: Annotation, limit: int) -> list[Activity]:
    """The latest `limit` + 1 activity rows of an annotation that `annotation_get` returned
    (so the user may read it), newest first, each with its actor: one query."""
    rows = Activity.objects.filter(object_type="annotation", object_id=annotation.pk)
    return list(rows.select_related("actor").order_by("-created", "-id")[: limit + 1])


def document_activity(document: Document) -> models.QuerySet[Activity]:
    """The activity rows of a document that `document_get` returned (so the user may read
    it), newest first, each with its actor: its annotations' changes and its own."""
    rows = Activity.objects.filter(document_id=document.pk).select_related("actor")
    return rows.order_by("-created", "-id")


def document_trash(document: Document, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Rows (as `annotation_rows`, with `deleted_by__username`) of the deleted annotations
    of a document that `document_get` returned, last deleted first: `limit` + 1 of them
    from `offset`, so that the caller knows whether more follow. Two queries."""
    deleted = Annotation.objects.filter(document_id=document.pk, deleted_at__isnull=False)
    page = deleted.order_by("-deleted_at", "-id")[offset : offset + limit + 1]
    return annotation_rows(page, "deleted_by__username")


#: Rows per database round trip of an export: large enough to amortise it, small enough
#: to keep memory flat.
BATCH_SIZE = 5000


def annotation_batches(
    annotations: models.QuerySet[Annotation], *extra: str
) -> Iterator[list[dict[str, Any]]]:
    """Rows of these annotations in id order, BATCH_SIZE at a time, read by keyset
    (WHERE id > last), so that memory stays flat and no cursor outlives a request."""
    last = 0
    while True:
        rows = annotation_rows(annotations.filter(id__gt=last).order_by("id")[:BATCH_SIZE], *extra)
        if not rows:
            return
        yield rows
        if len(rows) < BATCH_SIZE:
            return
        last = rows[-1]["id"]


def tag_counts_by_document(*, user: Any, document_ids: list[int]) -> dict[int, dict[int, int]]:
    """{document id: {tag id: live annotations carrying the tag}} for these documents."""
    annotations = annotation_list(user=user).filter(document_id__in=document_ids)
    return annotations.tag_counts_by_document()


def document_annotation_rows(document: Document, limit: int) -> list[dict[str, Any]]:
    """The rows of a document's live annotations in text order, at most `limit` + 1 (so
    that the caller can tell when there are more)."""
    annotations = Annotation.objects.filter(document_id=document.pk).alive().in_text_order()
    return annotation_rows(annotations[: limit + 1])


@dataclass(frozen=True)
class ListVersion:
    """What one document's list of annotations shows is named by its document's
    `annotations_version` and the shared version (codebook and user names): both change,
    in the same transaction, with anything that list shows (services/versions.py)."""

    document: Document
    shared: str

    @property
    def key(self) -> str:
        return f"{self.document.annotations_version}.{self.shared}"


def document_list_version(*, user: Any, pk: int) -> ListVersion:
    """Document `pk` (as `document_get` reads it) with the version of its list of
    annotations, in one query; raises Document.DoesNotExist if `user` may not read it.

    Read before the list itself: a list read afterwards is then at least as new as the
    version it is kept under, never older.
    """
    if not 0 < pk <= MAX_ID:
        raise Document.DoesNotExist(f"No document #{pk}.")
    shared = SharedVersion.objects.filter(pk=SharedVersion.ROW).values("token")
    document = (
        Document.objects.visible_to(user)
        .only("id", "sha256", "annotations_version")
        .annotate(shared_token=Subquery(shared))
        .get(pk=pk)
    )
    token = getattr(document, "shared_token", None)
    return ListVersion(document, str(token) if token is not None else "0")


# ---------------------------------------------------------------------------------------
# Highlights


@dataclass(frozen=True)
class Highlight:
    """One live annotation's span, as the document page draws it."""

    pk: int
    start: int
    end: int
    author_id: int
    #: Tag ids and names in codebook order.
    tags: list[tuple[int, str]] = field(default_factory=list)


#: Past the last offset any span can have (offsets are 32-bit).
_PAST_THE_END = 2**31


class _Int8Range(Func):
    # The expression the span index is built on (migration 0003), so that PostgreSQL uses it.
    function = "int8range"

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(start, end, output_field=BigIntegerRangeField())


def highlight_rows(document: Document, start: int = 0, end: int | None = None) -> list[Highlight]:
    """The live annotations of a document that overlap text[start:end] (all by default).

    Every write in the workspace redraws the paragraphs it touched with these. On
    PostgreSQL the overlap is found with the GiST span index (migration 0003), so that a
    write's cost does not grow with the document's number of annotations.
    """
    annotations = Annotation.objects.filter(document_id=document.pk).alive()
    if start > 0 or end is not None:
        stop = _PAST_THE_END if end is None else end
        if connection.vendor == "postgresql":
            # The id as a bigint: psycopg sends a small number as a smallint, which the
            # index's bigint column does not match, and the index would then find the
            # overlapping spans of every document.
            annotations = (
                Annotation.objects.alive()
                .alias(span=_Int8Range(F("start"), F("end")))
                .filter(
                    document_id=Cast(Value(document.pk), models.BigIntegerField()),
                    span__overlap=Range(start, stop),
                )
            )
        else:
            annotations = annotations.filter(end__gt=start, start__lt=stop)
    # One row per tag (an annotation without tags: one row with None), tags in codebook
    # order: one query, whatever the document's size.
    rows = annotations.order_by("tags__sort_order", "tags__name").values_list(
        "id", "start", "end", "author_id", "tags__id", "tags__name"
    )
    spans: dict[int, Highlight] = {}
    for pk, span_start, span_end, author_id, tag_id, name in rows:
        span = spans.get(pk)
        if span is None:
            span = spans[pk] = Highlight(pk, span_start, span_end, author_id)
        if tag_id is not None:
            span.tags.append((tag_id, name))
    return list(spans.values())


def authors(user_ids: set[int]) -> list[str]:
    """The usernames of these users, sorted: the workspace's author filter."""
    users = get_user_model().objects.filter(pk__in=user_ids).order_by("username")
    return list(users.values_list("username", flat=True))


# ---------------------------------------------------------------------------------------
# API tokens


def token_unreached_note(token: ApiToken) -> str:
    """What to tell whoever just made `token` when it cannot reach some of its user's
    projects (among those it is limited to) because they require two-factor authentication
    (accounts.mfa.token_missing): which ones, and what to do; "" when it reaches them all."""
    missing = mfa.token_missing(
        issued_with_mfa=token.issued_with_mfa, user_has_mfa=mfa.has_authenticator(token.user)
    )
    if missing is None:
        return ""
    memberships = Membership.objects.filter(user_id=token.user_id, project__require_mfa=True)
    if token.limited:
        memberships = memberships.filter(project_id__in=token.project_scope())
    names = list(memberships.order_by("project__name").values_list("project__name", flat=True))
    if not names:
        return ""
    return (
        f"This token does not reach {', '.join(names)}, which require two-factor "
        f"authentication. {mfa.UNLOCK[missing]}"
    )
