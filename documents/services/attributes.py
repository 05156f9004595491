"""Document attributes: the typed fields a project's owners define for its documents
(country, issuer type, legal status, adoption date), and their values, set one document at
a time or from a CSV file.

Who may: the right to import documents and change their metadata (`Action.IMPORT`, the
owners): the attributes are the project's own document metadata. Deleting an attribute
deletes its values with it; the activity row of the delete keeps them.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.text import slugify

from documents.models import (
    ATTRIBUTE_NUMBER_DIGITS,
    ATTRIBUTE_NUMBER_PLACES,
    ATTRIBUTE_TEXT_LENGTH,
    Activity,
    Attribute,
    AttributeKind,
    AttributeValue,
    Document,
    value_text,
)
from projects.models import Action, Project
from projects.selectors import project_for

from .activity import entry, log, log_all

#: Names that the documents' own fields, the CSV's first column and the passage exports'
#: columns use already: an attribute named so would be mistaken for one of them.
RESERVED_NAMES = frozenset(
    {
        "id",
        "document",
        "document_id",
        "project",
        "title",
        "organisation",
        "author",
        "source_url",
        "published",
        "date_precision",
        "language",
        "language_detected",
        "document_type",
        "type",
        "notes",
        "text",
        "length",
        "sha256",
        "passage_id",
        "codes",
        "quote",
        "context_before",
        "context_after",
        "note",
        "coder",
        "created",
        "page",
        "url",
    }
)
#: The most choices a choice attribute lists.
MAX_CHOICES = 500
#: The largest CSV file of attribute values read.
MAX_CSV_BYTES = 10 * 1024 * 1024
#: Refusals of a CSV file listed one by one; the rest are counted.
MAX_CSV_ERRORS = 50

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_INTEGER_DIGITS = ATTRIBUTE_NUMBER_DIGITS - ATTRIBUTE_NUMBER_PLACES


def _key(text: str) -> str:
    """How names, headers and choices are compared: case and spacing aside."""
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------------------------------
# Definitions


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": ["Give the attribute a name."]})
    name = " ".join(name.split())
    if len(name) > 100:
        raise ValidationError({"name": [f"At most 100 characters, not {len(name)}."]})
    return name


def _clean_choices(kind: str, choices: Any) -> list[str]:
    """A choice attribute's list of values: each stripped, none empty or repeated."""
    if isinstance(choices, str):
        choices = choices.splitlines()
    values = [" ".join(str(choice).split()) for choice in choices or ()]
    values = [value for value in values if value]
    if kind != AttributeKind.CHOICE:
        if values:
            raise ValidationError(
                {"choices": ["Only a choice attribute lists choices: leave them empty."]}
            )
        return []
    if not values:
        raise ValidationError(
            {"choices": ["List the values a choice attribute allows, one per line."]}
        )
    problems = []
    seen: set[str] = set()
    for value in values:
        if _key(value) in seen:
            problems.append(f"{value!r} is listed twice: list each choice once.")
        seen.add(_key(value))
        if len(value) > ATTRIBUTE_TEXT_LENGTH:
            problems.append(
                f"{value[:40]!r}… is longer than {ATTRIBUTE_TEXT_LENGTH} characters: shorten it."
            )
        elif _control_character(value):
            problems.append(f"{value!r} contains a control character: remove it.")
    if len(values) > MAX_CHOICES:
        problems.append(f"At most {MAX_CHOICES} choices, not {len(values)}.")
    if problems:
        raise ValidationError({"choices": problems})
    return values


def _check_free(project_id: int, *, name: str, slug: str, pk: int | None = None) -> None:
    """Refuse a name or slug that another attribute of the project, a document field or an
    export column has (a CSV header names an attribute by either)."""
    errors: dict[str, list[str]] = {}
    for value, where in ((name, "name"), (slug, "slug")):
        if _key(value) in RESERVED_NAMES or _key(value).replace(" ", "_") in RESERVED_NAMES:
            errors[where] = [
                f"{value!r} names a field of every document or a column of the exports "
                "already: choose another."
            ]
    others = Attribute.objects.filter(project_id=project_id)
    if pk is not None:
        others = others.exclude(pk=pk)
    for other_name, other_slug in others.values_list("name", "slug"):
        if "name" not in errors and _key(name) == _key(other_name):
            errors["name"] = [f"Another attribute of the project is called {other_name!r}."]
        elif "name" not in errors and _key(name) == other_slug:
            errors["name"] = [
                f"This is the slug of the attribute {other_name}: a CSV column so named "
                "would mean either. Choose another name."
            ]
        if "slug" not in errors and slug in (other_slug, _key(other_name)):
            errors["slug"] = [
                f"The attribute {other_name} has this slug or name already: choose another."
            ]
    if errors:
        raise ValidationError(errors)


def _snapshot(attribute: Attribute) -> dict[str, Any]:
    return {
        "project": attribute.project_id,
        "name": attribute.name,
        "slug": attribute.slug,
        "kind": attribute.kind,
        "choices": list(attribute.choices),
        "sort_order": attribute.sort_order,
    }


def attribute_create(
    *,
    user: User | None,
    project: Project | int,
    name: str,
    kind: str,
    slug: str = "",
    choices: Sequence[str] | str = (),
) -> Attribute:
    """A new attribute of the project's documents (its owners): `kind` is text, choice,
    number or date; a choice attribute lists the values it allows. The slug is made from
    the name when not given, and fixed once made."""
    into = project_for(user=user, project=project, action=Action.IMPORT)
    name = _clean_name(name)
    if kind not in AttributeKind.values:
        raise ValidationError(
            {"kind": [f"Choose a kind: {', '.join(AttributeKind.values)} (not {kind!r})."]}
        )
    slug = (slug or "").strip().lower() or slugify(name)[:100]
    if not slug:
        raise ValidationError(
            {"slug": ["Give a slug of Latin letters, digits and hyphens (the name has none)."]}
        )
    if not _SLUG.match(slug) or len(slug) > 100:
        raise ValidationError(
            {"slug": [f"{slug!r} is not a slug: use a-z, 0-9, - and _ (at most 100)."]}
        )
    values = _clean_choices(kind, choices)
    with transaction.atomic():
        _check_free(into.pk, name=name, slug=slug)
        last = Attribute.objects.filter(project=into).order_by("-sort_order").first()
        attribute = Attribute(
            project=into,
            name=name,
            slug=slug,
            kind=kind,
            choices=values,
            sort_order=last.sort_order + 10 if last else 0,
        )
        try:
            with transaction.atomic():
                attribute.save()
        except IntegrityError:
            # Another owner made the same attribute at the same moment.
            raise ValidationError(
                {"name": [f"Another attribute of the project is called {name!r}."]}
            ) from None
        log(
            actor=user,
            action="attribute.create",
            obj=attribute,
            document_id=None,
            after=_snapshot(attribute),
        )
    return attribute


def _locked(user: User | None, attribute: Attribute) -> Attribute:
    """The attribute read again with its row locked (writes of its values wait), after
    checking the user's right in its project."""
    project_for(user=user, project=attribute.project_id, action=Action.IMPORT)
    found = Attribute.objects.select_for_update().filter(pk=attribute.pk).first()
    if found is None:
        raise ValidationError({"attribute": ["This attribute was deleted meanwhile."]})
    return found


def _in_use(attribute: Attribute) -> int:
    return AttributeValue.objects.filter(attribute=attribute).count()


def attribute_update(
    *,
    user: User | None,
    attribute: Attribute,
    name: str | None = None,
    kind: str | None = None,
    choices: Sequence[str] | str | None = None,
    sort_order: int | None = None,
) -> Attribute:
    """Change an attribute (its owners): its name, its place among the others, a choice
    attribute's choices (a choice that documents have cannot go), its kind while no
    document has a value. The slug never changes."""
    with transaction.atomic():
        found = _locked(user, attribute)
        before = _snapshot(found)
        if name is not None:
            found.name = _clean_name(name)
        if kind is not None and kind != found.kind:
            if kind not in AttributeKind.values:
                raise ValidationError(
                    {"kind": [f"Choose a kind: {', '.join(AttributeKind.values)} (not {kind!r})."]}
                )
            used = _in_use(found)
            if used:
                raise ValidationError(
                    {
                        "kind": [
                            f"{used} document{'s have values' if used != 1 else ' has a value'} "
                            f"of {found.name}: its kind cannot change. Clear them first, or "
                            "define a new attribute."
                        ]
                    }
                )
            found.kind = kind
            if kind != AttributeKind.CHOICE and choices is None:
                found.choices = []
        if choices is not None or found.kind == AttributeKind.CHOICE:
            new = _clean_choices(found.kind, found.choices if choices is None else choices)
            if found.kind == AttributeKind.CHOICE:
                _keep_used_choices(found, new)
            found.choices = new
        if sort_order is not None:
            found.sort_order = int(sort_order)
        _check_free(found.project_id, name=found.name, slug=found.slug, pk=found.pk)
        after = _snapshot(found)
        if after != before:
            try:
                with transaction.atomic():
                    found.save()
            except IntegrityError:
                raise ValidationError(
                    {"name": [f"Another attribute of the project is called {found.name!r}."]}
                ) from None
            log(
                actor=user,
                action="attribute.update",
                obj=found,
                document_id=None,
                before=before,
                after=after,
            )
    return found


def _keep_used_choices(attribute: Attribute, choices: list[str]) -> None:
    """Refuse to drop a choice that documents have (or to respell one: values are stored
    as spelt)."""
    kept = set(choices)
    used = (
        AttributeValue.objects.filter(attribute=attribute)
        .exclude(value_text__in=kept)
        .values("value_text")
        .annotate(n=Count("pk"))
        .order_by("value_text")
    )
    problems = [
        f"{row['value_text']!r} is the value of {row['n']} document{'s' if row['n'] != 1 else ''}: "
        "change those first, or keep the choice."
        for row in used
    ]
    if problems:
        raise ValidationError({"choices": problems})


def attribute_delete(*, user: User | None, attribute: Attribute) -> int:
    """Delete an attribute with its values (its owners); returns how many values went.
    The activity row keeps them all, by document id."""
    with transaction.atomic():
        found = _locked(user, attribute)
        values = {
            str(row.document_id): row.text
            for row in AttributeValue.objects.filter(attribute=found).order_by("document_id")
        }
        touched = [int(pk) for pk in values]
        log(
            actor=user,
            action="attribute.delete",
            obj=found,
            document_id=None,
            before={**_snapshot(found), "values": values},
        )
        found.delete()
        if touched:
            Document.objects.filter(pk__in=touched).update(updated_at=timezone.now())
    return len(values)


# ---------------------------------------------------------------------------------------
# Values


def _control_character(text: str) -> str:
    return next((char for char in text if unicodedata.category(char) == "Cc"), "")


def parse_value(attribute: Attribute, raw: Any, *, new_choices: bool = False) -> Any:
    """The value to store for what was typed (a form's field, a CSV cell): None for nothing
    (an empty value clears), else the text, choice, Decimal or date. Raises ValidationError
    with a message that says what to write instead. A choice is matched ignoring case and
    spacing and stored as the attribute spells it; with `new_choices`, a value that is no
    choice yet is taken as it is (the caller adds it to the choices)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        return _typed(attribute, raw)
    text = " ".join(raw.split())
    if not text:
        return None
    if attribute.kind == AttributeKind.NUMBER:
        return _number(text)
    if attribute.kind == AttributeKind.DATE:
        return _date(text)
    bad = _control_character(text)
    if bad:
        raise ValidationError(
            f"{text[:40]!r} contains a control character (U+{ord(bad):04X}): remove it."
        )
    if len(text) > ATTRIBUTE_TEXT_LENGTH:
        raise ValidationError(
            f"{text[:40]!r}… is {len(text)} characters long: at most {ATTRIBUTE_TEXT_LENGTH}."
        )
    if attribute.kind == AttributeKind.CHOICE:
        by_key = {_key(choice): choice for choice in attribute.choices}
        found = by_key.get(_key(text))
        if found is not None:
            return found
        if new_choices:
            return text
        raise ValidationError(
            f"{text!r} is not one of the choices of {attribute.name} "
            f"({', '.join(attribute.choices)}): add it to the attribute's choices first.",
            code="unknown_choice",
        )
    return text


def _typed(attribute: Attribute, value: Any) -> Any:
    """A value given as a number or a date rather than as text (a program's call)."""
    if attribute.kind == AttributeKind.DATE and isinstance(value, datetime.date):
        return value.date() if isinstance(value, datetime.datetime) else value
    number = isinstance(value, int | Decimal | float) and not isinstance(value, bool)
    if attribute.kind == AttributeKind.NUMBER and number:
        return _number(str(value) if isinstance(value, int) else f"{value:f}")
    raise ValidationError(
        f"{value!r} is not a value of {attribute.name}, a {attribute.get_kind_display().lower()} "
        "attribute."
    )


def _number(text: str) -> Decimal:
    if not _NUMBER.match(text):
        raise ValidationError(
            f"{text!r} is not a number: write digits with a point for decimals and no "
            "thousands separator, e.g. 1234.5."
        )
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover (the pattern admits only numbers)
        raise ValidationError(f"{text!r} is not a number.") from None
    whole, _, decimals = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > _INTEGER_DIGITS:
        raise ValidationError(
            f"{text!r} is too large: at most {_INTEGER_DIGITS} digits before the point."
        )
    if len(decimals.rstrip("0")) > ATTRIBUTE_NUMBER_PLACES:
        raise ValidationError(
            f"{text!r} has more than {ATTRIBUTE_NUMBER_PLACES} decimals: round it."
        )
    return number


def _date(text: str) -> datetime.date:
    match = _DATE.match(text)
    if match:
        try:
            return datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    raise ValidationError(f"{text!r} is not a date: write YYYY-MM-DD")


def _stored(attribute: Attribute, value: Any) -> AttributeValue:
    row = AttributeValue(attribute_id=attribute.pk)
    setattr(row, attribute.column, value)
    return row


@dataclass
class _Changes:
    """What a write changes: per document, per attribute, the new value (None: cleared)."""

    by_document: dict[int, dict[int, Any]] = field(default_factory=dict)

    def add(self, document_id: int, attribute: Attribute, value: Any) -> None:
        self.by_document.setdefault(document_id, {})[attribute.pk] = value


@dataclass(frozen=True)
class AttributeWrite:
    """What a write of attribute values did."""

    #: Documents whose values changed.
    documents: int = 0
    #: Values set (new or changed) and cleared.
    values_set: int = 0
    values_cleared: int = 0


def _apply(
    user: User | None, attributes: Iterable[Attribute], changes: _Changes
) -> tuple[AttributeWrite, list[Activity]]:
    """Write the changes that change something, in the caller's transaction: the documents'
    rows locked (in id order) first, then one statement each to delete, insert and update
    values. Returns what was done and one activity row per document changed (not written:
    the caller writes them with its own)."""
    by_pk = {attribute.pk: attribute for attribute in attributes}
    ids = sorted(changes.by_document)
    list(Document.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    existing = {
        (row.document_id, row.attribute_id): row
        for row in AttributeValue.objects.filter(document_id__in=ids, attribute_id__in=list(by_pk))
    }
    deleted: list[int] = []
    created: list[AttributeValue] = []
    updated: list[AttributeValue] = []
    entries: list[Activity] = []
    for document_id in ids:
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        for attribute_pk, value in changes.by_document[document_id].items():
            attribute = by_pk[attribute_pk]
            row = existing.get((document_id, attribute_pk))
            old = row.value if row is not None else None
            if old == value:
                continue
            before[attribute.slug] = value_text(old)
            after[attribute.slug] = value_text(value)
            if value is None:
                assert row is not None
                deleted.append(row.pk)
            elif row is None:
                new = _stored(attribute, value)
                new.document_id = document_id
                created.append(new)
            else:
                setattr(row, attribute.column, value)
                updated.append(row)
        if after:
            entries.append(
                entry(
                    actor=user,
                    action="document.attributes",
                    obj=Document(pk=document_id),
                    document_id=document_id,
                    before=before,
                    after=after,
                )
            )
    if deleted:
        AttributeValue.objects.filter(pk__in=deleted).delete()
    if created:
        AttributeValue.objects.bulk_create(created)
    if updated:
        AttributeValue.objects.bulk_update(updated, ["value_text", "value_number", "value_date"])
    changed = [row.document_id for row in entries if row.document_id is not None]
    if changed:
        Document.objects.filter(pk__in=changed).update(updated_at=timezone.now())
    done = AttributeWrite(len(entries), len(created) + len(updated), len(deleted))
    return done, entries


def _project_attributes(project_id: int) -> list[Attribute]:
    """The project's attributes, their rows locked in id order: a change of their choices
    or kind waits for the values being written, and the other way round."""
    return list(Attribute.objects.select_for_update().filter(project_id=project_id).order_by("pk"))


def attribute_values_set(
    *, user: User | None, document: Document, values: Mapping[str, Any]
) -> AttributeWrite:
    """Set some attributes of one document (its project's owners), all or none: `values`
    maps attribute slugs to what was typed (or a number, a date); an empty value clears.
    Refusals come per slug. Each document changed is an activity row."""
    project_for(user=user, project=document.project_id, action=Action.IMPORT)
    with transaction.atomic():
        attributes = _project_attributes(document.project_id)
        by_slug = {attribute.slug: attribute for attribute in attributes}
        errors: dict[str, list[str]] = {}
        changes = _Changes()
        for slug, raw in values.items():
            attribute = by_slug.get(slug)
            if attribute is None:
                known = ", ".join(by_slug) or "none yet"
                errors[slug] = [f"The project has no attribute {slug!r}; its attributes: {known}."]
                continue
            try:
                changes.add(document.pk, attribute, parse_value(attribute, raw))
            except ValidationError as exc:
                errors[slug] = exc.messages
        if errors:
            raise ValidationError(errors)
        done, entries = _apply(user, attributes, changes)
        log_all(entries)
    return done


# ---------------------------------------------------------------------------------------
# CSV


@dataclass(frozen=True)
class AttributeImport(AttributeWrite):
    """What a CSV upload did: rows read, and the choices it added (by attribute name)."""

    rows: int = 0
    choices_added: dict[str, list[str]] = field(default_factory=dict)


class _Refusals:
    """The refusals of a CSV file, in order: the first MAX_CSV_ERRORS, and a count."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_CSV_ERRORS:
            self.messages.append(message)

    def raise_any(self) -> None:
        if not self.count:
            return
        more = self.count - len(self.messages)
        tail = [f"… and {more} more."] if more else []
        raise ValidationError(
            [
                f"Nothing was saved: {self.count} problem{'s' if self.count != 1 else ''} to "
                "fix in the file.",
                *self.messages,
                *tail,
            ],
            code="invalid_csv",
        )


def _csv_text(data: bytes) -> str:
    if not data.strip():
        raise ValidationError(
            "The file is empty: download the template, fill it in and upload it.", code="empty"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The file is not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
            f"{exc.start}): save it as “CSV UTF-8” in Excel, or with the character set "
            "“Unicode (UTF-8)” in LibreOffice.",
            code="encoding",
        ) from None


def _delimiter(text: str) -> str:
    """The separator of the header line: a comma, or the semicolon or tab that
    spreadsheets use in some languages."""
    header = text.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _rows(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        raise ValidationError(
            f"Row {reader.line_num} cannot be read as CSV ({exc}): check its quotes.",
            code="malformed",
        ) from None
    return rows


def _cell(value: str) -> str:
    """A cell as typed: the template (as every export) escapes a leading = + - @ or '
    with an apostrophe for spreadsheets; one leading apostrophe off gives the value back."""
    return value[1:] if value.startswith("'") else value


@dataclass
class _Columns:
    """What the header says: how rows name their document, which column is which
    attribute."""

    by_title: bool
    attributes: dict[int, Attribute]
    names: list[str]


def _columns(header: list[str], attributes: list[Attribute], refusals: _Refusals) -> _Columns:
    names = [" ".join(name.split()) for name in header]
    first = _key(names[0]) if names else ""
    if first not in ("document_id", "title"):
        refusals.add(
            f"The first column must be document_id or title, not {names[0] if names else ''!r}: "
            "download the template to see the layout."
        )
        refusals.raise_any()
    by_title = first == "title"
    by_slug = {attribute.slug: attribute for attribute in attributes}
    by_name = {_key(attribute.name): attribute for attribute in attributes}
    columns: dict[int, Attribute] = {}
    unknown: list[str] = []
    seen: dict[int, str] = {}
    for index, name in enumerate(names[1:], start=1):
        if not name:
            refusals.add(
                f"Column {index + 1} has no name: name it after an attribute, or delete it."
            )
            continue
        if not by_title and _key(name) == "title":
            continue  # the template's reminder of which document a row is
        attribute = by_slug.get(name.lower()) or by_name.get(_key(name))
        if attribute is None:
            unknown.append(name)
        elif attribute.pk in seen:
            refusals.add(
                f"Columns {seen[attribute.pk]!r} and {name!r} are both the attribute "
                f"{attribute.name}: keep one."
            )
        else:
            seen[attribute.pk] = name
            columns[index] = attribute
    if unknown:
        known = (
            ", ".join(f"{attribute.slug} ({attribute.name})" for attribute in attributes)
            or "none: define them on the project's page first"
        )
        refusals.add(
            f"Unknown column{'s' if len(unknown) != 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)}: after the first column, each "
            f"column is an attribute of the project, by slug or name. They are: {known}."
        )
    if not columns and not unknown and not refusals.count:
        refusals.add("The file has no attribute columns: add a column per attribute to set.")
    refusals.raise_any()
    return _Columns(by_title, columns, names)


def _documents_of(project: Project, by_title: bool) -> dict[Any, list[int]]:
    """The project's documents by id or by title: one query."""
    found: dict[Any, list[int]] = {}
    for pk, title in Document.objects.filter(project=project).values_list("pk", "title"):
        found.setdefault(title if by_title else pk, []).append(pk)
    return found


def _row_document(
    row_number: int,
    cell: str,
    columns: _Columns,
    documents: dict[Any, list[int]],
    refusals: _Refusals,
) -> int | None:
    """The document a row is about, or None (refused)."""
    where = f"row {row_number}, column {columns.names[0]!r}"
    value = " ".join(_cell(cell).split())
    if not value:
        refusals.add(f"{where}: empty: say which document the row is about.")
        return None
    if columns.by_title:
        found = documents.get(value, [])
        if not found:
            refusals.add(
                f"{where}: no document of the project is titled {value!r} (the title must "
                "match exactly; or identify documents by document_id, as the template does)."
            )
            return None
        if len(found) > 1:
            ids = ", ".join(f"#{pk}" for pk in found)
            refusals.add(
                f"{where}: {len(found)} documents of the project are titled {value!r} ({ids}): "
                "identify the rows by document_id instead (the template has it)."
            )
            return None
        return found[0]
    if not value.isdigit() or len(value) > 18:
        refusals.add(f"{where}: {value!r} is not a document id (a whole number).")
        return None
    if int(value) not in documents:
        refusals.add(f"{where}: the project has no document #{value}.")
        return None
    return int(value)


def attributes_from_csv(
    *,
    user: User | None,
    project: Project | int,
    file: IO[bytes] | bytes,
    filename: str = "",
    add_choices: bool = False,
) -> AttributeImport:
    """Set the project's document attributes from a CSV file (its owners), all or none.

    The first column names the document: `document_id` (as the template has it, with an
    optional `title` column beside it, which is not read) or `title` (the exact title of
    one document of the project). Every other column is an attribute, by slug or name
    (case aside). A row per document; an empty cell clears the value; documents and
    attributes the file leaves out keep theirs. UTF-8, with or without a byte-order mark;
    commas, semicolons or tabs between cells. A choice attribute's values must be among
    its choices, unless `add_choices`: then new ones are added to its choices.

    Raises ValidationError listing every bad cell by row (the header is row 1, as a
    spreadsheet numbers it) and column; nothing is saved then.
    """
    into = project_for(user=user, project=project, action=Action.IMPORT)
    data = file if isinstance(file, bytes) else file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise ValidationError(
            f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it into "
            "several files of fewer rows.",
            code="too_large",
        )
    rows = _rows(_csv_text(data))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ValidationError(
            "The file has no header: its first line names the columns (document_id or "
            "title, then the attributes). Download the template to see the layout.",
            code="empty",
        )
    refusals = _Refusals()
    header = rows[0]
    while header and not header[-1].strip():  # empty columns a spreadsheet left at the end
        header = header[:-1]
    with transaction.atomic():
        attributes = _project_attributes(into.pk)
        columns = _columns(header, attributes, refusals)
        documents = _documents_of(into, columns.by_title)
        changes = _Changes()
        first_row: dict[int, int] = {}
        added: dict[int, list[str]] = {}
        count = 0
        width = len(header)
        for row_number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            count += 1
            if len(row) != width and not (
                len(row) > width and not any(cell.strip() for cell in row[width:])
            ):
                refusals.add(
                    f"row {row_number} has {len(row)} cells, the header {width}: give every "
                    "row one cell per column (an empty cell clears the value)."
                )
                continue
            document_id = _row_document(row_number, row[0], columns, documents, refusals)
            if document_id is None:
                continue
            if document_id in first_row:
                refusals.add(
                    f"row {row_number}: document #{document_id} is on row "
                    f"{first_row[document_id]} already: give each document one row."
                )
                continue
            first_row[document_id] = row_number
            for index, attribute in columns.attributes.items():
                try:
                    value = parse_value(attribute, _cell(row[index]), new_choices=add_choices)
                except ValidationError as exc:
                    message = exc.messages[0]
                    if exc.code == "unknown_choice":
                        message = message.replace(
                            "first.", "first, or upload with new choices allowed."
                        )
                    refusals.add(f"row {row_number}, column {columns.names[index]!r}: {message}")
                    continue
                if (
                    attribute.kind == AttributeKind.CHOICE
                    and value is not None
                    and value not in attribute.choices
                ):
                    new = added.setdefault(attribute.pk, [])
                    known = {_key(choice): choice for choice in new}
                    value = known.setdefault(_key(value), value)
                    if value not in new:
                        new.append(value)
                changes.add(document_id, attribute, value)
        if not count:
            refusals.add("The file has a header but no rows: add a row per document.")
        refusals.raise_any()
        choices_added = _add_choices(user, attributes, added)
        done, entries = _apply(user, attributes, changes)
        entries.append(
            entry(
                actor=user,
                action="attributes.import",
                obj=into,
                document_id=None,
                after={
                    "file": filename[:200],
                    "rows": count,
                    "documents": done.documents,
                    "set": done.values_set,
                    "cleared": done.values_cleared,
                    "choices_added": choices_added,
                },
            )
        )
        log_all(entries)
    return AttributeImport(
        done.documents, done.values_set, done.values_cleared, count, choices_added
    )


def _add_choices(
    user: User | None, attributes: list[Attribute], added: dict[int, list[str]]
) -> dict[str, list[str]]:
    """Append new values to the choices of their attributes (each an activity row)."""
    out: dict[str, list[str]] = {}
    for attribute in attributes:
        new = added.get(attribute.pk)
        if not new:
            continue
        before = _snapshot(attribute)
        attribute.choices = [*attribute.choices, *new]
        if len(attribute.choices) > MAX_CHOICES:
            raise ValidationError(
                f"{attribute.name} would have {len(attribute.choices)} choices: at most "
                f"{MAX_CHOICES}. Nothing was saved."
            )
        attribute.save(update_fields=["choices"])
        log(
            actor=user,
            action="attribute.update",
            obj=attribute,
            document_id=None,
            before=before,
            after=_snapshot(attribute),
        )
        out[attribute.name] = new
    return out
