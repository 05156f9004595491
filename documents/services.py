"""Every write to research data goes through these functions.

The web pages, the API and the management commands are thin adapters over them. Each
service validates its input, raises `ValidationError` (with a message per field where it
can) or `PermissionDenied`, changes nothing when it raises, and records an `Activity` in
the same transaction as the change.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from sco_annotate import rows

from . import cleanup as cleanuplib
from . import extract as extractlib
from . import text as textlib
from .models import (
    Activity,
    Annotation,
    ApiToken,
    DatePrecision,
    Document,
    DocumentType,
    ImportBatch,
    ImportItem,
    ImportStatus,
    SharedVersion,
    SourceFile,
    Tag,
    is_admin,
)
from .selectors import document_text

logger = logging.getLogger(__name__)

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
) -> None:
    """Append one row to the activity log, in the caller's transaction."""
    _insert(
        Activity,
        {
            "actor": actor.pk if actor is not None else None,
            "action": action,
            "object_type": obj._meta.model_name or "",
            "object_id": obj.pk,
            "document": document_id,
            "before": dict(before) if before is not None else None,
            "after": dict(after) if after is not None else None,
            "created": timezone.now(),
        },
    )


def _insert(model: type[models.Model], values: Mapping[str, Any]) -> int:
    """Insert one row of `values` (by field name; a foreign key by its id) and return its id.

    The writes of every annotation go through here, through `_log` at least: the ORM's
    `create()` spends several times as long building the statement as PostgreSQL takes to
    run it. The statement text depends only on the model and the field names, so PostgreSQL
    keeps it prepared. Values are adapted by their fields, as the ORM would.
    """
    fields = [model._meta.get_field(name) for name in values]
    params = [
        field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for field, value in zip(fields, values.values(), strict=True)
    ]
    columns = ", ".join(f'"{field.column}"' for field in fields)  # type: ignore[union-attr]
    placeholders = ", ".join(["%s"] * len(fields))
    table = model._meta.db_table
    sql = f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})'
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(sql + ' RETURNING "id"', params)
            row = cursor.fetchone()
            return int(row[0])
        cursor.execute(sql, params)
        return int(connection.ops.last_insert_id(cursor, table, "id"))


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
            detected = values["language_detected"]
            if isinstance(detected, str):
                # From a CSV manifest or a form: "false" must not read as true.
                detected = detected.strip().lower() in {"1", "true", "yes", "on"}
            values["language_detected"] = bool(detected)
        if errors:
            raise ValidationError(errors)
        return cls(**values)


#: Every metadata field of a document, in the order forms show them.
METADATA_FIELDS = tuple(field.name for field in fields(DocumentMetadata))


@dataclass(frozen=True)
class Upload:
    """A file as it arrived, kept byte for byte with the document."""

    filename: str
    data: bytes
    content_type: str = ""


def check_new_text(text: str, *, document_pk: int | None = None) -> str:
    """The text that a document would store: normalised, not empty, not already stored as
    another document. Raises ValidationError (on "text") or DuplicateDocument."""
    text = textlib.normalize_text(text)
    if not text.strip():
        raise ValidationError({"text": "The text is empty: there is nothing to annotate."})
    same = Document.objects.filter(sha256=textlib.text_sha256(text)).only("pk", "title")
    if document_pk is not None:
        same = same.exclude(pk=document_pk)
    duplicate = same.first()
    if duplicate is not None:
        raise DuplicateDocument(duplicate)
    return text


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
    ValidationError for an empty text or bad metadata, PermissionDenied for a user who is
    not an admin. Nothing is saved when it raises.
    """
    _require_admin(user)
    normalized = textlib.normalize(text)
    if not metadata.title.strip():
        raise ValidationError({"title": "Give the document a title."})
    check_new_text(normalized.text)
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


# ---------------------------------------------------------------------------------------
# Import: one file (the command, the web pages and the API all come through here)


@dataclass(frozen=True)
class ImportPreview:
    """What importing a file would store, worked out without storing anything."""

    upload: Upload
    extracted: extractlib.Extracted
    #: The extracted text, normalised: the suggestions' offsets point into it.
    text: str
    normalization: dict[str, int]
    #: The metadata given, completed with the title and language derived from the file.
    metadata: DocumentMetadata
    language_confidence: float | None
    suggestions: list[cleanuplib.Suggestion]
    #: The stored document with the same text or the same original file, if any.
    duplicate_of: Document | None

    def report(self, applied: cleanuplib.Cleaned) -> dict[str, Any]:
        """The import report: the source, what normalisation and clean-up changed, and the
        suggestions left unapplied (their offsets in the stored text)."""
        applied_ids = {entry["id"] for entry in applied.stripped}
        not_applied = []
        for suggestion in self.suggestions:
            if suggestion.id in applied_ids:
                continue
            entry = suggestion.as_dict(self.text)
            entry["start"] = applied.map_offset(suggestion.start)
            entry["end"] = applied.map_offset(suggestion.end)
            entry["removed"] = [
                [applied.map_offset(start), applied.map_offset(end)]
                for start, end in suggestion.removals
            ]
            not_applied.append(entry)
        report: dict[str, Any] = {
            "source": {
                **self.extracted.report(),
                "size": len(self.upload.data),
                "sha256": hashlib.sha256(self.upload.data).hexdigest(),
            },
            "normalization": self.normalization,
            "cleanup": {"applied": applied.stripped, "not_applied": not_applied},
        }
        if self.metadata.language_detected:
            report["language"] = {
                "detected": self.metadata.language,
                "confidence": self.language_confidence,
            }
        return report


def _find_duplicate(*, data: bytes, text: str) -> Document | None:
    """A stored document with this normalised text, or imported from these very bytes (the
    same file imported earlier with clean-up applied has a different text). One query."""
    same_file = SourceFile.objects.filter(
        size=len(data), sha256=hashlib.sha256(data).hexdigest()
    ).values("document_id")
    return (
        Document.objects.filter(Q(sha256=textlib.text_sha256(text)) | Q(pk__in=same_file))
        .only("pk", "title")
        .order_by("pk")
        .first()
    )


def import_preview(*, upload: Upload, metadata: DocumentMetadata | None = None) -> ImportPreview:
    """Read a file and say what importing it would store: its text, derived metadata, the
    clean-up suggestions and any duplicate. Stores nothing.

    Raises ValidationError, naming the file, when the file cannot be imported.
    """
    metadata = metadata or DocumentMetadata()
    extracted = extractlib.extract(upload.filename, upload.data)
    normalized = textlib.normalize(extracted.text)
    if not normalized.text.strip():
        raise ValidationError(
            f"{extracted.filename}: no text is left once control characters are removed.",
            code="empty",
        )
    confidence: float | None = None
    if not metadata.title:
        stem = extracted.filename.rsplit(".", 1)[0] if "." in extracted.filename else ""
        metadata = replace(metadata, title=extracted.title or stem or extracted.filename)
    if not metadata.language:
        language, confidence = extractlib.detect_language(normalized.text)
        if language:
            metadata = replace(metadata, language=language, language_detected=True)
    return ImportPreview(
        upload=upload,
        extracted=extracted,
        text=normalized.text,
        normalization=normalized.changes,
        metadata=metadata,
        language_confidence=confidence,
        suggestions=cleanuplib.suggest(normalized.text),
        duplicate_of=_find_duplicate(data=upload.data, text=normalized.text),
    )


def document_import(
    *,
    user: User | None,
    upload: Upload,
    metadata: DocumentMetadata,
    clean: bool | Collection[str] | None = None,
) -> Document:
    """Import one file (text, Markdown, HTML, PDF or Word) as a document.

    `clean` chooses the clean-up: None or False applies none (the suggestions are still
    recorded in the import report), True applies every suggestion, and a collection applies
    the suggestions with those ids (or of those kinds, e.g. {"repeated"}). The title
    defaults to the page's or file's title, the language to the detected one.

    Raises ValidationError naming the file when it cannot be read, DuplicateDocument when
    its text (or the very same file) is already stored. Nothing is saved when it raises.
    """
    preview = import_preview(upload=upload, metadata=metadata)
    if preview.duplicate_of is not None:
        raise DuplicateDocument(preview.duplicate_of)
    try:
        chosen = cleanuplib.select(preview.suggestions, clean)
    except ValueError as exc:
        raise ValidationError(
            {
                "clean": [
                    f"{preview.extracted.filename}: there is no clean-up suggestion {exc}; "
                    "preview the file again and choose among its suggestions."
                ]
            },
            code="unknown_suggestion",
        ) from None
    cleaned = cleanuplib.apply(preview.text, chosen)
    if not cleaned.text.strip():
        raise ValidationError(
            f"{preview.extracted.filename}: the chosen clean-up removes the whole text.",
            code="empty",
        )
    page_breaks = sorted(
        {cleaned.map_offset(offset) for offset in preview.extracted.page_breaks}
        - {0, len(cleaned.text)}
    )
    page_breaks = [offset for offset in page_breaks if offset < len(cleaned.text)]
    return document_create(
        user=user,
        text=cleaned.text,
        metadata=preview.metadata,
        source=upload,
        import_report=preview.report(cleaned),
        page_breaks=page_breaks,
    )


# ---------------------------------------------------------------------------------------
# Import: batches of files on the web pages, read and imported a few files per request

_PREVIEW_TEXT_LENGTH = 3000
#: The metadata an admin fills in on the import pages (language_detected follows from it).
METADATA_FORM_FIELDS = tuple(
    field.name for field in fields(DocumentMetadata) if field.name != "language_detected"
)


def _require_admin(user: User | None) -> None:
    """Only admins add or change documents; None is the operator running a command."""
    if user is not None and not is_admin(user):
        raise PermissionDenied("Only admins add or change documents.")


def validation_message(exc: ValidationError) -> str:
    """A refusal as one line, each field's messages after its name: for lists and logs."""
    if hasattr(exc, "error_dict"):
        return "; ".join(
            " ".join(messages) if name == "__all__" else f"{name}: {' '.join(messages)}"
            for name, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def _metadata_as_form(metadata: DocumentMetadata) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(metadata, name) for name in METADATA_FORM_FIELDS}
    values["published"] = metadata.published.isoformat() if metadata.published else ""
    if metadata.published is not None and metadata.date_precision == DatePrecision.YEAR:
        values["published"] = str(metadata.published.year)
    elif metadata.published is not None and metadata.date_precision == DatePrecision.MONTH:
        values["published"] = metadata.published.strftime("%Y-%m")
    values["language_detected"] = metadata.language_detected
    return values


@transaction.atomic
def import_batch_create(
    *,
    user: User,
    uploads: Sequence[Upload],
    defaults: Mapping[str, Any],
    oversized: Sequence[tuple[str, int]] = (),
) -> ImportBatch:
    """Keep uploaded files (zip archives unpacked) as a batch to be read and imported.

    Files that are refused at once (too large, unsafe paths in an archive) are kept as
    failed items with their reason, so the admin sees every file they sent. `oversized`
    names the files (with their sizes) that the caller did not read because they are
    above the import limit.
    """
    _require_admin(user)
    if not uploads and not oversized:
        raise ValidationError({"files": ["Choose at least one file to import."]})
    checked = DocumentMetadata.from_mapping(defaults)
    batch = ImportBatch.objects.create(
        created_by=user,
        defaults={
            name: value
            for name, value in _metadata_as_form(checked).items()
            if name in defaults and value not in ("", None)
        },
    )
    items: list[ImportItem] = []

    def add(filename: str, data: bytes, content_type: str = "", error: str = "") -> None:
        items.append(
            ImportItem(
                batch=batch,
                position=len(items),
                filename=filename[:500],
                content_type=content_type[:200],
                size=len(data),
                data=b"" if error else data,
                status=ImportStatus.FAILED if error else ImportStatus.PENDING,
                error=error,
            )
        )

    for filename, size in oversized:
        try:
            extractlib.check_size(filename, size)
        except ValidationError as exc:
            add(extractlib.base_name(filename), b"", error=validation_message(exc))
    for upload in uploads:
        try:
            if extractlib.file_kind(upload.filename) == "zip":
                for member in extractlib.expand_archive(upload.filename, upload.data):
                    error = validation_message(member.error) if member.error else ""
                    add(member.filename, member.data, error=error)
            else:
                extractlib.check_size(upload.filename, len(upload.data))
                add(upload.filename, upload.data, upload.content_type)
        except ValidationError as exc:
            add(extractlib.base_name(upload.filename), b"", error=validation_message(exc))
    if not items:
        raise ValidationError({"files": ["The archive holds no files to import."]})
    ImportItem.objects.bulk_create(items)
    _log(
        actor=user,
        action="import_batch.create",
        obj=batch,
        document_id=None,
        after={"files": [item.filename for item in items], "defaults": batch.defaults},
    )
    return batch


def _item_upload(item: ImportItem) -> Upload:
    return Upload(filename=item.filename, data=bytes(item.data), content_type=item.content_type)


def _item_read(item: ImportItem) -> None:
    """Preview one file of a batch: its text, metadata and clean-up suggestions."""
    try:
        defaults = DocumentMetadata.from_mapping(item.batch.defaults)
        preview = import_preview(upload=_item_upload(item), metadata=defaults)
    except ValidationError as exc:
        _item_record(
            item,
            ImportStatus.PENDING,
            status=ImportStatus.FAILED,
            error=validation_message(exc),
            data=b"",
        )
        return
    preview_data = {
        "format": preview.extracted.format,
        "encoding": preview.extracted.encoding,
        "pages": len(preview.extracted.page_breaks) + 1
        if preview.extracted.format == "pdf"
        else None,
        "length": len(preview.text),
        "language_confidence": preview.language_confidence,
        "text": preview.text[:_PREVIEW_TEXT_LENGTH],
        "truncated": len(preview.text) > _PREVIEW_TEXT_LENGTH,
        "suggestions": [
            {
                **suggestion.as_dict(preview.text),
                "label": suggestion.label,
                "paragraph_texts": suggestion.paragraphs(preview.text),
                "removed_text": suggestion.removed_text(preview.text),
            }
            for suggestion in preview.suggestions
        ],
    }
    _item_record(
        item,
        ImportStatus.PENDING,
        preview=preview_data,
        metadata=_metadata_as_form(preview.metadata),
        clean=[suggestion.id for suggestion in preview.suggestions],
        duplicate_of=preview.duplicate_of,
        status=ImportStatus.DUPLICATE if preview.duplicate_of else ImportStatus.READY,
    )


def _item_import(user: User, item: ImportItem) -> None:
    """Import one confirmed file of a batch with the metadata and clean-up chosen for it.

    The document and the file's outcome are stored in one transaction, so a file is never
    imported without its batch knowing. Any failure ends as the file's outcome, never as
    a file left waiting (which every later poll of the batch would trip over again).
    """
    try:
        with transaction.atomic():
            try:
                metadata = DocumentMetadata.from_mapping(item.metadata)
                document = document_import(
                    user=user,
                    upload=_item_upload(item),
                    metadata=metadata,
                    clean=item.clean or None,
                )
            except DuplicateDocument as exc:
                outcome: dict[str, Any] = {
                    "status": ImportStatus.DUPLICATE,
                    "duplicate_of": exc.document,
                }
            except ValidationError as exc:
                outcome = {"status": ImportStatus.FAILED, "error": validation_message(exc)}
            else:
                outcome = {"status": ImportStatus.IMPORTED, "document": document}
            # The document keeps the original file (SourceFile); the batch need not.
            _item_record(item, ImportStatus.QUEUED, data=b"", **outcome)
    except Exception:
        logger.exception("Importing %s (import item #%s) failed", item.filename, item.pk)
        _item_record(
            item,
            ImportStatus.QUEUED,
            status=ImportStatus.FAILED,
            error=f"{item.filename}: an unexpected error stopped the import; nothing was "
            "stored. The server's log has the details.",
        )


def _item_record(item: ImportItem, expected: str, **values: Any) -> None:
    """Record what became of a file, unless another request got there first (two pages
    polling the same batch): then its record stands, and this outcome (at most "duplicate",
    since the other request stored the document) is dropped."""
    ImportItem.objects.filter(pk=item.pk, status=expected).update(**values)
    for name, value in values.items():
        setattr(item, name, value)


def import_batch_step(*, user: User, batch: ImportBatch, limit: int = 3) -> int:
    """Read the next files waiting to be read, or import the next confirmed ones: at most
    `limit` per call, so that no request of a large batch runs for minutes. Returns how
    many files were handled; 0 when nothing is left to do. Each file is imported in its own
    transaction."""
    _require_admin(user)
    items = list(
        batch.items.filter(status__in=[ImportStatus.PENDING, ImportStatus.QUEUED])
        .select_related("batch")
        .order_by("position")[:limit]
    )
    for item in items:
        if item.status == ImportStatus.PENDING:
            _item_read(item)
        else:
            _item_import(user, item)
    return len(items)


def import_item_choose(
    *,
    user: User,
    item: ImportItem,
    include: bool,
    metadata: Mapping[str, Any],
    clean: Collection[str],
) -> ImportItem:
    """Record the admin's metadata and clean-up choice for a file read for import."""
    _require_admin(user)
    if item.status not in (ImportStatus.READY, ImportStatus.SKIPPED):
        raise ValidationError(f"{item.filename} is {item.get_status_display().lower()}.")
    known = {suggestion["id"] for suggestion in item.preview.get("suggestions", [])}
    unknown = [choice for choice in clean if choice not in known]
    if unknown:
        raise ValidationError({"clean": [f"Unknown clean-up suggestion: {', '.join(unknown)}."]})
    values = {name: metadata.get(name, "") for name in METADATA_FORM_FIELDS}
    checked = DocumentMetadata.from_mapping(values)
    if include and not checked.title:
        raise ValidationError({"title": ["Give the document a title."]})
    detected = item.metadata.get(
        "language_detected", False
    ) and checked.language == item.metadata.get("language")
    item.metadata = {**_metadata_as_form(checked), "language_detected": detected}
    item.clean = list(clean)
    item.status = ImportStatus.READY if include else ImportStatus.SKIPPED
    item.save(update_fields=["metadata", "clean", "status"])
    return item


@transaction.atomic
def import_batch_confirm(*, user: User, batch: ImportBatch) -> int:
    """Queue the batch's files that are ready; `import_batch_step` imports them."""
    _require_admin(user)
    queued = batch.items.filter(status=ImportStatus.READY).update(status=ImportStatus.QUEUED)
    batch.confirmed_at = timezone.now()
    batch.save(update_fields=["confirmed_at"])
    _log(
        actor=user,
        action="import_batch.confirm",
        obj=batch,
        document_id=None,
        after={"queued": queued},
    )
    return queued


_DOCUMENT_EDITABLE = [field.name for field in fields(DocumentMetadata)] + ["text"]


def document_update(*, user: User, document: Document, **changes: Any) -> Document:
    """Change a document's metadata (or its text, while nothing is annotated in it)."""
    _require_admin(user)
    unknown = set(changes) - set(_DOCUMENT_EDITABLE)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    before = {name: getattr(document, name) for name in changes}
    for name, value in changes.items():
        setattr(document, name, value)
    if "text" in changes:
        document.text = check_new_text(document.text, document_pk=document.pk)
    document.full_clean(exclude=["text", "length", "sha256", "imported_by"], validate_unique=False)
    changed = {
        name: value for name, value in changes.items() if before[name] != getattr(document, name)
    }
    if not changed:
        return document
    with transaction.atomic():
        if "text" in changed:
            # Wait for annotations being written on this document (their statements lock
            # its row too): Document.save then sees them and keeps the text they point into.
            Document.objects.select_for_update().filter(pk=document.pk).exists()
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


def check_span(
    *, user: User, document_id: int, start: Any, end: Any, quote: str | None, lock: bool = True
) -> CheckedSpan:
    """Check 0 <= start < end <= len(text) and, when given, quote == text[start:end].

    Call it inside the transaction that writes the span. Reads the document's length and
    SHA-256 (locking its row), and the text from this process's cache
    (`document_text`), so the cost does not grow with the document once it has been read:
    PostgreSQL's substring() would count characters from the start of a long text. Returns
    the span's quote, prefix and suffix, and the document (those fields only).

    With lock=False the row is not locked: the statement that writes the span must then
    lock it and check that its SHA-256 is still the one read here.
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
    # The row lock (or, with lock=False, the writing statement's) keeps a concurrent text
    # change (document_update) from slipping in between this check and the write; writes
    # on other documents, and reads, are not held up. SQLite serialises writes anyway.
    documents = Document.objects.visible_to(user).only("id", "length", "sha256")
    if lock:
        documents = documents.select_for_update(
            no_key=connection.features.has_select_for_no_key_update
        )
    document = documents.filter(pk=document_id).first() if 0 < document_id < 2**63 else None
    if document is None:
        raise ValidationError(
            {"document": [f"There is no document #{document_id} that you can read."]},
            code="unknown_document",
        )
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
        # Without the lock, the text can change (or the document go) between the two reads.
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


def _resolve_tags(tags: Sequence[Tag | str]) -> list[Tag]:
    """Tags from Tag objects or slugs; at least one, all known and active. They come in
    codebook order, as the database sorts them (its collation orders the names)."""
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise ValidationError({"tags": ["Give a list of tag slugs."]})
    if not tags:
        raise ValidationError({"tags": ["Choose at least one tag."]})
    slugs = [tag.slug if isinstance(tag, Tag) else tag for tag in tags]
    if not all(isinstance(slug, str) for slug in slugs):
        raise ValidationError({"tags": ["Each tag is given by its slug, as text."]})
    found = {tag.slug: tag for tag in _tags_by_slug(slugs)}
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
    return list(found.values())


def _tags_by_slug(slugs: list[str]) -> list[Tag]:
    """The tags with these slugs: id, slug, name, whether active and codebook position
    (other fields load on first use). One plain statement (see sco_annotate/rows.py): every
    create and edit reads them."""
    unique = list(dict.fromkeys(slugs))
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {rows.columns(Tag, _TAG_READ_FIELDS)} FROM "{Tag._meta.db_table}" '
            f'WHERE "slug" IN ({", ".join(["%s"] * len(unique))}) '
            'ORDER BY "sort_order", "name"',
            unique,
        )
        found = cursor.fetchall()
    return [rows.from_row(Tag, _TAG_READ_FIELDS, row) for row in found]


_TAG_READ_FIELDS = rows.field_names(Tag, "id", "slug", "name", "is_active", "sort_order")


def _check_note(note: Any) -> str:
    if not isinstance(note, str):
        raise ValidationError({"note": ["Must be text."]})
    return textlib.normalize_text(note).strip()


def _require_user(user: User) -> None:
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Log in to annotate.")


def _require_change_right(user: User, annotation: Annotation) -> None:
    """Checked before anything else, so that others learn nothing from error messages."""
    _require_user(user)
    if not annotation.can_change(user):
        raise PermissionDenied("You can change only your own annotations.")


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
    # On PostgreSQL the insert is one statement that takes the document's row lock itself
    # (see _insert_annotation_postgresql); elsewhere the checks and the inserts share a
    # transaction.
    one_statement = connection.vendor == "postgresql"
    with contextlib.nullcontext() if one_statement else transaction.atomic():
        span = check_span(
            user=user,
            document_id=document_id,
            start=start,
            end=end,
            quote=quote,
            lock=not one_statement,
        )
        tag_objects = _resolve_tags(tags)
        annotation = _new_annotation(user=user, span=span, note=_check_note(note))
        if one_statement:
            _insert_annotation_postgresql(annotation, tag_objects)
        else:
            _insert_annotation(annotation, tag_objects)
    _mark_saved(annotation)
    annotation.tag_list = tag_objects  # type: ignore[attr-defined]
    return annotation


def _insert_annotation(annotation: Annotation, tags: list[Tag]) -> None:
    """Insert the annotation, its tag links and its activity row: three statements, in the
    caller's transaction."""
    annotation.pk = _insert(
        Annotation, {name: getattr(annotation, name) for name in _ANNOTATION_COLUMNS}
    )
    links = Annotation.tags.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{links}" ("annotation_id", "tag_id") VALUES '
            + ", ".join(["(%s, %s)"] * len(tags)),
            [value for tag in tags for value in (annotation.pk, tag.pk)],
        )
    document_list_changed(annotation.document_id)
    _log(**_creation_activity(annotation, tags))


# An annotation's columns as a create writes them (the id comes from the database).
_ANNOTATION_COLUMNS = (
    "document_id", "start", "end", "quote", "prefix", "suffix", "note", "author_id", "created",
    "updated", "version",
)  # fmt: skip


def _new_annotation(*, user: User, span: CheckedSpan, note: str) -> Annotation:
    now = timezone.now()
    return Annotation(
        document=span.document,
        start=span.start,
        end=span.end,
        quote=span.quote,
        prefix=span.prefix,
        suffix=span.suffix,
        note=note,
        author=user,
        created=now,
        updated=now,
        version=1,
    )


def _creation_activity(annotation: Annotation, tags: list[Tag]) -> dict[str, Any]:
    return {
        "actor": annotation.author,
        "action": "annotation.create",
        "obj": annotation,
        "document_id": annotation.document_id,
        "after": annotation.snapshot([tag.slug for tag in tags]),
    }


def _mark_saved(annotation: Annotation) -> None:
    """Make a just-inserted instance what a fetch would give: saved, on this database."""
    annotation._state.adding = False
    annotation._state.db = connection.alias


def _insert_annotation_postgresql(annotation: Annotation, tags: list[Tag]) -> None:
    """Insert the annotation, its tag links and its activity row in one statement.

    Creating an annotation is the workspace's and the API's most frequent write. As one
    statement it needs no transaction of its own (no BEGIN, no COMMIT) and one round trip
    where the ORM would make five. The statement locks the document's row and checks that
    its text is still the one the span was checked against (its SHA-256): a concurrent
    text change (document_update) either waits for the insert or makes it insert nothing,
    which is refused here.
    """
    activity = _creation_activity(annotation, tags)
    values = [
        field.get_db_prep_save(getattr(annotation, field.attname), connection)
        for field in _ANNOTATION_FIELDS
    ]
    after = Activity._meta.get_field("after").get_db_prep_save(activity["after"], connection)
    with connection.cursor() as cursor:
        cursor.execute(
            _CREATE_SQL,
            [
                annotation.document_id,
                annotation.document.sha256,
                *values,
                [tag.pk for tag in tags],
                annotation.author_id,
                activity["action"],
                Annotation._meta.model_name,
                annotation.document_id,
                after,
                values[_ANNOTATION_COLUMNS.index("created")],
            ],
        )
        row = cursor.fetchone()
    if row is None:
        raise _text_changed()
    annotation.pk = row[0]


_ANNOTATION_FIELDS = [
    {field.attname: field for field in Annotation._meta.concrete_fields}[name]
    for name in _ANNOTATION_COLUMNS
]
_CREATE_SQL = f"""
WITH document AS (
    SELECT "id" FROM "{Document._meta.db_table}"
    WHERE "id" = %s AND "sha256" = %s
    FOR NO KEY UPDATE
), annotation AS (
    INSERT INTO "{Annotation._meta.db_table}"
        ({", ".join(f'"{field.column}"' for field in _ANNOTATION_FIELDS)})
    SELECT {", ".join(["%s"] * len(_ANNOTATION_FIELDS))} FROM document
    RETURNING "id"
), links AS (
    INSERT INTO "{Annotation.tags.through._meta.db_table}" ("annotation_id", "tag_id")
    SELECT annotation."id", tag FROM annotation, unnest(%s::bigint[]) AS tag
), activity AS (
    INSERT INTO "{Activity._meta.db_table}"
        ("actor_id", "action", "object_type", "object_id", "document_id", "after", "created")
    SELECT %s, %s, %s, annotation."id", %s, %s, %s FROM annotation
)
SELECT "id" FROM annotation
"""


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
    document_list_changed(annotation.document_id)
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
    _require_change_right(user, annotation)
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


# ---------------------------------------------------------------------------------------
# List versions


def document_list_changed(document_id: int) -> None:
    """Give a document's list of annotations a new version, in the caller's transaction:
    every change to its annotations or their tags calls this."""
    Document.objects.filter(pk=document_id).update(annotations_version=uuid.uuid4())


def shared_list_changed() -> None:
    """Give every document's list a new version, in the caller's transaction: a change to
    the codebook or to a user's name (signals.py calls this whatever made the change, the
    Django admin included)."""
    if not SharedVersion.objects.filter(pk=SharedVersion.ROW).update(token=uuid.uuid4()):
        SharedVersion.objects.get_or_create(pk=SharedVersion.ROW)


def user_renamed(user: User) -> None:
    """A new username is a new `author` on each of the user's annotations: they get a new
    `updated` and version, so that a client that syncs with `updated_after` sees it."""
    Annotation.objects.filter(author=user).update(updated=timezone.now(), version=F("version") + 1)
    shared_list_changed()


# ---------------------------------------------------------------------------------------
# API tokens

#: Tokens start with this, so that secret scanners and people recognise them.
API_TOKEN_PREFIX = "sco_"


def api_token_hash(token: str) -> str:
    """The SHA-256 under which a token is stored: the database never holds a usable token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def api_token_create(
    *, actor: User | None, user: User, name: str = "", read_only: bool = True
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with the plain token, which is never stored.

    Show the plain token to its owner once: afterwards only its hash and first characters
    are known.
    """
    if not user.is_active:
        raise ValidationError(
            {"user": [f"{user.username} is inactive: activate the account first."]}
        )
    name = name.strip()
    if len(name) > 100:
        raise ValidationError({"name": ["At most 100 characters."]})
    plain = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=plain[:12],
        key_hash=api_token_hash(plain),
        read_only=read_only,
    )
    _log(
        actor=actor,
        action="api_token.create",
        obj=token,
        document_id=None,
        after={"user": user.username, "name": name, "prefix": token.prefix, "read_only": read_only},
    )
    return token, plain


@transaction.atomic
def api_token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    """Revoke a token for good: requests with it get 401 from now on."""
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    _log(
        actor=actor,
        action="api_token.revoke",
        obj=token,
        document_id=None,
        before={"revoked": False},
        after={"revoked": True, "prefix": token.prefix, "user_id": token.user_id},
    )
    return token
