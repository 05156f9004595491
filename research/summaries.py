"""Each document's passages counted for the code comparisons (research/analysis.py), and
kept: a matrix, a timeline or a co-occurrence table over 10,000 documents then sums, in
the database, some 100,000 kept counts instead of reading a million passages.

A document's counts (`CodeCount`, `CodePair`) are kept under its `annotations_version`,
read before the passages as the document's list is, and a fingerprint of the codebook's
tree (which code is below which): renaming or re-colouring a code keeps them, moving one
makes them all again (`DocumentCodes` records both). A comparison first makes current, in
a few queries per 500 documents, the counts whose versions moved: after a write, those of
the documents written to.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count

from documents import postgresql
from documents.models import Annotation, Document, Tag

from .models import CodeCount, CodePair, DocumentCodes

#: Documents summed up by one pass (two queries and one write).
BATCH = 500

Counts = dict[int, dict[int, int]]


@dataclass
class Passage:
    """One live annotation with its codes, as the sweep reads it."""

    document: int
    author: int | None
    start: int
    end: int
    tags: list[int] = field(default_factory=list)


def passages_in_text_order(
    rows: Iterable[tuple[int, int, Any, int, int, int]],
) -> Iterator[Passage]:
    """Passages from (annotation, document, author, start, end, tag) links ordered by
    document, start and annotation: one per annotation, with all its codes."""
    current: Passage | None = None
    current_id = None
    for annotation_id, document_id, author_id, start, end, tag_id in rows:
        if annotation_id != current_id:
            if current is not None:
                yield current
            current_id = annotation_id
            current = Passage(document_id, author_id, start, end)
        assert current is not None
        current.tags.append(tag_id)
    if current is not None:
        yield current


def count_overlaps(
    passages: Iterable[Passage], counts_of: Callable[[int], defaultdict[int, defaultdict[int, int]]]
) -> None:
    """Add to `counts_of(document)[a][b]` the overlaps of a passage coded a with one coded
    b (a passage coded with both counts once), and to [a][a] the passages coded a.

    A sweep line per document, passages in text order: a passage overlaps those still
    open where it starts."""
    open_spans: list[tuple[int, list[int]]] = []
    document = None
    for passage in passages:
        if passage.document != document:
            document, open_spans = passage.document, []
        counts = counts_of(passage.document)
        # Passages that ended before this one starts no longer overlap anything.
        open_spans = [(end, tags) for end, tags in open_spans if end > passage.start]
        for a in passage.tags:
            counts[a][a] += 1
            for b in passage.tags:
                if b != a:
                    counts[a][b] += 1
            for _, other in open_spans:
                for b in other:
                    if b != a:
                        counts[a][b] += 1
                        counts[b][a] += 1
        open_spans.append((passage.end, passage.tags))


def tree_token(parents: Mapping[int, int | None]) -> uuid.UUID:
    """A fingerprint of the codebook's tree: its codes and the parent of each."""
    digest = hashlib.sha256(repr(sorted(parents.items(), key=str)).encode()).digest()
    return uuid.UUID(bytes=digest[:16])


def make_current(
    documents: Sequence[tuple[int, uuid.UUID]], *, project: int, limit: int | None = None
) -> int | None:
    """Make the counts of these (document id, annotations_version) of `project` current:
    those kept under other versions (or none) are made again, 500 documents a pass. How
    many were made; None, making none, when more than `limit` would be."""
    wanted = dict(documents)
    parents: dict[int, int | None] = dict(
        Tag.objects.filter(project_id=project).values_list("pk", "parent_id")
    )
    token = tree_token(parents)
    kept = DocumentCodes.objects.filter(document__project_id=project, tree_token=token)
    for document_id, version in kept.values_list("document_id", "annotations_version"):
        if wanted.get(document_id) == version:
            del wanted[document_id]
    stale = sorted(wanted)
    if limit is not None and len(stale) > limit:
        return None
    for at in range(0, len(stale), BATCH):
        _summarise({pk: wanted[pk] for pk in stale[at : at + BATCH]}, parents, token)
    return len(stale)


def _summarise(
    versions: dict[int, uuid.UUID], parents: Mapping[int, int | None], token: uuid.UUID
) -> None:
    """Count these documents' passages again (their versions read before this), in place
    of what was kept."""
    ids = list(versions)
    live = Annotation.objects.filter(document_id__in=ids, deleted_at__isnull=True)
    passages: dict[int, dict[int | None, int]] = {pk: {} for pk in ids}
    per_coder = live.order_by().values_list("document_id", "author_id").annotate(n=Count("pk"))
    for document_id, author_id, n in per_coder:
        passages[document_id][author_id] = n
    rows = (
        Annotation.tags.through.objects.filter(
            annotation__document_id__in=ids, annotation__deleted_at__isnull=True
        )
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
    codes: dict[int, defaultdict[int | None, defaultdict[int, int]]] = {
        pk: defaultdict(lambda: defaultdict(int)) for pk in ids
    }
    pairs: dict[int, defaultdict[int, defaultdict[int, int]]] = {
        pk: defaultdict(lambda: defaultdict(int)) for pk in ids
    }
    closures: dict[tuple[int, ...], set[int]] = {}

    def tally(found: Iterable[Passage]) -> Iterator[Passage]:
        # Each passage once for each of its codes and every code above them.
        for passage in found:
            key = tuple(passage.tags)
            closure = closures.get(key)
            if closure is None:
                closure = closures[key] = _with_ancestors(passage.tags, parents)
            counts = codes[passage.document][passage.author]
            for tag in closure:
                counts[tag] += 1
            yield passage

    found = passages_in_text_order(rows.iterator(chunk_size=10000))
    count_overlaps(tally(found), pairs.__getitem__)
    counted: list[CodeCount] = []
    paired: list[CodePair] = []
    for pk in ids:
        everyone: dict[int | None, int] = defaultdict(int)
        for coder, n in passages[pk].items():
            counted.append(CodeCount(document_id=pk, everyone=False, coder_id=coder, passages=n))
            everyone[None] += n
        for coder, per_code in codes[pk].items():
            for tag, n in per_code.items():
                counted.append(
                    CodeCount(
                        document_id=pk, tag_id=tag, everyone=False, coder_id=coder, passages=n
                    )
                )
                everyone[tag] += n
        counted.extend(
            CodeCount(document_id=pk, tag_id=tag, everyone=True, passages=n)
            for tag, n in everyone.items()
        )
        paired.extend(
            CodePair(document_id=pk, a_id=a, b_id=b, overlaps=n)
            for a, row in pairs[pk].items()
            for b, n in row.items()
        )
    with transaction.atomic():
        # Two comparisons counting the same documents at once would each delete what the
        # other has not committed, and both insert: the documents locked (in id order),
        # those another has made current meanwhile are left as it made them. The codes the
        # counts name first (their foreign keys are checked at commit): codes before
        # documents, the order in which every writer takes them, a merge included.
        if connection.vendor == "postgresql":
            postgresql.share_tags(sorted(parents))
        list(
            Document.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        current = {
            pk
            for pk, version in DocumentCodes.objects.filter(
                document_id__in=ids, tree_token=token
            ).values_list("document_id", "annotations_version")
            if versions[pk] == version
        }
        if current:
            ids = [pk for pk in ids if pk not in current]
            counted = [row for row in counted if row.document_id not in current]
            paired = [row for row in paired if row.document_id not in current]
        CodeCount.objects.filter(document_id__in=ids).delete()
        CodePair.objects.filter(document_id__in=ids).delete()
        CodeCount.objects.bulk_create(counted, batch_size=5000)
        CodePair.objects.bulk_create(paired, batch_size=5000)
        DocumentCodes.objects.bulk_create(
            [
                DocumentCodes(document_id=pk, annotations_version=versions[pk], tree_token=token)
                for pk in ids
            ],
            update_conflicts=True,
            unique_fields=["document"],
            update_fields=["annotations_version", "tree_token"],
        )


def _with_ancestors(tags: Iterable[int], parents: Mapping[int, int | None]) -> set[int]:
    found: set[int] = set()
    for tag in tags:
        current: int | None = tag
        # The codebook refuses cycles; the bound only keeps a corrupt tree from hanging.
        for _ in range(len(parents) + 1):
            if current is None or current in found:
                break
            found.add(current)
            current = parents.get(current)
    return found
