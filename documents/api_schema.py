"""What the OpenAPI schema says beyond the serializers the API validates input with.

Generated clients (openapi-python-client, openapi-generator, openapi-typescript) build
their types from the schema alone, so it has to name every shape an answer can take:

- a live annotation and a tombstone are two schemas, told apart by `deleted`, and an item
  of a list (or the single GET, or a line of the JSON Lines export) is `oneOf` the two, the
  live one first (openapi-python-client tries the members in order: a tombstone lacks the
  live one's required fields, so it falls through to the second);
- every refusal is an `Error` (or a `VersionConflict` / `DuplicateDocument` for 409 and
  412), as JSON;
- the W3C representation (JSON-LD) and the exports have schemas of their own;
- the headers that make requests conditional or safe to retry, and those sent back.

The schema-only serializers here are never used to read or write data.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from .serializers import AnnotationSerializer

JSON = "application/json"
JSONLD = "application/ld+json"


# ---------------------------------------------------------------------------------------
# Annotations and tombstones


@extend_schema_field({"type": "boolean", "enum": [False], "readOnly": True})
class _Live(serializers.BooleanField):
    pass


@extend_schema_field({"type": "boolean", "enum": [True], "readOnly": True})
class _Deleted(serializers.BooleanField):
    pass


@extend_schema_serializer(component_name="Annotation")
class LiveAnnotationSchema(AnnotationSerializer):
    """A tagged span (not deleted): every field is always present."""

    deleted = _Live(read_only=True)


@extend_schema_serializer(component_name="AnnotationTombstone")
class TombstoneSchema(serializers.Serializer):
    """A deleted annotation, as lists with include_deleted=true, the single GET and the JSON
    Lines export return it: what a client keeping a copy needs to drop its own."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    document = serializers.IntegerField(read_only=True)
    document_url = serializers.URLField(read_only=True)
    updated = serializers.DateTimeField(read_only=True, help_text="When it was deleted.")
    version = serializers.IntegerField(read_only=True)
    deleted = _Deleted(read_only=True)


def annotation_or_tombstone(*, many: bool = False) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name="AnnotationOrTombstone",
        serializers=[LiveAnnotationSchema, TombstoneSchema],
        # `deleted` is a boolean, which an OpenAPI discriminator cannot be: the two are
        # told apart by its enum and by the live one's required fields.
        resource_type_field_name=None,
        many=many,
    )


@extend_schema_serializer(component_name="DocumentAnnotations")
class DocumentAnnotationsSchema(serializers.Serializer):
    """Every live annotation of one document, in text order."""

    document = serializers.IntegerField(read_only=True)
    document_url = serializers.URLField(read_only=True)
    count = serializers.IntegerField(read_only=True)
    results = LiveAnnotationSchema(many=True, read_only=True)


# ---------------------------------------------------------------------------------------
# Components written out: errors and the W3C representation

_MESSAGES = {"type": "array", "items": {"type": "string"}}

_DOCUMENT_NAMED = {
    "type": "object",
    "required": ["id", "url", "title"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
    },
}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": (
            "A refusal. `detail` says what went wrong; bad input names each field (or "
            "query parameter, or header) with what to fix instead, `non_field_errors` "
            "for the rest. A list field's messages may be keyed by the item's index."
        ),
        "properties": {"detail": {"type": "string"}, "non_field_errors": _MESSAGES},
        "additionalProperties": {
            "anyOf": [_MESSAGES, {"type": "object", "additionalProperties": _MESSAGES}]
        },
    },
    "VersionConflict": {
        "type": "object",
        "description": "The annotation is not in the state the request expected.",
        "required": ["detail", "current_version"],
        "properties": {
            "detail": {"type": "string"},
            "current_version": {"type": "integer", "nullable": True},
        },
    },
    "DuplicateDocument": {
        "type": "object",
        "description": (
            "The text is stored already: as `document` for one document sent; for an array, "
            "`duplicates` names each position (from 0) whose text is stored already "
            "(`document`) or sent earlier in the same array (`same_as`, that position)."
        ),
        "required": ["detail"],
        "properties": {
            "detail": {"type": "string"},
            "document": _DOCUMENT_NAMED,
            "duplicates": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"document": _DOCUMENT_NAMED, "same_as": {"type": "integer"}},
                },
            },
        },
    },
    "WebAnnotation": {
        "type": "object",
        "description": (
            "A W3C Web Annotation (https://www.w3.org/TR/annotation-model/): a body per tag "
            "(its codebook entry) and one for the note, a target with a TextQuoteSelector "
            "and a TextPositionSelector (code points). Inside a page it has no @context."
        ),
        "required": ["id", "type", "motivation", "creator", "created", "modified", "body"],
        "properties": {
            "@context": {"type": "string", "format": "uri"},
            "id": {"type": "string", "format": "uri"},
            "type": {"type": "string", "enum": ["Annotation"]},
            "motivation": {"type": "string"},
            "creator": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "nickname": {"type": "string"},
                    "name": {"type": "string"},
                },
            },
            "created": {"type": "string", "format": "date-time"},
            "modified": {"type": "string", "format": "date-time"},
            "body": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {"type": "string"},
                        "source": {"type": "string", "format": "uri"},
                        "value": {"type": "string"},
                        "format": {"type": "string"},
                        "purpose": {"type": "string"},
                    },
                },
            },
            "target": {
                "type": "object",
                "required": ["type", "source", "selector"],
                "properties": {
                    "type": {"type": "string"},
                    "source": {"type": "string", "format": "uri"},
                    "selector": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type"],
                            "properties": {
                                "type": {"type": "string"},
                                "exact": {"type": "string"},
                                "prefix": {"type": "string"},
                                "suffix": {"type": "string"},
                                "start": {"type": "integer"},
                                "end": {"type": "integer"},
                            },
                        },
                    },
                },
            },
        },
    },
    "WebAnnotationPage": {
        "type": "object",
        "description": (
            "A W3C AnnotationPage; `partOf` is the AnnotationCollection it belongs to, "
            "`next` and `prev` link the neighbouring pages."
        ),
        "required": ["@context", "id", "type", "partOf", "items"],
        "properties": {
            "@context": {"type": "string", "format": "uri"},
            "id": {"type": "string", "format": "uri"},
            "type": {"type": "string", "enum": ["AnnotationPage"]},
            "partOf": {
                "type": "object",
                "required": ["id", "type", "total"],
                "properties": {
                    "id": {"type": "string", "format": "uri"},
                    "type": {"type": "string", "enum": ["AnnotationCollection"]},
                    "label": {"type": "string"},
                    "total": {"type": "integer"},
                    "first": {"type": "string", "format": "uri"},
                },
            },
            "items": {"type": "array"},  # of WebAnnotation, filled in by the extension
            "next": {"type": "string", "format": "uri"},
            "prev": {"type": "string", "format": "uri"},
        },
    },
}


class WrittenOut(serializers.Serializer):
    """A schema-only serializer that stands for the component of its class's name in
    COMPONENTS. Never a list (a list view's JSON-LD page is one object, not a page of
    pages)."""


class _WrittenOutExtension(OpenApiSerializerExtension):
    target_class = WrittenOut
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        target = self.target
        name = (target if isinstance(target, type) else type(target)).__name__
        # A copy: drf-spectacular's enum hook rewrites the schemas it is given.
        schema = copy.deepcopy(COMPONENTS[name])
        if name == "WebAnnotationPage":
            # Register the item component too (a $ref written out is not followed).
            item = auto_schema.resolve_serializer(WebAnnotation, direction)
            schema["properties"]["items"] = {"type": "array", "items": item.ref}
        return schema


def _written_out(name: str) -> type[WrittenOut]:
    return extend_schema_serializer(many=False)(type(name, (WrittenOut,), {}))


Error = _written_out("Error")
VersionConflict = _written_out("VersionConflict")
DuplicateDocument = _written_out("DuplicateDocument")
WebAnnotation = _written_out("WebAnnotation")
WebAnnotationPage = _written_out("WebAnnotationPage")

WEB_ANNOTATION = OpenApiResponse(WebAnnotation, description="A W3C Web Annotation.")
WEB_ANNOTATION_PAGE = OpenApiResponse(WebAnnotationPage, description="A W3C AnnotationPage.")

_MEANING = {
    400: "Bad input: a message per field (or non_field_errors / detail) says what to fix.",
    401: "No credentials, or a bad or revoked token.",
    403: "Not allowed: a read-only token writing, someone else's annotation, or a project "
    "that requires a second factor this request has not given (the message says what to do).",
    404: "No such object, or not one you can read.",
    409: "Conflict: a change raced with another, or the annotation is not deleted.",
    412: "If-Match names a version that is no longer current.",
    422: "The Idempotency-Key was used before with a different request body.",
}


def errors(*codes: int, media_types: tuple[str, ...] = (JSON,)) -> dict[Any, Any]:
    """Error answers for `responses=`: JSON bodies, in each media type the view may answer
    with (a view that renders JSON-LD sends its errors as application/ld+json when asked)."""
    out: dict[Any, Any] = {}
    for code in codes:
        schema = VersionConflict if code in (409, 412) else Error
        for media_type in media_types:
            out[(code, media_type)] = OpenApiResponse(schema, description=_MEANING[code])
    return out


DUPLICATE_DOCUMENT = OpenApiResponse(
    DuplicateDocument, description="The text is already stored, as `document`."
)


# ---------------------------------------------------------------------------------------
# Headers

_ETAG_PATTERN = r'(W/)?"[0-9]{1,18}(-jsonld)?"'

IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": rf"^(\*|{_ETAG_PATTERN}(, *{_ETAG_PATTERN})*)$"},
    location=OpenApiParameter.HEADER,
    description=(
        'The ETag of the annotation as received (e.g. "3"): the request is refused with '
        "412 if the annotation has changed since. Without it, a change that races with "
        "another is refused with 409."
    ),
)

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description="The ETag of a list received before: 304 if it is still current.",
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
    location=OpenApiParameter.HEADER,
    description=(
        "Any unique text (1 to 255 printable ASCII characters, e.g. a UUID) that makes the "
        "request safe to retry: within 24 hours, the same key with the same body answers "
        "the annotation it created (201, same Location) instead of creating another; with "
        "a different body it is refused with 422. Keys are per user."
    ),
)


def etag(*codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=list(codes),
        description='The annotation\'s version, e.g. "3": send it back in If-Match.',
    )


def location(*codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Location",
        OpenApiTypes.URI,
        location=OpenApiParameter.HEADER,
        response=list(codes),
        description="The annotation's URL.",
    )
