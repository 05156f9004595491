"""Annotations: tagged spans of a document's text, created, changed, deleted and restored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from documents import postgresql
from documents import text as textlib
from documents.models import MAX_ID, Annotation, Document, Tag, role_in
from documents.selectors import document_text
from projects.models import Action, Membership, may

from .activity import log
from .codebook import applicable_tags, hold_codes, requested_slugs, resolve_tags
from .versions import document_list_changed


class StaleAnnotation(ValidationError):
    """The annotation changed since the caller read it (optimistic locking)."""

    def __init__(self, annotation_id: int, current_version: int | None) -> None:
        detail = f" (it is now at version {current_version})" if current_version else ""
        super().__init__(
            f"Annotation #{annotation_id} was changed by someone else since you loaded it"
            f"{detail}. Reload it to see the change, then try again.",
            code="stale",
        )
        self.current_version = current_version


@dataclass(frozen=True)
class CheckedSpan:
    start: int
    end: int
    quote: str
    prefix: str
    suffix: str
    document: Document


def _text_changed() -> ValidationError:
    return ValidationError(
        {
            "document": [
                "The document's text changed while you were tagging it. Reload it and "
                "select the passage again."
            ]
        },
        code="text_changed",
    )


def _as_offset(name: str, value: Any, errors: dict[str, list[str]]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault(name, []).append(
            f"Must be a whole number (an offset in Unicode code points), not {value!r}."
        )
        return -1
    if value < 0:
        errors.setdefault(name, []).append(f"Must be 0 or more, not {value}.")
    return value


def _document_for_span(user: User, document_id: int) -> Document | None:
    """Document `document_id` with only its id, project, length and SHA-256 loaded and
    `user`'s `role` in its project, its row locked until the end of the transaction; None
    if `user` may not read it.

    The lock keeps a concurrent text change (document_update) from slipping in between the
    span's check and its write; writes on other documents, and reads, are not held up.
    PostgreSQL's FOR NO KEY UPDATE lets other annotations of the same document be written
    meanwhile (their foreign key takes a KEY SHARE lock); SQLite has no row locks and
    serialises writes anyway.
    """
    if not 0 < document_id <= MAX_ID:
        return None  # An id out of the column's range (from a URL, say) names no document.
    if not connection.in_atomic_block:
        raise RuntimeError("A row lock lasts only as long as a transaction: use atomic().")
    role = Membership.objects.of(user).filter(project_id=OuterRef("project_id")).values("role")
    documents = (
        Document.objects.visible_to(user)
        .only("id", "project_id", "length", "sha256")
        .annotate(role=Subquery(role[:1]))
    )
    if connection.features.has_select_for_no_key_update:
        documents = documents.select_for_update(no_key=True)
    else:
        documents = documents.select_for_update()
    try:
        return documents.get(pk=document_id)
    except Document.DoesNotExist:
        return None


def check_offsets(start: Any, end: Any, quote: str | None) -> tuple[int, int]:
    """The span's offsets once they are whole numbers with 0 <= start < end, and the quote,
    if given, text: what can be checked before reading the document."""
    errors: dict[str, list[str]] = {}
    start = _as_offset("start", start, errors)
    end = _as_offset("end", end, errors)
    if quote is not None and not isinstance(quote, str):
        errors.setdefault("quote", []).append("Must be text.")
    if not errors and end <= start:
        errors.setdefault("end", []).append(
            f"Must be greater than start ({start}): a span covers at least one character."
        )
    if errors:
        raise ValidationError(errors)
    return start, end


def unknown_document(document_id: int) -> ValidationError:
    return ValidationError(
        {
            "document": ValidationError(
                f"There is no document #{document_id} that you can read.",
                code="unknown_document",
            )
        }
    )


def span_in(
    document: Document, role: str | None, start: int, end: int, quote: str | None
) -> CheckedSpan:
    """The span [start, end) of a document read (and locked) for the write, as stored:
    refused unless `role` (the user's in the document's project) lets them annotate, the
    span lies in the text and the quote, when given, is text[start:end]. The text comes
    from this process's cache (`document_text`), so the cost does not grow with the
    document once it has been read: PostgreSQL's substring() would count characters from
    the start of a long text."""
    if not may(role, Action.ANNOTATE):
        raise PermissionDenied("As a reader of this project you may not annotate.")
    if end > document.length:
        raise ValidationError(
            {
                "end": [
                    f"Must be at most {document.length}, the length of the text in Unicode "
                    f"code points (got {end})."
                ]
            }
        )
    try:
        text = document_text(document)
    except Document.DoesNotExist:
        # The row is locked, so this only happens if the text changed between the two
        # reads all the same: refuse rather than check the span against the wrong text.
        raise _text_changed() from None
    actual = text[start:end]
    if quote is not None and quote != actual:
        shown = actual if len(actual) <= 80 else actual[:79] + "…"
        raise ValidationError(
            {
                "quote": [
                    f"Does not match the text at [{start}, {end}), which reads {shown!r}. "
                    "Offsets count Unicode code points (JavaScript strings count UTF-16 units)."
                ]
            },
            code="quote_mismatch",
        )
    prefix, suffix = textlib.context(text, start, end)
    return CheckedSpan(
        start=start, end=end, quote=actual, prefix=prefix, suffix=suffix, document=document
    )


def check_span(
    *, user: User, document_id: int, start: Any, end: Any, quote: str | None
) -> CheckedSpan:
    """Check 0 <= start < end <= len(text) and, when given, quote == text[start:end].

    Call it inside the transaction that writes the span. Reads the document's length and
    SHA-256 (locking its row) with the user's role in its project. Returns the span's
    quote, prefix and suffix, and the document (those fields only).
    """
    start, end = check_offsets(start, end, quote)
    document = _document_for_span(user, document_id)
    if document is None:
        raise unknown_document(document_id)
    return span_in(document, document.role, start, end, quote)  # type: ignore[attr-defined]


def _check_note(note: Any) -> str:
    if not isinstance(note, str):
        raise ValidationError({"note": ["Must be text."]})
    return textlib.normalize_text(note).strip()


def _require_user(user: User) -> None:
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Log in to annotate.")


_UNREAD = object()


def _require_change_right(user: User, annotation: Annotation) -> None:
    """Checked before anything else, so that others learn nothing from error messages."""
    _require_user(user)
    # Read with the annotation by selectors.annotation_get; else read now.
    found = getattr(annotation, "role", _UNREAD)
    if found is _UNREAD:
        project_id = Document.objects.filter(pk=annotation.document_id).values("project_id")
        role = role_in(user, Subquery(project_id))
    else:
        role = found if isinstance(found, str) else None
    if not annotation.can_change(user, role):
        raise PermissionDenied(
            "You can change only your own annotations (reviewers and owners change anyone's)."
        )


@transaction.atomic
def annotation_create(
    *,
    user: User,
    document: Document | int,
    start: int,
    end: int,
    tags: Sequence[Tag | str],
    note: str = "",
    quote: str | None = None,
) -> Annotation:
    """Tag text[start:end] of a document. The one way annotations come into being.

    The annotation comes back with `tag_list`, its tags in codebook order, so that the
    caller can show it without reading them again.
    """
    _require_user(user)
    document_id = document.pk if isinstance(document, Document) else document
    fast = postgresql.applies(user, tags)
    if fast:
        # The same checks, on what one locking query read (see documents/postgresql.py).
        start, end = check_offsets(start, end, quote)
        found = postgresql.locked_document(user, document_id, tags)  # type: ignore[arg-type]
        if found is None:
            raise unknown_document(document_id)
        locked, role, candidates = found
        locked.role = role  # type: ignore[attr-defined]  # as the ORM's read annotates it
        span = span_in(locked, role, start, end, quote)
        tag_objects = applicable_tags(requested_slugs(tags, locked.project_id), candidates)
    else:
        hold_codes(tags, document_id)
        span = check_span(user=user, document_id=document_id, start=start, end=end, quote=quote)
        tag_objects = resolve_tags(tags, span.document.project_id)
    now = timezone.now()
    annotation = Annotation(
        document=span.document,
        start=span.start,
        end=span.end,
        quote=span.quote,
        prefix=span.prefix,
        suffix=span.suffix,
        note=_check_note(note),
        author=user,
        created=now,
        updated=now,
        version=1,
    )
    after = annotation.snapshot([tag.slug for tag in tag_objects])
    if fast:
        annotation.pk = postgresql.insert(annotation, tag_objects, after, now)
        annotation._state.adding = False
        annotation._state.db = "default"
    else:
        annotation.save(force_insert=True)
        # One INSERT for the links: tags.add() would first read which of them exist.
        Link = Annotation.tags.through
        Link.objects.bulk_create(
            [Link(annotation_id=annotation.pk, tag_id=tag.pk) for tag in tag_objects]
        )
        document_list_changed(annotation.document_id)
        log(
            actor=user,
            action="annotation.create",
            obj=annotation,
            document_id=annotation.document_id,
            after=after,
        )
    annotation.tag_list = tag_objects  # type: ignore[attr-defined]
    return annotation


def _change(
    *,
    user: User,
    annotation: Annotation,
    expected_version: int | None,
    action: str,
    values: dict[str, Any],
    tags: list[Tag] | None = None,
) -> Annotation:
    """Apply `values` only if the annotation is still at the expected version (the caller
    has checked the user's right to change it)."""
    version = annotation.version if expected_version is None else expected_version
    before_tags = [tag.slug for tag in annotation.tags.all()]
    before = annotation.snapshot(before_tags)
    now = timezone.now()
    # The document's row before the passage's, the order in which every writer takes them
    # (codebook.hold_codes): a merge holding this document waits here instead of in a circle.
    document_list_changed(annotation.document_id)
    updated = Annotation.objects.filter(pk=annotation.pk, version=version).update(
        **values, updated=now, version=F("version") + 1
    )
    if not updated:
        current = (
            Annotation.objects.filter(pk=annotation.pk).values_list("version", flat=True).first()
        )
        raise StaleAnnotation(annotation.pk, current)
    for name, value in values.items():
        setattr(annotation, name, value)
    annotation.updated = now
    annotation.version = version + 1
    if tags is not None:
        annotation.tags.set(tags)
    after_tags = [tag.slug for tag in tags] if tags is not None else before_tags
    log(
        actor=user,
        action=action,
        obj=annotation,
        document_id=annotation.document_id,
        before=before,
        after=annotation.snapshot(after_tags),
    )
    return annotation


@transaction.atomic
def annotation_update(
    *,
    user: User,
    annotation: Annotation,
    expected_version: int | None = None,
    tags: Sequence[Tag | str] | None = None,
    note: str | None = None,
    start: int | None = None,
    end: int | None = None,
    quote: str | None = None,
) -> Annotation:
    """Change an annotation's tags, note or span; refused if it changed since `expected_version`.

    Without `expected_version`, the version the caller loaded is expected.
    """
    _require_change_right(user, annotation)
    if annotation.is_deleted:
        raise ValidationError("This annotation is deleted; restore it before changing it.")
    values: dict[str, Any] = {}
    project_id = None
    if tags is not None:
        hold_codes(tags, annotation.document_id)  # before the document: see hold_codes
    if start is not None or end is not None or quote is not None:
        span = check_span(
            user=user,
            document_id=annotation.document_id,
            start=annotation.start if start is None else start,
            end=annotation.end if end is None else end,
            quote=quote,
        )
        values.update(
            start=span.start, end=span.end, quote=span.quote, prefix=span.prefix, suffix=span.suffix
        )
        project_id = span.document.project_id
    if note is not None:
        values["note"] = _check_note(note)
    tag_objects = None
    if tags is not None:
        if project_id is None and Annotation.document.is_cached(annotation):
            project_id = annotation.document.project_id  # read with it by annotation_get
        if project_id is None:
            project_id = Document.objects.values_list("project_id", flat=True).get(
                pk=annotation.document_id
            )
        tag_objects = resolve_tags(tags, project_id)
    return _change(
        user=user,
        annotation=annotation,
        expected_version=expected_version,
        action="annotation.update",
        values=values,
        tags=tag_objects,
    )


@transaction.atomic
def annotation_delete(
    *, user: User, annotation: Annotation, expected_version: int | None = None
) -> Annotation:
    """Soft-delete: the annotation stays, marked with who deleted it and when."""
    _require_change_right(user, annotation)
    if annotation.is_deleted:
        return annotation
    return _change(
        user=user,
        annotation=annotation,
        expected_version=expected_version,
        action="annotation.delete",
        values={"deleted_at": timezone.now(), "deleted_by": user},
    )


@transaction.atomic
def annotation_restore(
    *, user: User, annotation: Annotation, expected_version: int | None = None
) -> Annotation:
    """Undo a soft delete."""
    _require_change_right(user, annotation)
    if not annotation.is_deleted:
        return annotation
    return _change(
        user=user,
        annotation=annotation,
        expected_version=expected_version,
        action="annotation.restore",
        values={"deleted_at": None, "deleted_by": None},
    )


@transaction.atomic
def annotation_change_extent(
    *,
    user: User,
    annotation: Annotation,
    start: Any,
    end: Any,
    quote: str | None,
    expected_version: int | None = None,
) -> Annotation:
    """Grow or shrink an annotation to text[start:end], keeping its id, codes and note.

    The same checks as a create (offsets in the text, the quote, the right to annotate,
    the document's row locked), and the right to change this annotation; refused if it
    changed since `expected_version`. Logged as "annotation.extent", before and after.
    """
    _require_change_right(user, annotation)
    if annotation.is_deleted:
        raise ValidationError("This annotation is deleted; restore it before changing it.")
    span = check_span(
        user=user, document_id=annotation.document_id, start=start, end=end, quote=quote
    )
    if (span.start, span.end) == (annotation.start, annotation.end):
        raise ValidationError(
            {"end": ["The new extent is the same as the current one: select a different one."]}
        )
    return _change(
        user=user,
        annotation=annotation,
        expected_version=expected_version,
        action="annotation.extent",
        values={
            "start": span.start,
            "end": span.end,
            "quote": span.quote,
            "prefix": span.prefix,
            "suffix": span.suffix,
        },
    )
