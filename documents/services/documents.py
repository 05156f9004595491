"""Documents: their metadata, their text as stored, and their creation and changes."""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from documents import refusals
from documents import text as textlib
from documents.models import Activity, DatePrecision, Document, DocumentType, SourceFile
from projects.models import Action, Project
from projects.selectors import project_for
from research.index import index_or_queue

from .activity import entry, log, log_all


class DuplicateDocument(ValidationError):
    """The normalised text is already in the project, as `document`."""

    def __init__(self, document: Document) -> None:
        super().__init__(
            f"This text is already in the project as document #{document.pk} ({document.title!r}).",
            code="duplicate",
        )
        self.document = document


class InvalidDocuments(ValidationError):
    """Documents given to `documents_create` that cannot be stored: `errors` maps the
    position of each (counted from 0, in the order given) to its refusal."""

    def __init__(self, errors: Mapping[int, ValidationError]) -> None:
        super().__init__(
            {str(position): [refusals.one_line(exc)] for position, exc in errors.items()}
        )
        self.errors = dict(errors)


class DuplicateDocuments(ValidationError):
    """Texts given to `documents_create` that are in the corpus already (`stored`: position
    → the document holding it) or given twice (`repeated`: position → the position where
    the same text came first). Positions count from 0, in the order given."""

    def __init__(self, *, stored: Mapping[int, Document], repeated: Mapping[int, int]) -> None:
        super().__init__(
            f"{len(stored)} of the texts are already in the project and {len(repeated)} repeat "
            "a text sent before them: nothing was stored. Leave those out and send the rest.",
            code="duplicate",
        )
        self.stored = dict(stored)
        self.repeated = dict(repeated)


#: Most documents `documents_create` stores at once: beyond, a request holds a lot of text
#: in memory (see API_BULK_MAX_BYTES) and one transaction runs long.
MAX_DOCUMENTS_AT_ONCE = 1000


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

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes: worked out once, for the duplicate check, the import
        report, the stored source file and the activity log alike."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class NewText:
    """A text as a document would store it: normalised, with what normalisation changed
    and its SHA-256. Made once per text (`NewText.of`) and passed along, so that no step
    of an import normalises or hashes the same text again."""

    text: str
    #: What normalisation changed, by kind, for the import report.
    changes: dict[str, int]
    sha256: str

    @classmethod
    def of(cls, text: str) -> NewText:
        normalized = textlib.normalize(text)
        return cls(normalized.text, normalized.changes, textlib.text_sha256(normalized.text))


def check_new_text(text: str, *, project: Project, document_pk: int | None = None) -> str:
    """The text that a document of `project` would store: normalised, not empty, not
    already stored as another document of it. Raises ValidationError (on "text") or
    DuplicateDocument."""
    return _check_new(NewText.of(text), project=project, document_pk=document_pk).text


def _check_new(new: NewText, *, project: Project, document_pk: int | None = None) -> NewText:
    """check_new_text for a text already normalised and hashed."""
    _check_not_empty(new)
    same = Document.objects.filter(project=project, sha256=new.sha256).only("pk", "title")
    if document_pk is not None:
        same = same.exclude(pk=document_pk)
    duplicate = same.first()
    if duplicate is not None:
        raise DuplicateDocument(duplicate)
    return new


def _check_not_empty(new: NewText) -> None:
    if not new.text.strip():
        raise ValidationError({"text": "The text is empty: there is nothing to annotate."})


def _check_title(metadata: DocumentMetadata) -> None:
    if not metadata.title.strip():
        raise ValidationError({"title": "Give the document a title."})


def importing_into(user: User | None, project: Project | int | None) -> Project:
    """The project into which `user` imports: the one given or the only one they may
    import into (projects.selectors.project_for). Its owners import; None is the operator
    running a command."""
    return project_for(user=user, project=project, action=Action.IMPORT)


def document_create(
    *,
    user: User | None,
    text: str | NewText,
    metadata: DocumentMetadata,
    project: Project | int | None = None,
    source: Upload | None = None,
    import_report: Mapping[str, Any] | None = None,
    page_breaks: Sequence[int] = (),
) -> Document:
    """Store a new document of `project` with its normalised text, source file and
    provenance.

    `text` is the text as given, or as `NewText.of` prepared it (an import has done that
    already). Without `project`, the only project the user may import into. Raises
    DuplicateDocument when the same normalised text is already in the project, and
    ValidationError for an empty text, bad metadata or no project to choose,
    PermissionDenied for a user who is not an owner of the project. Nothing is saved when
    it raises.
    """
    into = importing_into(user, project)
    new = text if isinstance(text, NewText) else NewText.of(text)
    _check_title(metadata)
    _check_new(new, project=into)
    document = _document(
        user=user,
        project=into,
        new=new,
        metadata=metadata,
        page_breaks=page_breaks,
        import_report=import_report,
    )
    try:
        with transaction.atomic():
            document.save()
            if source is not None:
                SourceFile.objects.create(
                    document=document,
                    filename=source.filename[:500],
                    content_type=source.content_type[:200],
                    size=len(source.data),
                    sha256=source.sha256,
                    data=source.data,
                )
            log_all([_import_entry(document, user=user, source=source)])
            index_or_queue([(document.pk, document.text)], new=True)
    except IntegrityError:
        # Another import stored the same text between the check above and this insert.
        existing = (
            Document.objects.filter(project=into, sha256=document.sha256)
            .only("pk", "title")
            .first()
        )
        if existing is None:
            raise
        raise DuplicateDocument(existing) from None
    return document


def documents_create(
    *,
    user: User | None,
    items: Sequence[tuple[str | NewText, DocumentMetadata]],
    project: Project | int | None = None,
) -> list[Document]:
    """Store several new documents, all or none, in the order given: for each what
    `document_create` stores and logs, in a fixed number of statements however many they
    are (one query for the duplicate check, one insert for the documents, one for the log,
    where the database takes that many rows in one statement).

    Raises InvalidDocuments naming each refused item by its position, DuplicateDocuments
    when texts are already stored or given twice, ValidationError for no items or more
    than MAX_DOCUMENTS_AT_ONCE or no project to choose, PermissionDenied for a user who is
    not an owner of the project. Nothing is saved when it raises.
    """
    into = importing_into(user, project)
    if not items:
        raise ValidationError("Give at least one document.", code="empty")
    if len(items) > MAX_DOCUMENTS_AT_ONCE:
        raise ValidationError(
            f"At most {MAX_DOCUMENTS_AT_ONCE} documents at once, not {len(items)}: send the "
            "rest in another request.",
            code="too_many",
        )
    documents: list[Document] = []
    errors: dict[int, ValidationError] = {}
    for position, (text, metadata) in enumerate(items):
        new = text if isinstance(text, NewText) else NewText.of(text)
        try:
            _check_title(metadata)
            _check_not_empty(new)
            document = _document(user=user, project=into, new=new, metadata=metadata)
        except ValidationError as exc:
            errors[position] = exc
            continue
        # bulk_create skips Document.save(), which stores the text normalised (again).
        document.text, document.sha256 = _as_saved(new)
        document.length = len(document.text)
        documents.append(document)
    if errors:
        raise InvalidDocuments(errors)
    _check_distinct(into, documents)
    try:
        with transaction.atomic():
            Document.objects.bulk_create(documents)
            log_all([_import_entry(document, user=user, source=None) for document in documents])
            index_or_queue([(d.pk, d.text) for d in documents], new=True)
    except IntegrityError:
        # Another import stored one of these texts between the check above and the insert.
        _check_distinct(into, documents)
        raise
    return documents


def _document(
    *,
    user: User | None,
    project: Project,
    new: NewText,
    metadata: DocumentMetadata,
    page_breaks: Sequence[int] = (),
    import_report: Mapping[str, Any] | None = None,
) -> Document:
    """A new document, not yet saved, with its metadata checked (ValidationError)."""
    document = Document(
        project=project,
        text=new.text,
        length=len(new.text),
        sha256=new.sha256,
        page_breaks=list(page_breaks),
        import_report={"normalization": new.changes, **(import_report or {})},
        imported_by=user,
        **{field.name: getattr(metadata, field.name) for field in fields(metadata)},
    )
    if document.published is None:
        document.date_precision = ""
    # The project was checked by the caller (importing_into): no query per document.
    document.full_clean(
        exclude=["project", "text", "length", "sha256", "imported_by"], validate_unique=False
    )
    return document


def _as_saved(new: NewText) -> tuple[str, str]:
    """The text and SHA-256 that Document.save() stores for `new`: it normalises again.

    That changes only a text the first pass changed (one that began with two byte-order
    marks, say): a text that needed nothing is kept as it is, without a second scan.
    """
    if not new.changes:
        return new.text, new.sha256
    text = textlib.normalize_text(new.text)
    return text, new.sha256 if text == new.text else textlib.text_sha256(text)


def _check_distinct(project: Project, documents: Sequence[Document]) -> None:
    """Raise DuplicateDocuments if a text is in `project` already or repeated among
    `documents`: one query for all of them."""
    hashes = [document.sha256 for document in documents]
    stored_by_hash = {
        found.sha256: found
        for found in Document.objects.filter(project=project, sha256__in=set(hashes))
        .only("pk", "title", "sha256")
        .order_by()
    }
    stored: dict[int, Document] = {}
    repeated: dict[int, int] = {}
    first: dict[str, int] = {}
    for position, sha256 in enumerate(hashes):
        if sha256 in stored_by_hash:
            stored[position] = stored_by_hash[sha256]
        elif sha256 in first:
            repeated[position] = first[sha256]
        else:
            first[sha256] = position
    if stored or repeated:
        raise DuplicateDocuments(stored=stored, repeated=repeated)


def _import_entry(document: Document, *, user: User | None, source: Upload | None) -> Activity:
    """The activity row that records a document's import."""
    return entry(
        actor=user,
        action="document.import",
        obj=document,
        document_id=document.pk,
        after={
            "title": document.title,
            "project": document.project_id,
            "sha256": document.sha256,
            "length": document.length,
            "source": source.filename if source else None,
            "source_sha256": source.sha256 if source else None,
            "import_report": document.import_report,
        },
    )


_DOCUMENT_EDITABLE = [field.name for field in fields(DocumentMetadata)] + ["text"]


def document_update(*, user: User, document: Document, **changes: Any) -> Document:
    """Change a document's metadata (or its text, while nothing is annotated in it): the
    project's owners."""
    importing_into(user, document.project_id)
    unknown = set(changes) - set(_DOCUMENT_EDITABLE)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    before = {name: getattr(document, name) for name in changes}
    for name, value in changes.items():
        setattr(document, name, value)
    if "text" in changes:
        document.text = check_new_text(
            document.text, project=document.project, document_pk=document.pk
        )
    document.full_clean(exclude=["text", "length", "sha256", "imported_by"], validate_unique=False)
    changed = {
        name: value for name, value in changes.items() if before[name] != getattr(document, name)
    }
    if not changed:
        return document
    with transaction.atomic():
        if "text" in changed:
            # Wait for annotations being written on this document (their transactions lock
            # its row too): Document.save then sees them and keeps the text they point into.
            Document.objects.select_for_update().filter(pk=document.pk).exists()
        # The changed fields only: the document was read before any lock, and a passage
        # written since moved its annotations_version, which must stay moved.
        document.save(update_fields=[*changed, "updated_at"])
        if "text" in changed:
            index_or_queue([(document.pk, document.text)])
        log(
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
