"""Every write to research data goes through these functions.

The web pages, the API and the management commands are thin adapters over them. Each
service validates its input, raises `ValidationError` (with a message per field where it
can) or `PermissionDenied`, changes nothing when it raises, and records an `Activity` in
the same transaction as the change.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.db.models.functions import Substr
from django.utils import timezone

from . import text as textlib
from .models import (
    Activity,
    Annotation,
    DatePrecision,
    Document,
    DocumentType,
    SourceFile,
    Tag,
)

# ---------------------------------------------------------------------------------------
# Errors


class DuplicateDocument(ValidationError):
    """The normalised text is already in the corpus, as `document`."""

    def __init__(self, document: Document) -> None:
        super().__init__(
            f"This text is already in the corpus as document #{document.pk} ({document.title!r}).",
            code="duplicate",
        )
        self.document = document


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


# ---------------------------------------------------------------------------------------
# Activity log


def _log(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    document_id: int | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> Activity:
    return Activity.objects.create(
        actor=actor,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        document_id=document_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


# ---------------------------------------------------------------------------------------
# Documents

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_DATE_FORMATS = (
    (re.compile(r"^(\d{4})$"), DatePrecision.YEAR),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), DatePrecision.MONTH),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), DatePrecision.DAY),
)


def parse_publication_date(value: str) -> tuple[datetime.date, str]:
    """'2011-06-16', '2002-01' or '2012' → (the date or the first day of it, its precision)."""
    value = value.strip()
    for pattern, precision in _DATE_FORMATS:
        match = pattern.match(value)
        if match:
            parts = [int(part) for part in match.groups()] + [1, 1]
            try:
                return datetime.date(parts[0], parts[1], parts[2]), str(precision)
            except ValueError:
                break
    raise ValidationError(
        f"{value!r} is not a date: write YYYY-MM-DD, YYYY-MM or YYYY (e.g. 2011-06-16, "
        "2002-01, 2012).",
        code="invalid_date",
    )


def parse_document_type(value: str) -> str:
    """A document type from its value or label, forgiving qualifiers ('open letter' → letter)."""
    key = value.strip().lower().replace("-", " ")
    if not key:
        return str(DocumentType.OTHER)
    by_label = {label.lower(): str(choice) for choice, label in DocumentType.choices}
    for candidate in (key.replace(" ", "_"), key, key.split()[-1]):
        if candidate in DocumentType.values:
            return candidate
        if candidate in by_label:
            return by_label[candidate]
    raise ValidationError(
        f"Unknown document type {value!r}; use one of: {', '.join(DocumentType.values)}.",
        code="invalid_document_type",
    )


@dataclass(frozen=True)
class DocumentMetadata:
    """What is known about a document besides its text."""

    title: str = ""
    organisation: str = ""
    author: str = ""
    source_url: str = ""
    published: datetime.date | None = None
    date_precision: str = ""
    language: str = ""
    language_detected: bool = False
    document_type: str = str(DocumentType.OTHER)
    notes: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DocumentMetadata:
        """Read metadata from a manifest row, a form or an API body; unknown keys are ignored.

        `published` may be a date or a 'YYYY[-MM[-DD]]' string; the precision follows from
        its form unless `date_precision` is given. Raises one ValidationError with a
        message per bad field.
        """
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name in data and data[field.name] is not None:
                values[field.name] = data[field.name]
        for name, value in values.items():
            if name in {"published", "language_detected"}:
                continue
            if not isinstance(value, str):
                errors.setdefault(name, []).append("Must be text.")
            else:
                values[name] = value.strip()
        published = values.pop("published", None)
        if isinstance(published, datetime.date):
            values["published"] = published
            values.setdefault("date_precision", str(DatePrecision.DAY))
        elif isinstance(published, str) and published.strip():
            try:
                values["published"], precision = parse_publication_date(published)
                if not values.get("date_precision"):
                    values["date_precision"] = precision
            except ValidationError as exc:
                errors.setdefault("published", []).extend(exc.messages)
        elif published not in (None, ""):
            errors.setdefault("published", []).append(
                "Must be a date as YYYY-MM-DD, YYYY-MM or YYYY."
            )
        precision = values.get("date_precision", "")
        if isinstance(precision, str) and precision and precision not in DatePrecision.values:
            errors.setdefault("date_precision", []).append(
                f"Use one of: {', '.join(DatePrecision.values)}."
            )
        if isinstance(values.get("document_type"), str):
            try:
                values["document_type"] = parse_document_type(values["document_type"])
            except ValidationError as exc:
                errors.setdefault("document_type", []).extend(exc.messages)
        language = values.get("language")
        if isinstance(language, str) and language and not _BCP47.match(language):
            errors.setdefault("language", []).append(
                f"{language!r} is not a BCP 47 language tag (e.g. en, ru, zh-Hans, ug-Arab)."
            )
        if "language_detected" in values:
            values["language_detected"] = bool(values["language_detected"])
        if errors:
            raise ValidationError(errors)
        return cls(**values)

    def with_defaults(self, defaults: DocumentMetadata) -> DocumentMetadata:
        """Fill the fields left empty here from `defaults`."""
        changes = {
            field.name: getattr(defaults, field.name)
            for field in fields(self)
            if getattr(self, field.name) in ("", None)
            and getattr(defaults, field.name) not in ("", None)
        }
        if self.published is None and defaults.published is not None:
            changes["date_precision"] = defaults.date_precision
        return replace(self, **changes)


@dataclass(frozen=True)
class Upload:
    """A file as it arrived, kept byte for byte with the document."""

    filename: str
    data: bytes
    content_type: str = ""


def document_create(
    *,
    user: User | None,
    text: str,
    metadata: DocumentMetadata,
    source: Upload | None = None,
    import_report: Mapping[str, Any] | None = None,
    page_breaks: Sequence[int] = (),
) -> Document:
    """Store a new document with its normalised text, source file and provenance.

    Raises DuplicateDocument when the same normalised text is already stored, and
    ValidationError for an empty text or bad metadata. Nothing is saved when it raises.
    """
    normalized = textlib.normalize(text)
    if not normalized.text.strip():
        raise ValidationError({"text": "The text is empty: there is nothing to annotate."})
    if not metadata.title.strip():
        raise ValidationError({"title": "Give the document a title."})
    document = Document(
        text=normalized.text,
        length=len(normalized.text),
        sha256=textlib.text_sha256(normalized.text),
        page_breaks=list(page_breaks),
        import_report={"normalization": normalized.changes, **(import_report or {})},
        imported_by=user,
        **{field.name: getattr(metadata, field.name) for field in fields(metadata)},
    )
    if document.published is None:
        document.date_precision = ""
    existing = Document.objects.filter(sha256=document.sha256).only("pk", "title").first()
    if existing is not None:
        raise DuplicateDocument(existing)
    document.full_clean(exclude=["text", "length", "sha256", "imported_by"], validate_unique=False)
    try:
        with transaction.atomic():
            document.save()
            if source is not None:
                SourceFile.objects.create(
                    document=document,
                    filename=source.filename[:500],
                    content_type=source.content_type[:200],
                    size=len(source.data),
                    sha256=hashlib.sha256(source.data).hexdigest(),
                    data=source.data,
                )
            _log(
                actor=user,
                action="document.import",
                obj=document,
                document_id=document.pk,
                after={
                    "title": document.title,
                    "sha256": document.sha256,
                    "length": document.length,
                    "source": source.filename if source else None,
                    "source_sha256": hashlib.sha256(source.data).hexdigest() if source else None,
                    "import_report": document.import_report,
                },
            )
    except IntegrityError:
        # Another import stored the same text between the check above and this insert.
        existing = Document.objects.filter(sha256=document.sha256).only("pk", "title").first()
        if existing is None:
            raise
        raise DuplicateDocument(existing) from None
    return document


SUPPORTED_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")


def document_import(
    *,
    user: User | None,
    upload: Upload,
    metadata: DocumentMetadata,
) -> Document:
    """Import one uploaded file as a document (plain UTF-8 text or Markdown).

    The title defaults to the file's name. Raises ValidationError naming the file when it
    cannot be read, DuplicateDocument when its text is already stored.
    """
    name = upload.filename.rsplit("/", 1)[-1]
    if not name.lower().endswith(SUPPORTED_TEXT_SUFFIXES):
        raise ValidationError(
            f"{name}: unsupported file type; supported: {', '.join(SUPPORTED_TEXT_SUFFIXES)}.",
            code="unsupported_type",
        )
    try:
        text = upload.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{name}: not valid UTF-8 (byte {exc.start}).", code="undecodable"
        ) from None
    if not metadata.title:
        metadata = replace(metadata, title=name.rsplit(".", 1)[0])
    return document_create(
        user=user,
        text=text,
        metadata=metadata,
        source=upload,
        import_report={"source": {"filename": name, "encoding": "utf-8"}},
    )


_DOCUMENT_EDITABLE = [field.name for field in fields(DocumentMetadata)] + ["text"]


def document_update(*, user: User, document: Document, **changes: Any) -> Document:
    """Change a document's metadata (or its text, while nothing is annotated in it)."""
    unknown = set(changes) - set(_DOCUMENT_EDITABLE)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    before = {name: getattr(document, name) for name in changes}
    for name, value in changes.items():
        setattr(document, name, value)
    if "text" in changes:
        document.text = textlib.normalize_text(document.text)
        if not document.text.strip():
            raise ValidationError({"text": "The text is empty: there is nothing to annotate."})
        duplicate = (
            Document.objects.filter(sha256=textlib.text_sha256(document.text))
            .exclude(pk=document.pk)
            .first()
        )
        if duplicate is not None:
            raise DuplicateDocument(duplicate)
    document.full_clean(exclude=["text", "length", "sha256", "imported_by"], validate_unique=False)
    changed = {
        name: value for name, value in changes.items() if before[name] != getattr(document, name)
    }
    if not changed:
        return document
    with transaction.atomic():
        document.save()
        _log(
            actor=user,
            action="document.update",
            obj=document,
            document_id=document.pk,
            before=_jsonable({name: before[name] for name in changed}),
            after=_jsonable({name: getattr(document, name) for name in changed}),
        )
    return document


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, datetime.date):
            value = value.isoformat()
        if name == "text":
            value = {"sha256": textlib.text_sha256(value), "length": len(value)}
        out[name] = value
    return out


# ---------------------------------------------------------------------------------------
# Codebook


def tag_save(*, user: User | None, tag: Tag) -> Tag:
    """Create or change a codebook entry after validating it."""
    tag.full_clean()
    adding = tag._state.adding
    before = None
    if not adding:
        before = Tag.objects.filter(pk=tag.pk).values(*_TAG_FIELDS).first()
    with transaction.atomic():
        tag.save()
        after = {
            name: getattr(tag, name if name != "parent" else "parent_id") for name in _TAG_FIELDS
        }
        if before is not None:
            before = {name: before[name] for name in _TAG_FIELDS}
        if before != after:
            _log(
                actor=user,
                action="tag.create" if adding else "tag.update",
                obj=tag,
                document_id=None,
                before=before,
                after=after,
            )
    return tag


_TAG_FIELDS = [
    "name",
    "slug",
    "definition",
    "colour",
    "parent",
    "shortcut",
    "is_active",
    "sort_order",
]


# ---------------------------------------------------------------------------------------
# Annotations


@dataclass(frozen=True)
class CheckedSpan:
    start: int
    end: int
    quote: str
    prefix: str
    suffix: str


def _as_offset(name: str, value: Any, errors: dict[str, list[str]]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault(name, []).append(
            f"Must be a whole number (an offset in Unicode code points), not {value!r}."
        )
        return -1
    if value < 0:
        errors.setdefault(name, []).append(f"Must be 0 or more, not {value}.")
    return value


def check_span(
    *, user: User, document_id: int, start: Any, end: Any, quote: str | None
) -> CheckedSpan:
    """Check 0 <= start < end <= len(text) and, when given, quote == text[start:end].

    Reads only the span and its context from the database, never the whole text, so the
    cost does not grow with the document. Returns the span's quote, prefix and suffix.
    """
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
    window_start = max(0, start - textlib.CONTEXT_LENGTH)
    window_end = end + textlib.CONTEXT_LENGTH
    row = (
        Document.objects.visible_to(user)
        .filter(pk=document_id)
        .annotate(window=Substr("text", window_start + 1, window_end - window_start))
        .values_list("length", "window")
        .first()
    )
    if row is None:
        raise ValidationError(
            {"document": [f"There is no document #{document_id} that you can read."]},
            code="unknown_document",
        )
    length, window = row
    if end > length:
        raise ValidationError(
            {
                "end": [
                    f"Must be at most {length}, the length of the text in Unicode code points "
                    f"(got {end})."
                ]
            }
        )
    actual = window[start - window_start : end - window_start]
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
    return CheckedSpan(
        start=start,
        end=end,
        quote=actual,
        prefix=window[: start - window_start],
        suffix=window[end - window_start :],
    )


def _resolve_tags(tags: Sequence[Tag | str]) -> list[Tag]:
    """Tags from Tag objects or slugs; at least one, all known and active."""
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise ValidationError({"tags": ["Give a list of tag slugs."]})
    if not tags:
        raise ValidationError({"tags": ["Choose at least one tag."]})
    slugs = [tag.slug if isinstance(tag, Tag) else tag for tag in tags]
    if not all(isinstance(slug, str) for slug in slugs):
        raise ValidationError({"tags": ["Each tag is given by its slug, as text."]})
    found = {tag.slug: tag for tag in Tag.objects.filter(slug__in=slugs)}
    unknown = [slug for slug in dict.fromkeys(slugs) if slug not in found]
    if unknown:
        raise ValidationError(
            {"tags": [f"Unknown tag: {', '.join(unknown)}. The codebook lists the known slugs."]},
            code="unknown_tag",
        )
    inactive = [slug for slug in dict.fromkeys(slugs) if not found[slug].is_active]
    if inactive:
        raise ValidationError(
            {"tags": [f"Retired tag, no longer applied: {', '.join(inactive)}."]},
            code="inactive_tag",
        )
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _check_note(note: Any) -> str:
    if not isinstance(note, str):
        raise ValidationError({"note": ["Must be text."]})
    return textlib.normalize_text(note).strip()


def _require_user(user: User) -> None:
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Log in to annotate.")


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
    """Tag text[start:end] of a document. The one way annotations come into being."""
    _require_user(user)
    document_id = document.pk if isinstance(document, Document) else document
    span = check_span(user=user, document_id=document_id, start=start, end=end, quote=quote)
    tag_objects = _resolve_tags(tags)
    note = _check_note(note)
    now = timezone.now()
    annotation = Annotation.objects.create(
        document_id=document_id,
        start=span.start,
        end=span.end,
        quote=span.quote,
        prefix=span.prefix,
        suffix=span.suffix,
        note=note,
        author=user,
        created=now,
        updated=now,
    )
    annotation.tags.set(tag_objects)
    _log(
        actor=user,
        action="annotation.create",
        obj=annotation,
        document_id=document_id,
        after=annotation.snapshot([tag.slug for tag in tag_objects]),
    )
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
    """Apply `values` only if the annotation is still at the expected version."""
    if not annotation.can_change(user):
        raise PermissionDenied("You can change only your own annotations.")
    version = annotation.version if expected_version is None else expected_version
    before_tags = [tag.slug for tag in annotation.tags.all()]
    before = annotation.snapshot(before_tags)
    now = timezone.now()
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
    _log(
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
    _require_user(user)
    if annotation.is_deleted:
        raise ValidationError("This annotation is deleted; restore it before changing it.")
    values: dict[str, Any] = {}
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
    if note is not None:
        values["note"] = _check_note(note)
    tag_objects = _resolve_tags(tags) if tags is not None else None
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
    _require_user(user)
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
    _require_user(user)
    if not annotation.is_deleted:
        return annotation
    return _change(
        user=user,
        annotation=annotation,
        expected_version=expected_version,
        action="annotation.restore",
        values={"deleted_at": None, "deleted_by": None},
    )
