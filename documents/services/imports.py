"""Importing files: one file (the command, the web pages and the API all come through
here), and batches of files on the web pages, read and imported a few files per request."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from documents import cleanup as cleanuplib
from documents import extract as extractlib
from documents import refusals
from documents.models import (
    DatePrecision,
    Document,
    ImportBatch,
    ImportItem,
    ImportStatus,
    SourceFile,
)
from projects.models import Project

from .activity import log
from .documents import (
    DocumentMetadata,
    DuplicateDocument,
    NewText,
    Upload,
    document_create,
    importing_into,
)

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Import: one file (the command, the web pages and the API all come through here)


@dataclass(frozen=True)
class ImportPreview:
    """What importing a file would store, worked out without storing anything."""

    upload: Upload
    extracted: extractlib.Extracted
    #: The extracted text, normalised and hashed: the suggestions' offsets point into it.
    new_text: NewText
    #: The metadata given, completed with the title and language derived from the file.
    metadata: DocumentMetadata
    language_confidence: float | None
    suggestions: list[cleanuplib.Suggestion]
    #: The stored document with the same text or the same original file, if any.
    duplicate_of: Document | None

    @property
    def text(self) -> str:
        return self.new_text.text

    @property
    def normalization(self) -> dict[str, int]:
        return self.new_text.changes

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
                "sha256": self.upload.sha256,
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


def _find_duplicate(*, project: Project, upload: Upload, text: NewText) -> Document | None:
    """A document of `project` with this normalised text, or imported from these very
    bytes (the same file imported earlier with clean-up applied has a different text). One
    query."""
    same_file = SourceFile.objects.filter(size=len(upload.data), sha256=upload.sha256).values(
        "document_id"
    )
    return (
        Document.objects.filter(project=project)
        .filter(Q(sha256=text.sha256) | Q(pk__in=same_file))
        .only("pk", "title")
        .order_by("pk")
        .first()
    )


def import_preview(
    *, upload: Upload, project: Project, metadata: DocumentMetadata | None = None
) -> ImportPreview:
    """Read a file and say what importing it into `project` would store: its text, derived
    metadata, the clean-up suggestions and any duplicate in the project. Stores nothing.

    The file is extracted once and its text normalised and hashed once; `document_import`
    stores what this found. Raises ValidationError, naming the file, when the file cannot be
    imported.
    """
    metadata = metadata or DocumentMetadata()
    extracted = extractlib.extract(upload.filename, upload.data)
    new_text = NewText.of(extracted.text)
    if not new_text.text.strip():
        raise ValidationError(
            f"{extracted.filename}: no text is left once control characters are removed.",
            code="empty",
        )
    confidence: float | None = None
    if not metadata.title:
        stem = extracted.filename.rsplit(".", 1)[0] if "." in extracted.filename else ""
        metadata = replace(metadata, title=extracted.title or stem or extracted.filename)
    if not metadata.language:
        language, confidence = extractlib.detect_language(new_text.text)
        if language:
            metadata = replace(metadata, language=language, language_detected=True)
    return ImportPreview(
        upload=upload,
        extracted=extracted,
        new_text=new_text,
        metadata=metadata,
        language_confidence=confidence,
        suggestions=cleanuplib.suggest(new_text.text),
        duplicate_of=_find_duplicate(project=project, upload=upload, text=new_text),
    )


def document_import(
    *,
    user: User | None,
    upload: Upload,
    metadata: DocumentMetadata,
    clean: bool | Collection[str] | None = None,
    project: Project | int | None = None,
) -> Document:
    """Import one file (text, Markdown, HTML, PDF or Word) as a document of `project`
    (by default the only one the user may import into).

    `clean` chooses the clean-up: None or False applies none (the suggestions are still
    recorded in the import report), True applies every suggestion, and a collection applies
    the suggestions with those ids (or of those kinds, e.g. {"repeated"}). The title
    defaults to the page's or file's title, the language to the detected one.

    Raises ValidationError naming the file when it cannot be read, DuplicateDocument when
    its text (or the very same file) is already stored. Nothing is saved when it raises.
    """
    into = importing_into(user, project)
    preview = import_preview(upload=upload, project=into, metadata=metadata)
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
    # Without clean-up the text is the one read, normalised and hashed above. Clean-up makes
    # a new text, which is normalised (its changes are not reported: the report keeps those
    # of the file's text) and hashed once.
    return document_create(
        user=user,
        project=into,
        text=cleaned.text if chosen else preview.new_text,
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
    project: Project | int | None = None,
) -> ImportBatch:
    """Keep uploaded files (zip archives unpacked) as a batch to be read and imported.

    Files that are refused at once (too large, unsafe paths in an archive) are kept as
    failed items with their reason, so the admin sees every file they sent. `oversized`
    names the files (with their sizes) that the caller did not read because they are
    above the import limit. The files go into `project` (by default the only one the user
    may import into).
    """
    into = importing_into(user, project)
    if not uploads and not oversized:
        raise ValidationError({"files": ["Choose at least one file to import."]})
    checked = DocumentMetadata.from_mapping(defaults)
    batch = ImportBatch.objects.create(
        project=into,
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
            add(extractlib.base_name(filename), b"", error=refusals.one_line(exc))
    for upload in uploads:
        try:
            if extractlib.file_kind(upload.filename) == "zip":
                for member in extractlib.expand_archive(upload.filename, upload.data):
                    error = refusals.one_line(member.error) if member.error else ""
                    add(member.filename, member.data, error=error)
            else:
                extractlib.check_size(upload.filename, len(upload.data))
                add(upload.filename, upload.data, upload.content_type)
        except ValidationError as exc:
            add(extractlib.base_name(upload.filename), b"", error=refusals.one_line(exc))
    if not items:
        raise ValidationError({"files": ["The archive holds no files to import."]})
    ImportItem.objects.bulk_create(items)
    log(
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
        preview = import_preview(
            upload=_item_upload(item), project=item.batch.project, metadata=defaults
        )
    except ValidationError as exc:
        _item_record(
            item,
            ImportStatus.PENDING,
            status=ImportStatus.FAILED,
            error=refusals.one_line(exc),
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
                    project=item.batch.project_id,
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
                outcome = {"status": ImportStatus.FAILED, "error": refusals.one_line(exc)}
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
    importing_into(user, batch.project_id)
    items = list(
        batch.items.filter(status__in=[ImportStatus.PENDING, ImportStatus.QUEUED])
        .select_related("batch__project")
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
    """Record the owner's metadata and clean-up choice for a file read for import."""
    importing_into(user, item.batch.project_id)
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
    importing_into(user, batch.project_id)
    queued = batch.items.filter(status=ImportStatus.READY).update(status=ImportStatus.QUEUED)
    batch.confirmed_at = timezone.now()
    batch.save(update_fields=["confirmed_at"])
    log(
        actor=user,
        action="import_batch.confirm",
        obj=batch,
        document_id=None,
        after={"queued": queued},
    )
    return queued
