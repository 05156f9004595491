"""What the API reads and writes: input serializers, output representations, filters.

Output for lists is built from `.values()` rows rather than model instances: a page of 1,000
annotations is then a couple of milliseconds of Python instead of tens. The serializers
declare their fields all the same, for the OpenAPI schema and for input validation.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, connections, models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.http import Http404
from django.urls import get_script_prefix, reverse
from rest_framework import serializers
from rest_framework.request import Request

from sco_annotate.lru import BoundedCache

from .models import (
    MAX_ID,
    MAX_OFFSET,
    Annotation,
    Document,
    DocumentType,
    Tag,
    read_list_tokens,
)

#: Longest filter text accepted in a query string.
MAX_FILTER_LENGTH = 500


def utc(value: datetime.datetime | None) -> str | None:
    """RFC 3339 / xsd:dateTime in UTC with a Z, with microseconds (cursors rely on them)."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _no_surrogates(value: str) -> None:
    # JSON may carry "\ud800" escapes; such text cannot be stored as UTF-8.
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise serializers.ValidationError(
            "Contains an unpaired UTF-16 surrogate (e.g. \\ud800): send valid Unicode text."
        )


class TextField(serializers.CharField):
    """Text as sent: not trimmed (offsets and quotes depend on every character)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators.append(_no_surrogates)

    def to_internal_value(self, data: Any) -> str:
        # DRF would turn 5 into "5"; a number where text belongs is a client's mistake.
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Must be text, not {type(data).__name__}.")
        return str(super().to_internal_value(data))


# ---------------------------------------------------------------------------------------
# Absolute URLs


_SENTINEL = "2147480000"


@dataclass(frozen=True)
class Links:
    """Absolute URLs of API resources, built once per request rather than once per row."""

    annotation_parts: tuple[str, str]
    document_parts: tuple[str, str]
    tag_parts: tuple[str, str]

    @classmethod
    def for_request(cls, request: Request) -> Links:
        # The same for every request to the same origin (ALLOWED_HOSTS keeps these few).
        key = (request.scheme, request.get_host(), get_script_prefix())
        found = _links.get(key)
        if found is None:

            def parts(name: str) -> tuple[str, str]:
                url = request.build_absolute_uri(reverse(name, args=[_SENTINEL]))
                head, tail = url.split(_SENTINEL)
                return head, tail

            found = cls(
                parts("api:annotation-detail"),
                parts("api:document-detail"),
                parts("api:tag-detail"),
            )
            if len(_links) < 64:  # ALLOWED_HOSTS with a wildcard admits any number of hosts
                _links[key] = found
        return found

    @cached_property
    def escaped(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """The annotation and document URL parts as they go inside a JSON string."""
        return (
            (_escape(self.annotation_parts[0]), _escape(self.annotation_parts[1])),
            (_escape(self.document_parts[0]), _escape(self.document_parts[1])),
        )

    @cached_property
    def digest(self) -> str:
        """A short digest of the origin these URLs name, for ETags of what holds them."""
        parts = "\n".join(self.annotation_parts + self.document_parts + self.tag_parts)
        return hashlib.sha256(parts.encode()).hexdigest()[:16]

    def annotation(self, pk: int) -> str:
        return f"{self.annotation_parts[0]}{pk}{self.annotation_parts[1]}"

    def document(self, pk: int) -> str:
        return f"{self.document_parts[0]}{pk}{self.document_parts[1]}"

    def tag(self, slug: str) -> str:
        return f"{self.tag_parts[0]}{slug}{self.tag_parts[1]}"


_links: dict[tuple[str | None, str, str], Links] = {}


def _escape(text: str) -> str:
    return json.encoder.encode_basestring(text)[1:-1]


def links(context: Mapping[str, Any]) -> Links:
    found = context.get("links")
    if found is None:
        raise RuntimeError("Serializer context needs 'links' (see Links.for_request).")
    assert isinstance(found, Links)
    return found


# ---------------------------------------------------------------------------------------
# Annotations

#: The columns an annotation is read with; `author` is the username. `created` and
#: `updated` are added as text by `annotation_values`, `tags` by `finish_rows`.
ANNOTATION_COLUMNS = (
    "id",
    "document_id",
    "start",
    "end",
    "quote",
    "prefix",
    "suffix",
    "note",
    "author__username",
    "version",
    "deleted_at",
)


def annotation_values(queryset: Any, *extra: str) -> Any:
    """`queryset.values()` of the annotation columns, timestamps read as text.

    Turning a timestamptz into an aware datetime costs psycopg and Django about 5 µs, more
    than the rest of the row; the API prints them as text anyway. `finish_rows` turns the
    database's text into RFC 3339.
    """
    return queryset.values(
        *ANNOTATION_COLUMNS,
        *extra,
        created_text=Cast("created", output_field=models.TextField()),
        updated_text=Cast("updated", output_field=models.TextField()),
    )


def fetch_values(queryset: Any) -> list[dict[str, Any]]:
    """The rows of a `.values()` queryset (see `annotation_values`), fetched in one go.

    Django's row iterator (chunks of 100, a dict built per row, converters) costs several
    times the query itself for a page of 1,000; the SQL is the ORM's all the same. Only for
    columns that need no conversion from the database: numbers, text and a `deleted_at`
    that is only compared with None (SQLite gives it as text).
    """
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rfc3339(value: Any) -> str:
    """A timestamp read as text ('2026-11-22 16:27:37.5+00' from PostgreSQL in UTC,
    '2026-11-22 16:27:37.500000' from SQLite) as '2026-11-22T16:27:37.500000Z'."""
    if isinstance(value, datetime.datetime):
        return utc(value) or ""
    text = str(value)
    if len(text) == 29 and text[19] == "." and text.endswith("+00"):
        # PostgreSQL's usual form, with all six digits: the quick way.
        return f"{text[:10]}T{text[11:26]}Z"
    seconds, _, fraction = (text[:-3] if text.endswith("+00") else text).partition(".")
    if (
        len(seconds) == 19
        and seconds[10] in " T"
        and len(fraction) <= 6
        and (not fraction or fraction.isdigit())
    ):
        return f"{seconds[:10]}T{seconds[11:]}.{fraction:0<6}Z"
    # Not one of the UTC forms above: let Python read it (naive means UTC, as Django
    # stores it).
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return utc(parsed) or ""


def _tag_pairs(ids: list[int]) -> list[tuple[int, str]]:
    """(annotation id, tag slug) of these annotations, in codebook order."""
    through = Annotation.tags.through
    if connection.vendor == "postgresql":
        # One array parameter: PostgreSQL plans a list of 1,000 literals (as the ORM's
        # __in sends them) slower than it runs the whole query.
        link = connection.ops.quote_name(through._meta.db_table)
        tag = connection.ops.quote_name(Tag._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT l.annotation_id, t.slug FROM {link} l JOIN {tag} t ON t.id = l.tag_id "
                "WHERE l.annotation_id = ANY(%s::bigint[]) ORDER BY t.sort_order, t.name",
                # As an array literal: psycopg would quote a list number by number.
                ["{" + ",".join(map(str, ids)) + "}"],
            )
            return cursor.fetchall()
    return list(
        through.objects.filter(annotation_id__in=ids)
        .order_by("tag__sort_order", "tag__name")
        .values_list("annotation_id", "tag__slug")
    )


def finish_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of `annotation_values` made whole: RFC 3339 timestamps and tag slugs (one query)."""
    by_id: dict[int, list[str]] = {}
    for row in rows:
        by_id[row["id"]] = row["tags"] = []
        row["created"] = rfc3339(row.pop("created_text"))
        row["updated"] = rfc3339(row.pop("updated_text"))
    if by_id:
        for annotation_id, slug in _tag_pairs(list(by_id)):
            by_id[annotation_id].append(slug)
    return rows


def annotation_row(annotation: Annotation) -> dict[str, Any]:
    """The row of one annotation instance (author selected with it), tags included: from
    its `tag_list` when the services attached one, else read (one query)."""
    row = {name: getattr(annotation, name) for name in ANNOTATION_COLUMNS if "__" not in name}
    row["author__username"] = annotation.author.username
    tags = getattr(annotation, "tag_list", None)
    if tags is None:
        row["created_text"], row["updated_text"] = annotation.created, annotation.updated
        return finish_rows([row])[0]
    row["tags"] = [tag.slug for tag in tags]
    row["created"], row["updated"] = rfc3339(annotation.created), rfc3339(annotation.updated)
    return row


class AnnotationSerializer(serializers.Serializer):
    """A tagged span. Deleted ones (with `include_deleted`) are tombstones: `deleted: true`
    with only `id`, `url`, `document`, `document_url`, `updated` and `version`."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    document = serializers.IntegerField(read_only=True)
    document_url = serializers.URLField(read_only=True)
    start = serializers.IntegerField(
        read_only=True, help_text="First code point of the span (Unicode code points)."
    )
    end = serializers.IntegerField(
        read_only=True, help_text="Code point after the last one of the span."
    )
    quote = serializers.CharField(read_only=True, help_text="text[start:end]")
    prefix = serializers.CharField(read_only=True, help_text="Up to 32 code points before.")
    suffix = serializers.CharField(read_only=True, help_text="Up to 32 code points after.")
    tags = serializers.ListField(child=serializers.SlugField(), read_only=True)
    note = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True, help_text="Username of the analyst.")
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True, help_text="Raised by one on every change.")
    deleted = serializers.BooleanField(read_only=True)

    @cached_property
    def urls(self) -> Links:
        # Once per serializer: `context` walks up to the root serializer on every access.
        return links(self.context)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        row: dict[str, Any] = instance
        urls = self.urls
        if row["deleted_at"] is not None:
            return {
                "id": row["id"],
                "url": urls.annotation(row["id"]),
                "document": row["document_id"],
                "document_url": urls.document(row["document_id"]),
                "updated": row["updated"],
                "version": row["version"],
                "deleted": True,
            }
        return {
            "id": row["id"],
            "url": urls.annotation(row["id"]),
            "document": row["document_id"],
            "document_url": urls.document(row["document_id"]),
            "start": row["start"],
            "end": row["end"],
            "quote": row["quote"],
            "prefix": row["prefix"],
            "suffix": row["suffix"],
            "tags": row["tags"],
            "note": row["note"],
            "author": row["author__username"],
            "created": row["created"],
            "updated": row["updated"],
            "version": row["version"],
            "deleted": False,
        }


#: json.dumps for one str (the C function behind it), without the call's set-up cost.
_json_str = json.encoder.encode_basestring


def annotation_json(row: dict[str, Any], urls: Links) -> str:
    """`AnnotationSerializer().to_representation(row)` as compact JSON text, built directly.

    A page of 1,000 or an export of a million is mostly this function: formatting the
    fields into a template costs much less than building a dict and encoding it. The tests
    check that both give the same object.
    """
    if row["deleted_at"] is not None:
        return json.dumps(
            AnnotationSerializer(context={"links": urls}).to_representation(row),
            ensure_ascii=False,
            separators=(",", ":"),
        )
    return _live_annotation_json(
        urls,
        row["id"],
        row["document_id"],
        row["start"],
        row["end"],
        row["quote"],
        row["prefix"],
        row["suffix"],
        ",".join(map(_json_str, row["tags"])),
        row["note"],
        row["author__username"],
        row["created"],
        row["updated"],
        row["version"],
    )


def _live_annotation_json(
    urls: Links,
    pk: int,
    document: int,
    start: int,
    end: int,
    quote: str,
    prefix: str,
    suffix: str,
    tags: str,
    note: str,
    author: str,
    created: str,
    updated: str,
    version: int,
) -> str:
    """The template of annotation_json, from the values (`tags` as JSON strings joined by
    commas, timestamps in RFC 3339)."""
    (annotation_head, annotation_tail), (document_head, document_tail) = urls.escaped
    return (
        f'{{"id":{pk},"url":"{annotation_head}{pk}{annotation_tail}","document":{document},'
        f'"document_url":"{document_head}{document}{document_tail}",'
        f'"start":{start},"end":{end},"quote":{_json_str(quote)},'
        f'"prefix":{_json_str(prefix)},"suffix":{_json_str(suffix)},'
        f'"tags":[{tags}],"note":{_json_str(note)},'
        # Timestamps are rfc3339()'s digits and punctuation: nothing to escape.
        f'"author":{_json_str(author)},"created":"{created}",'
        f'"updated":"{updated}","version":{version},"deleted":false}}'
    )


#: How many bytes of formatted lists each process keeps (see document_annotations_body).
LIST_CACHE_BYTES = 64 * 2**20
_lists: BoundedCache[tuple[int, str, str, Links], bytes] = BoundedCache(LIST_CACHE_BYTES, len)

#: The version of the list's representation, part of its ETag. Raise it with any change to
#: what the list's JSON holds or how it writes a value, and with any migration that changes
#: stored values without a statement the list tokens' triggers see (ALTER COLUMN ... USING):
#: a client's ETag outlives the process that issued it, and would be answered 304.
LIST_FORMAT = 1

ListTokens = tuple[str | None, str | None]


def document_annotations_body(
    document_id: int, tokens: ListTokens, urls: Links, limit: int
) -> tuple[bytes | None, ListTokens]:
    """The API's JSON answer listing the live annotations of one document (None if it has
    more than `limit` of them), and the ListTokens that name exactly that list ((None,
    None) where none do). `tokens` are those read when the caller checked that the user
    may read the document (models.list_tokens). Raises Http404 if the document is deleted
    meanwhile.

    The answer is kept in this process under its tokens and URL prefixes: a client that
    anchors highlights reads the same long list again and again, and formatting thousands
    of annotations costs several times as much as sending them. The tokens change in the
    same transaction as anything the list shows, so a kept list is served only while it
    is current. A list without both tokens (see list_tokens) is formatted each time.

    A list is formatted afresh in one read-only REPEATABLE READ transaction that reads its
    tokens again: the tokens, the rows and their tags are then one committed state,
    whatever is written meanwhile, and only such a list is kept or given tokens. Where
    that transaction cannot be opened (SQLite, or a transaction already open, as in tests
    or with ATOMIC_REQUESTS) the list is formatted from what each statement sees, and
    neither kept nor named.
    """
    key = _list_key(document_id, tokens, urls)
    if key is not None:
        cached = _lists.get(key)
        if cached is not None:
            return cached, tokens
    with _one_snapshot() as consistent:
        read = read_list_tokens(document_id)
        if read is None:
            raise Http404("No Document matches the given query.")
        rows, tag_rows = _document_annotation_rows(document_id, limit)
    tokens = read if consistent else (None, None)
    if len(rows) > limit:
        return None, tokens
    body = list_body(document_id, urls, rows, tag_rows)
    key = _list_key(document_id, tokens, urls)
    if key is not None:
        _lists.put(key, body)
    return body, tokens


def _list_key(
    document_id: int, tokens: ListTokens, urls: Links
) -> tuple[int, str, str, Links] | None:
    own, every = tokens
    return None if own is None or every is None else (document_id, own, every, urls)


@contextmanager
def _one_snapshot() -> Iterator[bool]:
    """A read-only REPEATABLE READ transaction on PostgreSQL, whose statements all see one
    committed state; yields whether it could be opened (not on SQLite, nor where a
    transaction is open already: its isolation can no longer be set)."""
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or not connection.get_autocommit()
    ):
        yield False
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield True


def _document_annotation_rows(
    document_id: int, limit: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of one document's live annotations in text order (at most limit + 1, so
    that the caller can tell when there are more) and the rows of their tags; none of the
    tags if there are too many annotations. Written-out statements: the API's answer for
    a client that anchors a document's highlights reads thousands of rows. The caller has
    checked that the user may read the document.
    """
    with connection.cursor() as cursor:
        cursor.execute(_DOCUMENT_ANNOTATIONS, [document_id, limit + 1])
        rows = cursor.fetchall()
        if len(rows) > limit:
            return rows, []
        # The tags of all the document's annotations, deleted ones too: outside a snapshot
        # one deleted or created between the statements then still gets its tags, or is
        # left out. Each tag comes with its place in the codebook, and list_body puts
        # them in that order: sorting thousands of rows by tag name in the database's
        # collation costs more than the rest of the query.
        cursor.execute(_DOCUMENT_ANNOTATION_TAGS, [document_id])
        return rows, cursor.fetchall()


def list_body(
    document_id: int,
    urls: Links,
    rows: list[tuple[Any, ...]],
    tag_rows: list[tuple[Any, ...]],
) -> bytes:
    """One document's list as JSON, from the rows of _DOCUMENT_ANNOTATIONS and
    _DOCUMENT_ANNOTATION_TAGS: each annotation as annotation_json writes it, formatted
    straight from the database's tuples (half the cost of the ORM's rows and a dict each).
    What it writes is pinned by a test, with LIST_FORMAT."""
    escaped: dict[str, str] = {}
    placed: dict[int, list[tuple[int, str]]] = {}
    for annotation_id, slug, place in tag_rows:
        text = escaped.get(slug)
        if text is None:
            text = escaped[slug] = _json_str(slug)
        placed.setdefault(annotation_id, []).append((place, text))
    tags = {pk: ",".join(slug for _, slug in sorted(entries)) for pk, entries in placed.items()}
    items = ",".join(
        [
            _live_annotation_json(
                urls,
                pk,
                document_id,
                start,
                end,
                quote,
                prefix,
                suffix,
                tags.get(pk, ""),
                note,
                author,
                rfc3339(created),
                rfc3339(updated),
                version,
            )
            for (
                pk,
                start,
                end,
                quote,
                prefix,
                suffix,
                note,
                author,
                version,
                created,
                updated,
            ) in rows
        ]
    )
    document_url = json.dumps(urls.document(document_id))
    return (
        f'{{"document":{document_id},"document_url":{document_url},'
        f'"count":{len(rows)},"results":[{items}]}}'
    ).encode()


_DOCUMENT_ANNOTATIONS = """
SELECT a."id", a."start", a."end", a."quote", a."prefix", a."suffix", a."note",
    u."username", a."version", CAST(a."created" AS text), CAST(a."updated" AS text)
FROM "documents_annotation" a JOIN "auth_user" u ON u."id" = a."author_id"
WHERE a."document_id" = %s AND a."deleted_at" IS NULL
ORDER BY a."start", a."end", a."id"
LIMIT %s
"""
_DOCUMENT_ANNOTATION_TAGS = """
SELECT l."annotation_id", t."slug", t."place"
FROM "documents_annotation_tags" l
JOIN "documents_annotation" a ON a."id" = l."annotation_id"
JOIN (
    SELECT "id", "slug", row_number() OVER (ORDER BY "sort_order", "name") AS "place"
    FROM "documents_tag"
) t ON t."id" = l."tag_id"
WHERE a."document_id" = %s
"""


class DocumentAnnotationsSerializer(serializers.Serializer):
    """Every annotation of one document, in text order."""

    document = serializers.IntegerField(read_only=True)
    document_url = serializers.URLField(read_only=True)
    count = serializers.IntegerField(read_only=True)
    results = AnnotationSerializer(many=True, read_only=True)


class NoParameters(serializers.Serializer):
    """An endpoint that takes no query parameters (but `format`)."""


class AnnotationCreateSerializer(serializers.Serializer):
    document = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    start = serializers.IntegerField(
        min_value=0, max_value=MAX_OFFSET, help_text="In Unicode code points."
    )
    end = serializers.IntegerField(
        min_value=1, max_value=MAX_OFFSET, help_text="In Unicode code points, excluded."
    )
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=100), allow_empty=False, max_length=100
    )
    note = TextField(required=False, allow_blank=True, default="", max_length=100_000)
    quote = TextField(
        required=False,
        max_length=10_000_000,
        help_text="Optional; when given it must equal text[start:end].",
    )


class AnnotationUpdateSerializer(serializers.Serializer):
    start = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)
    end = serializers.IntegerField(required=False, min_value=1, max_value=MAX_OFFSET)
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        allow_empty=False,
        max_length=100,
        required=False,
    )
    note = TextField(required=False, allow_blank=True, max_length=100_000)
    quote = TextField(required=False, max_length=10_000_000)


class AnnotationFilterSerializer(serializers.Serializer):
    """Query-string filters of the annotation list and the exports."""

    document = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="A document id."
    )
    tag = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        required=False,
        help_text="Tag slug; repeat for any of several. A parent tag includes its children.",
    )
    author = serializers.CharField(
        required=False, max_length=150, help_text="Username of the analyst."
    )
    created_after = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(
        required=False, help_text="For incremental sync: changed (or deleted) after this time."
    )
    q = serializers.CharField(
        required=False, max_length=MAX_FILTER_LENGTH, help_text="Text in the quote or the note."
    )
    include_deleted = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Return deleted annotations too, as tombstones with deleted: true.",
    )

    def validate_tag(self, value: list[str]) -> list[str]:
        known = set(Tag.objects.filter(slug__in=value).values_list("slug", flat=True))
        unknown = [slug for slug in dict.fromkeys(value) if slug not in known]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown tag: {', '.join(unknown)}. GET /api/v1/tags/ lists the slugs."
            )
        return value

    def validate_author(self, value: str) -> str:
        if not get_user_model().objects.filter(username=value).exists():
            raise serializers.ValidationError(f"There is no user named {value!r}.")
        return value

    def validate_document(self, value: int) -> int:
        user = self.context["request"].user
        if not Document.objects.visible_to(user).filter(pk=value).exists():
            raise serializers.ValidationError(f"There is no document #{value} that you can read.")
        return value

    def filter(self, queryset: Any) -> Any:
        """Apply the validated filters to an annotation queryset."""
        data = self.validated_data
        if not data.get("include_deleted"):
            queryset = queryset.alive()
        if "document" in data:
            queryset = queryset.filter(document_id=data["document"])
        if data.get("tag"):
            queryset = queryset.tagged(*data["tag"])
        if "author" in data:
            queryset = queryset.filter(author__username=data["author"])
        if "created_after" in data:
            queryset = queryset.filter(created__gt=data["created_after"])
        if "updated_after" in data:
            queryset = queryset.filter(updated__gt=data["updated_after"])
        if data.get("q"):
            queryset = queryset.filter(Q(quote__icontains=data["q"]) | Q(note__icontains=data["q"]))
        return queryset


# ---------------------------------------------------------------------------------------
# Documents and the codebook

DOCUMENT_COLUMNS = (
    "id",
    "title",
    "organisation",
    "author",
    "source_url",
    "published",
    "date_precision",
    "language",
    "document_type",
    "notes",
    "length",
    "sha256",
    "imported_at",
    "updated_at",
)


class DocumentSerializer(serializers.Serializer):
    """A document without its text (lists)."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    title = serializers.CharField(read_only=True)
    organisation = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True)
    source_url = serializers.CharField(read_only=True)
    published = serializers.DateField(read_only=True, allow_null=True)
    date_precision = serializers.CharField(
        read_only=True, help_text="day, month or year: how much of `published` is known."
    )
    language = serializers.CharField(read_only=True, help_text="BCP 47 tag.")
    document_type = serializers.ChoiceField(choices=DocumentType.choices, read_only=True)
    notes = serializers.CharField(read_only=True)
    length = serializers.IntegerField(read_only=True, help_text="In Unicode code points.")
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the UTF-8 encoded text.")
    annotations_url = serializers.URLField(read_only=True)
    imported_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        row: Mapping[str, Any] = (
            instance if isinstance(instance, Mapping) else _document_values(instance)
        )
        urls = links(self.context)
        published = row["published"]
        out = {
            "id": row["id"],
            "url": urls.document(row["id"]),
            "title": row["title"],
            "organisation": row["organisation"],
            "author": row["author"],
            "source_url": row["source_url"],
            "published": published.isoformat() if published else None,
            "date_precision": row["date_precision"],
            "language": row["language"],
            "document_type": row["document_type"],
            "notes": row["notes"],
            "length": row["length"],
            "sha256": row["sha256"],
            "annotations_url": self.context["annotations_url"] + f"?document={row['id']}",
            "imported_at": utc(row["imported_at"]),
            "updated_at": utc(row["updated_at"]),
        }
        return out


def _document_values(document: Document) -> dict[str, Any]:
    return {name: getattr(document, name) for name in DOCUMENT_COLUMNS}


class DocumentDetailSerializer(DocumentSerializer):
    """A document with its normalised text, the text the offsets count in."""

    text = serializers.CharField(read_only=True)
    page_breaks = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Offsets at which pages 2, 3, … begin, for paged sources.",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        out = super().to_representation(instance)
        out["text"] = instance.text
        out["page_breaks"] = instance.page_breaks
        return out


class DocumentFilterSerializer(serializers.Serializer):
    language = serializers.CharField(required=False, max_length=35, help_text="BCP 47 tag.")
    organisation = serializers.CharField(required=False, max_length=300)
    document_type = serializers.ChoiceField(required=False, choices=DocumentType.choices)
    published_after = serializers.DateField(required=False, help_text="On or after this day.")
    published_before = serializers.DateField(required=False, help_text="On or before this day.")
    q = serializers.CharField(
        required=False, max_length=MAX_FILTER_LENGTH, help_text="In the title."
    )

    def filter(self, queryset: Any) -> Any:
        data = self.validated_data
        for name in ("language", "organisation", "document_type"):
            if name in data:
                queryset = queryset.filter(**{name: data[name]})
        if "published_after" in data:
            queryset = queryset.filter(published__gte=data["published_after"])
        if "published_before" in data:
            queryset = queryset.filter(published__lte=data["published_before"])
        if data.get("q"):
            queryset = queryset.filter(title__icontains=data["q"])
        return queryset


class _MetadataFields(serializers.Serializer):
    organisation = TextField(required=False, allow_blank=True, max_length=300)
    author = TextField(required=False, allow_blank=True, max_length=300)
    source_url = TextField(required=False, allow_blank=True, max_length=2000)
    published = TextField(
        required=False, allow_blank=True, max_length=10, help_text="YYYY-MM-DD, YYYY-MM or YYYY."
    )
    date_precision = serializers.ChoiceField(
        required=False, allow_blank=True, choices=["day", "month", "year"]
    )
    language = TextField(required=False, allow_blank=True, max_length=35, help_text="BCP 47 tag.")
    document_type = serializers.ChoiceField(required=False, choices=DocumentType.choices)
    notes = TextField(required=False, allow_blank=True, max_length=100_000)


class DocumentCreateSerializer(_MetadataFields):
    """A document sent as JSON: its title, its text and what else is known about it."""

    title = TextField(max_length=500)
    text = TextField(max_length=50_000_000)


class DocumentUploadSerializer(_MetadataFields):
    """A document sent as a file (multipart/form-data), with metadata fields beside it."""

    file = serializers.FileField()
    title = TextField(required=False, allow_blank=True, max_length=500)


class TagSerializer(serializers.Serializer):
    """An entry of the codebook."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    definition = serializers.CharField(read_only=True)
    colour = serializers.CharField(read_only=True, help_text="#rrggbb")
    # A field named like Field.parent: DRF's metaclass moves it into `fields`, so the
    # attribute itself is never shadowed at run time.
    parent = serializers.SlugField(  # type: ignore[assignment]
        read_only=True, allow_null=True, help_text="Parent's slug."
    )
    is_active = serializers.BooleanField(
        read_only=True, help_text="Retired tags stay on old passages but cannot be applied."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        tag: Tag = instance
        return {
            "id": tag.pk,
            "url": links(self.context).tag(tag.slug),
            "slug": tag.slug,
            "name": tag.name,
            "definition": tag.definition,
            "colour": tag.colour,
            "parent": tag.parent.slug if tag.parent else None,
            "is_active": tag.is_active,
        }


def django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as {field: [messages]} (`non_field_errors` for the rest)."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}
