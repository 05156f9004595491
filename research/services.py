"""Writes of the research views: coding search hits in one step, and undoing such a batch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from documents import text as textlib
from documents.models import Annotation, Document, Tag, role_in
from documents.selectors import document_text
from documents.services.activity import entry, log, log_all
from documents.services.versions import document_list_changed
from projects.models import Action, may

from .models import CodingBatch, Scope

#: The most hits one batch codes: a search that finds more is narrowed first.
MAX_BATCH = 5000

# Where a sentence ends: a full stop, question or exclamation mark (Latin, Chinese,
# Arabic-script) followed by a space or the end of the line, or a Chinese one anywhere.
_SENTENCE_END = re.compile(r"[.!?؟](?=\s|$)|[。！？]")


@dataclass(frozen=True)
class PlannedSpan:
    """A span that coding a hit will tag: `exists` when it already carries the code."""

    document_id: int
    start: int
    end: int
    quote: str
    exists: bool = False


def extend(text: str, start: int, end: int, scope: str) -> tuple[int, int]:
    """The span of text[start:end] grown to its sentence or paragraph (line), trimmed of
    whitespace at both ends."""
    if scope == Scope.MATCH:
        return start, end
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if scope == Scope.SENTENCE:
        before = [m.end() for m in _SENTENCE_END.finditer(text, line_start, start)]
        after = _SENTENCE_END.search(text, end, line_end)
        line_start = before[-1] if before else line_start
        line_end = after.end() if after else line_end
    while line_start < start and text[line_start].isspace():
        line_start += 1
    while line_end > end and text[line_end - 1].isspace():
        line_end -= 1
    return line_start, line_end


def plan(
    *,
    user: User,
    project: int,
    tag: Tag,
    hits: Sequence[tuple[int, int, int]],
    scope: str,
) -> list[PlannedSpan]:
    """What coding these hits (document id, start, end) with `tag` creates: each hit
    grown to `scope`, spans repeated by several hits once, and marked `exists` where a
    live annotation of that span already carries the code. Nothing is written."""
    _check(user, project, tag, hits, scope)
    documents = {
        document.pk: document
        for document in Document.objects.visible_to(user)
        .filter(project_id=project, pk__in={hit[0] for hit in hits})
        .only("pk", "sha256", "length")
    }
    spans: dict[tuple[int, int, int], None] = {}
    for document_id, start, end in hits:
        document = documents.get(document_id)
        if document is None:
            raise ValidationError(
                f"There is no document #{document_id} in this project that you can read."
            )
        if not 0 <= start < end <= document.length:
            raise ValidationError(
                f"The hit [{start}, {end}) is not in the text of document #{document_id}: "
                "search again and choose among its hits."
            )
        span_start, span_end = extend(document_text(document), start, end, scope)
        spans[(document_id, span_start, span_end)] = None
    existing = set(
        Annotation.objects.alive()
        .filter(document_id__in=documents, tags=tag)
        .values_list("document_id", "start", "end")
    )
    return [
        PlannedSpan(
            document_id,
            start,
            end,
            document_text(documents[document_id])[start:end],
            (document_id, start, end) in existing,
        )
        for document_id, start, end in sorted(spans)
    ]


def _check(
    user: User, project: int, tag: Tag, hits: Sequence[tuple[int, int, int]], scope: str
) -> None:
    if not may(role_in(user, project), Action.ANNOTATE):
        raise PermissionDenied("As a reader of this project you may not code passages.")
    if tag.project_id != project:
        raise ValidationError({"code": ["Choose a code of this project's codebook."]})
    if not tag.is_active:
        raise ValidationError({"code": [f"The code {tag.name!r} is retired: choose another."]})
    if scope not in Scope.values:
        raise ValidationError({"scope": [f"Choose one of: {', '.join(Scope.values)}."]})
    if not hits:
        raise ValidationError({"hits": ["Choose at least one hit to code."]})
    if len(hits) > MAX_BATCH:
        raise ValidationError(
            {
                "hits": [
                    f"At most {MAX_BATCH:,} hits at once, not {len(hits):,}: narrow the "
                    "search (a phrase, a filter) and code the rest in another step."
                ]
            }
        )


@transaction.atomic
def code_hits(
    *,
    user: User,
    project: int,
    tag: Tag,
    hits: Sequence[tuple[int, int, int]],
    scope: str,
    query: str,
) -> CodingBatch:
    """Code the hits of a search with `tag` (see `plan`): one ordinary annotation per new
    span (its quote and context taken from the text, an activity row each), spans that
    already carry the code left alone, and one activity row naming the batch. The batch
    can be undone as a whole (`batch_undo`). Raises ValidationError when nothing is new."""
    _check(user, project, tag, hits, scope)
    # The code held first, then the documents, in the order every writer takes them
    # (documents.services.codebook.hold_codes); read again once held, should a merge or
    # retirement have ended meanwhile.
    # FOR NO KEY UPDATE: a merge or retirement (FOR UPDATE) waits, or is waited for;
    # single passages' writers (FOR KEY SHARE) are not held up, two batches on one code are.
    tag.is_active = bool(
        Tag.objects.select_for_update(no_key=True)
        .filter(pk=tag.pk)
        .values_list("is_active", flat=True)
        .first()
    )
    _check(user, project, tag, hits, scope)
    # The texts must not change under the new spans: a text changes only while nothing is
    # annotated in it, under this same lock (services.document_update).
    list(
        Document.objects.select_for_update(no_key=True)
        .filter(pk__in={hit[0] for hit in hits}, project_id=project)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    planned = [
        span
        for span in plan(user=user, project=project, tag=tag, hits=hits, scope=scope)
        if not span.exists
    ]
    if not planned:
        raise ValidationError(
            "Every chosen hit already carries this code: there is nothing to add."
        )
    now = timezone.now()
    batch = CodingBatch.objects.create(
        project_id=project,
        tag=tag,
        query=query[:1000],
        scope=scope,
        created_by=user,
        created=now,
    )
    texts = {
        document.pk: document_text(document)
        for document in Document.objects.filter(pk__in={s.document_id for s in planned}).only(
            "pk", "sha256"
        )
    }
    annotations = []
    for span in planned:
        prefix, suffix = textlib.context(texts[span.document_id], span.start, span.end)
        annotations.append(
            Annotation(
                document_id=span.document_id,
                start=span.start,
                end=span.end,
                quote=span.quote,
                prefix=prefix,
                suffix=suffix,
                author=user,
                created=now,
                updated=now,
                version=1,
            )
        )
    Annotation.objects.bulk_create(annotations, batch_size=1000)
    Link = Annotation.tags.through
    Link.objects.bulk_create(
        [Link(annotation_id=a.pk, tag_id=tag.pk) for a in annotations], batch_size=1000
    )
    batch.annotations.add(*annotations)
    log_all(
        [
            entry(
                actor=user,
                action="annotation.create",
                obj=annotation,
                document_id=annotation.document_id,
                after=annotation.snapshot([tag.slug]),
            )
            for annotation in annotations
        ]
    )
    for document_id in sorted({a.document_id for a in annotations}):
        document_list_changed(document_id)
    log(
        actor=user,
        action="codingbatch.create",
        obj=batch,
        document_id=None,
        # Not the query: rows without a document are read by every site administrator, and
        # what analysts search for is their project's business (it stays on the batch).
        after={
            "code": tag.slug,
            "scope": scope,
            "annotations": [a.pk for a in annotations],
        },
    )
    return batch


@transaction.atomic
def batch_undo(*, user: User, batch: CodingBatch) -> tuple[int, int]:
    """Delete (softly, as any delete) the annotations a batch made: its author or an owner
    of the project. Annotations changed since, by anyone, are kept: undoing must not throw
    away later work. Returns (deleted, kept)."""
    locked = CodingBatch.objects.select_for_update().get(pk=batch.pk)
    role = role_in(user, locked.project_id)
    if not (
        (locked.created_by_id == user.pk and may(role, Action.ANNOTATE))
        or may(role, Action.CHANGE_OTHERS)
    ):
        raise PermissionDenied(
            "Only who coded these hits, a reviewer or an owner of the project can undo it."
        )
    if locked.undone_at is not None:
        raise ValidationError("This batch was undone already.")
    now = timezone.now()
    made = Annotation.objects.filter(pk__in=locked.annotations.values("pk"))
    # The documents before their passages, in id order, as every writer takes them
    # (documents.services.codebook.hold_codes).
    list(
        Document.objects.select_for_update(no_key=True)
        .filter(pk__in=made.values("document_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    unchanged = list(made.alive().filter(version=1).select_for_update(no_key=True))
    kept = made.count() - len(unchanged)
    slugs = {locked.tag_id: locked.tag.slug}
    rows = []
    for annotation in unchanged:
        before = annotation.snapshot([slugs[locked.tag_id]])
        annotation.deleted_at, annotation.deleted_by_id = now, user.pk
        annotation.version, annotation.updated = 2, now
        rows.append(
            entry(
                actor=user,
                action="annotation.delete",
                obj=annotation,
                document_id=annotation.document_id,
                before=before,
                after=annotation.snapshot([slugs[locked.tag_id]]),
            )
        )
    Annotation.objects.filter(pk__in=[a.pk for a in unchanged], version=1).update(
        deleted_at=now, deleted_by=user, version=2, updated=now
    )
    log_all(rows)
    for document_id in sorted({a.document_id for a in unchanged}):
        document_list_changed(document_id)
    locked.undone_at, locked.undone_by = now, user
    locked.save(update_fields=["undone_at", "undone_by"])
    log(
        actor=user,
        action="codingbatch.undo",
        obj=locked,
        document_id=None,
        before={"annotations": [a.pk for a in unchanged]},
        after={"deleted": len(unchanged), "kept": kept},
    )
    batch.undone_at, batch.undone_by = now, user
    return len(unchanged), kept
